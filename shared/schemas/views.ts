import { z } from 'zod';
import {
  AUDIT_EVENT_TYPES,
  CREDENTIAL_TYPES,
  KEY_ENVIRONMENTS,
  KEY_REQUEST_ACTIONS,
  KEY_TYPES,
  PLANS,
  REVOKED_REASONS,
  WEBHOOK_EVENT_TYPES,
} from '../domain';
import {
  amount,
  applicationView,
  count,
  EXAMPLE_ACCESS_TOKEN,
  EXAMPLE_DISPLAY_PREFIX,
  EXAMPLE_KEY,
  EXAMPLE_REQUEST_ID,
  idOf,
  keyLabelView,
  problemExample,
  shown,
  slugView,
  timestamp,
} from './examples';
import { leakedKeyPolicySchema } from './secret-scanning';
import { OAUTH_ERRORS, TOKEN_TYPE_ACCESS_TOKEN } from '../oauth/token-request';

/**
 * Response bodies of the API, as zod schemas. Handlers build their bodies with the mappers
 * below; the OpenAPI document is generated from the same schemas.
 */

export const actorView = z.object({
  type: z.enum(['user', 'key', 'system']),
  id: shown('user_8f14e45f'),
  name: shown('Ada Lovelace'),
});

export const keyView = z
  .object({
    id: idOf('key'),
    displayPrefix: shown(EXAMPLE_DISPLAY_PREFIX).describe(
      'The key masked: prefix and slug, then the first and last 4 characters of its secret',
    ),
    label: keyLabelView,
    application: applicationView,
    type: z.enum(KEY_TYPES),
    environment: z.enum(KEY_ENVIRONMENTS),
    status: z.enum(['active', 'revoked']),
    createdAt: timestamp,
    createdBy: actorView,
    lastUsedAt: timestamp.nullable().describe('Start of the last hour the key was used in'),
    stale: z.boolean().describe('Active, and unused for 30 days (or never used since its creation 30 days ago)'),
    rateLimit: z
      .object({ requestsPerSecond: amount(50), burst: count(100) })
      .nullable()
      .describe("The key's own limit; null: its plan's"),
    revokedAt: timestamp.nullable(),
    revokedBy: actorView.nullable(),
    revokedReason: z
      .enum(REVOKED_REASONS)
      .nullable()
      .describe('Why it was revoked when nobody revoked it by hand: its expiry passed, a roll without overlap, found in public'),
    expiresAt: timestamp.nullable().describe('When the key stops working (401 api_key_expired from then on); null: never'),
    allowedIps: z.array(shown('203.0.113.0/24')).describe('Addresses and CIDR ranges the key may be used from; empty: any'),
    rolledTo: idOf('key', true).nullable().describe('The key that replaced this one in a roll (this one works until expiresAt)'),
    rolledFrom: idOf('key', true).nullable().describe('The key this one replaced in a roll'),
    rotationDue: z.boolean().describe('Active, not being rolled, and older than the rotation period (90 days by default)'),
    exposure: z
      .object({
        places: z
          .array(
            z.object({
              reporter: z.enum(['github']),
              url: shown('https://github.com/acme/checkout/blob/main/.env')
                .nullable()
                .describe('Where it was found (an http(s) address), when the report gave one'),
              source: shown('content').describe('What kind of place, as the scanner names it: content, commit, npm, …'),
              reportedAt: timestamp,
            }),
          )
          .describe('The first places reported, oldest first (at most 10)'),
        count: count(1).describe('How many distinct places it was reported in'),
      })
      .nullable()
      .describe('Where a secret scanner found the key in public; null: never reported'),
  })
  .meta({ id: 'Key' });

export const keyListView = z
  .object({
    customer: slugView,
    sandbox: z.boolean(),
    activeKeyCount: count(2),
    keyLimit: count(10),
    keys: z.array(keyView),
  })
  .meta({ id: 'KeyList' });

export const trustPolicyView = z
  .object({
    id: idOf('tp'),
    label: shown('github-deploy'),
    issuer: shown('https://token.actions.githubusercontent.com').describe("The identity token's `iss`, compared exactly"),
    audience: shown('acme').describe("The identity token's `aud`, compared exactly"),
    subject: shown('repo:acme/checkout:ref:refs/heads/main').describe(
      "The identity token's `sub`: exact, where `*` matches any run of characters",
    ),
    claims: z
      .record(z.string(), z.string())
      .meta({ examples: [{ repository_owner: 'acme' }] })
      .describe('Further claims the identity token must hold, each with exactly this value'),
    application: applicationView,
    environment: z.enum(KEY_ENVIRONMENTS),
    tokenLifetimeMinutes: count(15).describe('How long an access token minted under the policy lasts, in minutes'),
    createdAt: timestamp,
    createdBy: actorView,
    updatedAt: timestamp.describe('The last change (its creation until then)'),
    lastUsedAt: timestamp.nullable().describe('Start of the last hour a token minted under the policy was used in'),
  })
  .meta({ id: 'TrustPolicy' });

export const trustPolicyListView = z
  .object({
    customer: slugView,
    sandbox: z.boolean(),
    trustPolicyCount: count(1),
    trustPolicyLimit: count(10),
    trustPolicies: z.array(trustPolicyView).describe('Oldest first: the order an exchange tries them in'),
  })
  .meta({ id: 'TrustPolicyList' });

const EXAMPLE_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw5Y0ySqzz2Iw=';

export const webhookEndpointView = z
  .object({
    id: idOf('we'),
    url: shown('https://hooks.acme.example/veriproof'),
    events: z
      .array(z.enum([...WEBHOOK_EVENT_TYPES, '*']))
      .meta({ examples: [['key.revoked', 'key.exposed']] })
      .describe('The event types it receives; ["*"]: every type'),
    description: shown('PagerDuty bridge').nullable(),
    status: z.enum(['active', 'disabled']).describe('disabled: it receives nothing until re-enabled (PATCH with "enabled": true)'),
    disabledAt: timestamp.nullable(),
    disabledReason: z
      .enum(['failing', 'customer'])
      .nullable()
      .describe('failing: its deliveries failed for 3 days; customer: disabled by PATCH'),
    failingSince: timestamp.nullable().describe('The first failed delivery since the last successful one; null while deliveries succeed'),
    lastSuccessAt: timestamp.nullable().describe('The last successful delivery'),
    previousSecretExpiresAt: timestamp
      .nullable()
      .describe('After a secret rotation: until when the previous secret also signs deliveries (a second signature)'),
    createdAt: timestamp,
    createdBy: actorView,
    updatedAt: timestamp.describe('The last change (its creation until then)'),
  })
  .meta({ id: 'WebhookEndpoint' });

export const webhookEndpointWithSecretView = webhookEndpointView
  .extend({
    secret: shown(EXAMPLE_SECRET).describe(
      'The signing secret (Standard Webhooks: `whsec_` and base64 of 32 bytes). Shown this once: store it in a secret manager now.',
    ),
  })
  .meta({ id: 'WebhookEndpointWithSecret' });

export const webhookEndpointListView = z
  .object({
    customer: slugView,
    sandbox: z.boolean(),
    webhookEndpointCount: count(1),
    webhookEndpointLimit: count(10),
    webhookEndpoints: z.array(webhookEndpointView).describe('Oldest first; disabled ones too'),
  })
  .meta({ id: 'WebhookEndpointList' });

export const issuedKeyView = z
  .object({
    key: shown(EXAMPLE_KEY).describe('The full compound key. Shown this once: store it in a secret manager now.'),
    metadata: keyView,
  })
  .meta({ id: 'IssuedKey' });

export const rolledKeyView = z
  .object({
    key: shown(EXAMPLE_KEY).describe('The new compound key. Shown this once: store it in a secret manager now.'),
    metadata: keyView,
    old: keyView.describe('The key rolled out: it works until its expiresAt'),
  })
  .meta({ id: 'RolledKey' });

export const resetView = z
  .object({
    keys: z.array(issuedKeyView),
    replaced: z.array(z.object({ oldKeyId: idOf('key'), newKeyId: idOf('key', true) })),
  })
  .meta({ id: 'ResetResult' });

export const keyRequestView = z
  .object({
    id: idOf('req'),
    customer: slugView,
    action: z.enum(KEY_REQUEST_ACTIONS),
    status: z.enum(['pending', 'executed', 'rejected', 'failed']),
    params: z
      .record(z.string(), z.unknown())
      .meta({ examples: [{ label: 'checkout-ci', application: 'checkout', environment: 'live', type: 'secondary' }] }),
    result: z
      .record(z.string(), z.unknown())
      .meta({ examples: [{ keyId: 'key_01JQ8Z5M3T4V6W7X8Y9Z0A1B2C' }] })
      .nullable(),
    failure: z.object({ code: shown('key_limit_reached'), detail: shown('The customer already has 10 active keys.') }).nullable(),
    note: shown('Rotating after the March audit').nullable(),
    requestedBy: actorView,
    requestedAt: timestamp,
    decidedBy: actorView.nullable(),
    decidedAt: timestamp.nullable(),
  })
  .meta({ id: 'KeyRequest' });

export const keyRequestOutcomeView = z
  .object({
    request: keyRequestView,
    key: shown(EXAMPLE_KEY).optional().describe('For an executed issue-key request: the new key, shown this once'),
    metadata: keyView.optional(),
  })
  .meta({ id: 'KeyRequestOutcome' });

export const staffQueueView = z
  .object({
    requests: z.array(
      z.object({
        id: idOf('req'),
        customer: slugView,
        action: z.enum(KEY_REQUEST_ACTIONS),
        status: z.enum(['pending', 'executed', 'rejected', 'failed']),
        requestedAt: timestamp,
        requestedBy: actorView,
      }),
    ),
  })
  .meta({ id: 'StaffRequestQueue' });

/** An opaque page cursor, handed back to get the next page. */
const cursorView = shown('eyJwIjoiYWNtZSIsInIiOiJldnRfMDFKUThaNU0zVDRWNlc3WDhZOVowQTFCMkMifQ');

export const auditEventView = z
  .object({
    id: idOf('evt'),
    type: z.enum(AUDIT_EVENT_TYPES),
    at: timestamp,
    actor: actorView,
    keyId: idOf('key').nullable(),
    keyRequestId: idOf('req').nullable(),
    requestId: shown(EXAMPLE_REQUEST_ID).describe('The request id of the API call that caused the event'),
    details: z
      .record(z.string(), z.unknown())
      .meta({ examples: [{ label: 'checkout-ci', environment: 'live' }] })
      .nullable(),
  })
  .meta({ id: 'AuditEvent' });

export const auditPageView = z.object({ events: z.array(auditEventView), cursor: cursorView.nullable() }).meta({ id: 'AuditPage' });

export const sessionView = z
  .object({
    sessionId: shown('checkout-session-4711'),
    sessionIdSource: z.enum(['attribute', 'trace']),
    serviceName: shown('checkout-api').nullable(),
    keyId: z.union([idOf('key'), idOf('tp')]).describe('The key that sent it; for a federated access token, its trust policy'),
    keyLabel: keyLabelView.describe("The key's label; for a federated access token, its trust policy's"),
    application: applicationView,
    environment: z.enum(KEY_ENVIRONMENTS),
    sandbox: z.boolean(),
    anchor: z.enum(['pending', 'never']),
    spanCount: count(42),
    batchCount: count(3),
    traceIds: z.array(shown('4bf92f3577b34da6a3ce929d0e0e4736')),
    startedAt: timestamp.nullable(),
    endedAt: timestamp.nullable(),
    firstReceivedAt: timestamp,
    lastReceivedAt: timestamp,
  })
  .meta({ id: 'Session' });

export const sessionPageView = z.object({ sessions: z.array(sessionView), cursor: cursorView.nullable() }).meta({ id: 'SessionPage' });

export const gitHubFeedbackView = z
  .array(
    z.object({
      token_hash: shown('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08').describe('SHA-256 of the token, hex'),
      token_type: shown('veriproof_api_key'),
      label: z.enum(['true_positive', 'false_positive']),
    }),
  )
  .meta({ id: 'SecretScanningFeedback' });

export const keySettingsView = z.object({ customer: slugView, leakedKeyPolicy: leakedKeyPolicySchema }).meta({ id: 'KeySettings' });

export const customerView = z
  .object({
    id: idOf('cus'),
    slug: slugView,
    name: shown('Acme Corporation'),
    plan: z.enum(PLANS),
    createdAt: timestamp,
    activeKeyCount: count(2),
    keyLimit: count(10),
    keyLimitOverride: count(25).nullable(),
    requireComponent: z.boolean(),
    autoRevokeStaleKeys: z.boolean(),
    leakedKeyPolicy: leakedKeyPolicySchema,
    keyReview: z
      .object({
        at: timestamp,
        stale: count(0).describe('Active keys unused for the stale period'),
        rotationDue: count(1).describe('Active keys older than the rotation period (90 days by default)'),
      })
      .nullable()
      .describe("The daily key review's last counts; null before its first run"),
  })
  .meta({ id: 'Customer' });

const ipRefused = count(0).describe("Refused because they came from outside the key's IP allowlist (403 ip_not_allowed)");
const usageBucket = z.object({ start: timestamp, accepted: count(1250), rateLimited: count(3), ipRefused });
const usageTotals = z.object({ accepted: count(8600), rateLimited: count(12), ipRefused });

export const keyUsageView = z
  .object({
    keyId: idOf('key'),
    label: keyLabelView,
    granularity: z.enum(['hour', 'day']),
    from: timestamp,
    to: timestamp,
    totals: usageTotals,
    buckets: z.array(usageBucket),
  })
  .meta({ id: 'KeyUsage' });

export const customerUsageView = z
  .object({
    from: timestamp,
    to: timestamp,
    keys: z.array(
      z.object({
        keyId: idOf('key'),
        label: keyLabelView,
        application: applicationView,
        status: z.enum(['active', 'revoked']),
        lastUsedAt: timestamp.nullable(),
        stale: z.boolean(),
        totals: usageTotals,
        daily: z.array(usageBucket),
      }),
    ),
  })
  .meta({ id: 'CustomerUsage' });

export const tenantKeyView = z
  .object({
    customer: slugView,
    currentVersion: shown('v2'),
    previousVersion: shown('v1').nullable(),
    graceEndsAt: timestamp.nullable(),
    inGrace: z.boolean(),
    rotatedAt: timestamp.nullable(),
    requireComponent: z.boolean(),
  })
  .meta({ id: 'TenantKey' });

/**
 * The response shapes' TypeScript types, inferred from the schemas above: each shape has one
 * owner (its schema), which view-mappers.ts builds from the services' domain values, the handlers
 * send and the document describes.
 */
export type CustomerBody = z.infer<typeof customerView>;
export type TenantKeyBody = z.infer<typeof tenantKeyView>;
export type KeyUsageBody = z.infer<typeof keyUsageView>;
export type CustomerUsageBody = z.infer<typeof customerUsageView>;
export type UsageBucketBody = z.infer<typeof usageBucket>;

export const problemView = z
  .object({
    type: shown('urn:veriproof:problem:api_key_invalid'),
    title: shown('API key invalid'),
    status: count(401),
    detail: shown('The API key is not valid.'),
    code: shown('api_key_invalid'),
    requestId: shown(EXAMPLE_REQUEST_ID),
  })
  .loose()
  // Open to more members: the object's own example, or a reader is shown invented ones.
  .meta({ id: 'Problem', examples: [problemExample('api_key_invalid', 401, 'API key invalid')] });

export const whoamiView = z
  .object({
    customer: z.object({ id: idOf('cus'), slug: slugView, plan: z.enum(PLANS) }),
    key: z.object({
      id: z
        .union([idOf('key'), idOf('tp')])
        .describe("The key's id; for a federated access token, its trust policy's (usage and rate limits count per policy)"),
      label: keyLabelView.describe("The key's label; for a federated access token, its trust policy's (sessions carry it)"),
      application: applicationView,
      environment: z.enum(KEY_ENVIRONMENTS),
      type: z.enum(CREDENTIAL_TYPES).describe('A key type, or `federated` for an access token from the token exchange'),
    }),
    trustPolicy: z
      .object({ id: idOf('tp'), label: shown('github-deploy') })
      .optional()
      .describe('For a federated access token only: the trust policy it was minted under'),
  })
  .meta({ id: 'Whoami' });

export const serviceView = z
  .object({
    instanceId: shown('host-7f3a').describe('The instance that answered (each keeps its own values)'),
    at: timestamp,
    metrics: z.array(
      z.object({
        name: shown('veriproof.auth.duration').describe('An OpenTelemetry metric name, under veriproof.'),
        description: shown("The API-key door's decision time").describe("The metric's instrument description"),
        unit: shown('ms').describe("The metric's unit (UCUM: ms, s, By); empty for a count"),
        attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).meta({ examples: [{ outcome: 'accepted' }] }),
        value: amount(1250).describe("A counter's total or a gauge's value since the instance started; a histogram's count"),
        sum: amount(312.5).optional(),
        min: amount(0.8).optional(),
        max: amount(41.2).optional(),
      }),
    ),
  })
  .meta({ id: 'ServiceMetrics' });

export const healthView = z
  .object({
    status: z.literal('ok'),
    checks: z
      .record(
        z.string(),
        z.object({ status: z.enum(['ok', 'unavailable']), checkedAt: timestamp.nullable(), latencyMs: amount(4.2).nullable() }),
      )
      .meta({ examples: [{ 'table-storage': { status: 'ok', checkedAt: '2026-03-14T09:26:53.000Z', latencyMs: 4.2 } }] }),
  })
  .meta({ id: 'Health' });

/** The token endpoint's answer (RFC 8693 §2.2.1). */
export const tokenResponseView = z
  .object({
    access_token: shown(EXAMPLE_ACCESS_TOKEN).describe(
      'A federated access token: send it as an ingest key (Authorization: Bearer or X-API-Key) until it expires',
    ),
    issued_token_type: z.literal(TOKEN_TYPE_ACCESS_TOKEN),
    token_type: z.literal('Bearer'),
    expires_in: count(900).describe(
      "Seconds until it expires: the trust policy's tokenLifetimeMinutes, whatever the identity token's own expiry",
    ),
  })
  .meta({ id: 'TokenExchangeResponse' });

export const oauthErrorView = z
  .object({
    error: z.enum(OAUTH_ERRORS),
    error_description: shown('The subject token is not accepted for this audience.'),
  })
  .meta({
    id: 'OAuthError',
    description:
      'An RFC 6749 §5.2 error: invalid_request, unsupported_grant_type, invalid_grant (every refused identity token), invalid_target',
    examples: [{ error: 'invalid_grant', error_description: 'The subject token is not accepted for this audience.' }],
  });

/** Webhook deliveries (the delivery side: functions/webhook-deliveries.ts). */
export const webhookAttemptView = z
  .object({
    at: timestamp.describe('When the attempt started'),
    status: z.enum(['delivered', 'failed']).describe('delivered: the endpoint answered 2xx'),
    durationMs: count(84).describe('From the request to the end of the answer (at most 10 s)'),
    responseCode: z
      .number()
      .int()
      .nullable()
      .meta({ examples: [200] })
      .describe('The HTTP status the endpoint answered; null without an answer'),
    error: shown('timeout: no complete answer from hooks.acme.example in 10000 ms')
      .nullable()
      .describe('Why the attempt failed when there was no 2xx answer to show (no answer, a refused address, a redirect)'),
  })
  .meta({ id: 'WebhookAttempt' });

export const webhookDeliveryView = z
  .object({
    id: idOf('dlv'),
    endpointId: idOf('we'),
    eventId: shown('evt_01JQ8Z5M3T4V6W7X8Y9Z0A1B2C').describe("The event: the `webhook-id` header of every attempt, and the body's `id`"),
    eventType: z.enum(WEBHOOK_EVENT_TYPES),
    createdAt: timestamp,
    status: z
      .enum(['pending', 'delivered', 'failed'])
      .describe('pending: an attempt is due; delivered: an attempt got a 2xx; failed: the retries ran out or the endpoint was disabled'),
    attemptCount: count(1),
    nextAttemptAt: timestamp.nullable().describe('When the next attempt is due (pending deliveries)'),
    attempts: z.array(webhookAttemptView).describe('Oldest first (the last 20)'),
  })
  .meta({ id: 'WebhookDelivery' });

export const webhookDeliveryPageView = z
  .object({
    deliveries: z.array(webhookDeliveryView).describe('Newest event first'),
    cursor: shown('eyJzIjoiYWNtZX53ZV8wMUpROFo1TTNUNFY2VzdYOFk5WjBBMUIyQyJ9').nullable(),
  })
  .meta({ id: 'WebhookDeliveryPage' });
