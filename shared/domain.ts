import type { IpAllowlist } from './keys/ip-allowlist';

/**
 * The service's domain types. Storage adapters map them to and from rows; handlers map
 * them to response bodies. Nothing here knows about HTTP or Table Storage.
 */

export const PLANS = ['starter', 'pro', 'enterprise'] as const;
export type Plan = (typeof PLANS)[number];

export const KEY_TYPES = ['primary', 'secondary', 'management'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
/** A key's type when its issue names none. */
export const DEFAULT_KEY_TYPE: KeyType = 'secondary';

/**
 * What a credential the API-key door admits is: a key of one of the key types, or a federated
 * access token (minted by `POST /v1/oauth/token` under a trust policy, never issued as a key).
 */
export const CREDENTIAL_TYPES = [...KEY_TYPES, 'federated'] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];

export const KEY_ENVIRONMENTS = ['live', 'test'] as const;
export type KeyEnvironment = (typeof KEY_ENVIRONMENTS)[number];
/** A key's environment when its issue names none. */
export const DEFAULT_KEY_ENVIRONMENT: KeyEnvironment = 'live';

export type KeyStatus = 'active' | 'revoked';

/**
 * What happens to an active key when a secret scanner reports it in public: `revoke` (the
 * default) stops it at once; `notify` keeps it working and marks it exposed.
 */
export const LEAKED_KEY_POLICIES = ['revoke', 'notify'] as const;
export type LeakedKeyPolicy = (typeof LEAKED_KEY_POLICIES)[number];

/** Why a key was revoked when nobody revoked it by hand: its expiry passed, a roll without overlap, found in public. */
export const REVOKED_REASONS = ['expired', 'rolled', 'exposed'] as const;
export type RevokedReason = (typeof REVOKED_REASONS)[number];
export const isRevokedReason = (value: string | undefined): value is RevokedReason =>
  (REVOKED_REASONS as readonly (string | undefined)[]).includes(value);

/** The built-in shared sandbox tenant that portal sandbox mode reads (read-only). */
export const SANDBOX_SLUG = 'sandbox';

/** Who did something: a portal user, a management key, or the service itself. */
export interface Actor {
  type: 'user' | 'key' | 'system';
  id: string;
  /** A user's name, a key's label, or the component of the service. */
  name: string;
}

/** Who asks for a change, and in which HTTP request (for the audit log). */
export interface Operation {
  actor: Actor;
  requestId: string;
}

export interface Customer {
  /** Opaque, stable id (`cus_…`). */
  id: string;
  /** Lower-case slug, the first segment of every compound key; never changes. */
  slug: string;
  name: string;
  plan: Plan;
  /** The SecretStore version of the customer's current master component. */
  componentVersion: string;
  /** The component rotated out, still accepted until `graceEndsAt`. */
  previousComponentVersion: string | undefined;
  graceEndsAt: string | undefined;
  componentRotatedAt: string | undefined;
  /** Staff switch: requests must present the component (x-functions-key or a whole key). */
  requireComponent: boolean;
  /** Staff switch: the daily review revokes keys unused for the stale period. Off by default. */
  autoRevokeStaleKeys: boolean;
  /** The customer's choice for its keys found in public (set by its admins). */
  leakedKeyPolicy: LeakedKeyPolicy;
  /** What the daily key review found last (absent before its first run). */
  keyReview: KeyReviewSummary | undefined;
  createdAt: string;
  /** Keys currently active (kept with the customer so the cap holds under concurrency). */
  activeKeyCount: number;
  /** Staff override of the plan's key cap; `undefined` means the plan decides. */
  keyLimitOverride: number | undefined;
}

/** The daily key review's counts for one customer: stale keys and keys due for rotation. */
export interface KeyReviewSummary {
  at: string;
  stale: number;
  rotationDue: number;
}

/** A rate limit: sustained requests per second and the burst above it. */
export interface RateLimitSetting {
  requestsPerSecond: number;
  burst: number;
}

/** One place a key was found in public, as a secret scanner reported it. */
export interface KeyExposure {
  /** Who reported it (`github`: GitHub secret scanning). */
  reporter: 'github';
  /** Where it was found (an http(s) address), or '' when the report named none we can link to. */
  url: string;
  /** What kind of place (`content`, `commit`, `npm`, …; lower case), as the scanner says. */
  source: string;
  reportedAt: string;
}

/** Places a key's record keeps; further places are counted (and each report is in the audit log). */
export const MAX_KEPT_EXPOSURES = 10;

/**
 * A key's kept places with a report's places added: the first {@link MAX_KEPT_EXPOSURES} are kept,
 * and `added` counts the report's places that are new to the key (a place already kept, or named
 * twice in the report, counts once).
 */
export function withPlaces(kept: KeyExposure[], places: KeyExposure[]): { exposures: KeyExposure[]; added: number } {
  const placeOf = (e: KeyExposure) => JSON.stringify([e.reporter, e.source, e.url]);
  const seen = new Set(kept.map(placeOf));
  const fresh: KeyExposure[] = [];
  for (const e of places) {
    if (seen.has(placeOf(e))) continue;
    seen.add(placeOf(e));
    fresh.push(e);
  }
  return { exposures: [...kept, ...fresh].slice(0, MAX_KEPT_EXPOSURES), added: fresh.length };
}

/** A key as stored for its customer. `secretHash` never leaves the service layer. */
export interface ApiKeyRecord {
  id: string;
  customerId: string;
  customerSlug: string;
  label: string;
  application: string;
  type: KeyType;
  environment: KeyEnvironment;
  /** `vp_cust_{slug}.…{first4}…{last4}`. */
  displayPrefix: string;
  secretHash: string;
  status: KeyStatus;
  createdAt: string;
  createdBy: Actor;
  revokedAt?: string;
  revokedBy?: Actor;
  /** Start of the last hour the key was used in. */
  lastUsedAt?: string;
  /** Staff override of the plan's per-key rate limit. */
  rateLimit?: RateLimitSetting;
  /** Where the key was found in public: the first {@link MAX_KEPT_EXPOSURES} places, oldest first. */
  exposures?: KeyExposure[];
  /**
   * How many places it was reported in (at least `exposures.length`): each report's distinct
   * places, less those already kept; a report delivered again counts nothing.
   */
  exposureCount?: number;
  /** When the key stops working (set at issue, by PATCH, or by a roll's overlap); absent: never. */
  expiresAt?: string;
  /** Addresses and CIDR ranges the key may be used from; absent: any. */
  allowedIps?: string[];
  /** The key that replaced this one in a roll (this one is rolling out until it expires). */
  rolledTo?: string;
  /** The key this one replaced in a roll. */
  rolledFrom?: string;
  /** Why it was revoked, when not by someone's revoke: one of REVOKED_REASONS (as stored; anything else is not shown). */
  revokedReason?: string;
  /**
   * The `key.expiring` warnings already recorded for the key's expiry `expiresAt` (a warning for an
   * earlier expiry no longer counts once the expiry moves). Internal: never shown.
   */
  expiryWarned?: { expiresAt: string; windows: ExpiryWarningWindow[] };
}

/** How long before a key's expiry a `key.expiring` warning is recorded (and sent as a webhook). */
export const EXPIRY_WARNINGS = [
  { window: '7d', beforeMs: 7 * 86_400_000 },
  { window: '1d', beforeMs: 86_400_000 },
] as const;
export type ExpiryWarningWindow = (typeof EXPIRY_WARNINGS)[number]['window'];

/** A key as clients may see it: everything but the hash. */
export type ApiKeyView = Omit<ApiKeyRecord, 'secretHash'>;

/** A key as issued: the full key (this is the only time it exists) and its metadata. */
export interface IssuedKey {
  key: string;
  metadata: ApiKeyView;
}

/** A rolled key: the new key (shown once) and the old one, now rolling out. */
export interface RolledKey extends IssuedKey {
  old: ApiKeyView;
}

export function toKeyView(record: ApiKeyRecord): ApiKeyView {
  const { secretHash: _hidden, ...view } = record;
  return view;
}

/**
 * The customer's master-component state that the door needs, copied into every active key's
 * lookup row so that authentication stays one point read. The customer row is authoritative.
 */
export interface MasterComponentState {
  componentVersion: string;
  previousComponentVersion: string | undefined;
  graceEndsAt: string | undefined;
  requireComponent: boolean;
}

/** A customer's master component as staff see it: its versions and grace, never values. */
export interface MasterComponentStatus {
  customer: Customer;
  /** Whether the previous component is still accepted (its grace has not ended). */
  inGrace: boolean;
}

/**
 * The master-component state of a federated token's identity: none. A token is not a compound key,
 * carries no component, and the customer's `requireComponent` does not apply to it.
 */
export const NO_MASTER_COMPONENT: MasterComponentState = Object.freeze({
  componentVersion: '',
  previousComponentVersion: undefined,
  graceEndsAt: undefined,
  requireComponent: false,
});

export const masterComponentState = (customer: Customer): MasterComponentState => ({
  componentVersion: customer.componentVersion,
  previousComponentVersion: customer.previousComponentVersion,
  graceEndsAt: customer.graceEndsAt,
  requireComponent: customer.requireComponent,
});

/**
 * Who is calling, as resolved by the ApiKeyMiddleware from one point read. Handlers trust
 * it and never authenticate again.
 */
export interface KeyIdentity {
  customerId: string;
  customerSlug: string;
  plan: Plan;
  keyId: string;
  keyLabel: string;
  application: string;
  environment: KeyEnvironment;
  /**
   * A key's type, or `federated` for an access token minted under a trust policy: then `keyId` and
   * `keyLabel` are the policy's id and label (usage, last use and the rate limit count per policy,
   * sessions carry its label), and the token expires at `expiresAt`.
   */
  keyType: CredentialType;
  /**
   * The customer's master-component state, copied onto every key's lookup row (a key's row without
   * it is corrupt); a federated token's is {@link NO_MASTER_COMPONENT} (no component applies).
   */
  masterComponent: MasterComponentState;
  /** This key's own rate limit, when staff set one (else the plan's applies). */
  rateLimit?: RateLimitSetting;
  /** When the key stops working (ISO 8601); absent: never. */
  expiresAt?: string;
  /** Addresses and ranges the key may be used from; absent: any. */
  allowedIps?: readonly string[];
}

/**
 * The identity as the door holds it (built once per read of the key): the expiry as a number
 * and the allowlist compiled, so that checking either costs no parse and no storage call.
 */
export interface DoorIdentity extends KeyIdentity {
  expiresAtMs?: number;
  allowlist?: IpAllowlist;
}

export const KEY_REQUEST_ACTIONS = ['issue-key', 'revoke-key', 'roll-key', 'rotate-tenant-key'] as const;
export type KeyRequestAction = (typeof KEY_REQUEST_ACTIONS)[number];
export type KeyRequestStatus = 'pending' | 'executed' | 'rejected' | 'failed';

/** A key-management request of the portal's request-driven flow. Never holds a key value. */
export interface KeyRequest {
  id: string;
  customerSlug: string;
  action: KeyRequestAction;
  status: KeyRequestStatus;
  /** The validated input of the action (no secrets). */
  params: Record<string, unknown>;
  /** What execution produced (ids, never key values). */
  result?: Record<string, unknown>;
  failure?: { code: string; detail: string };
  /** Why staff rejected it, or what stands in its way. */
  note?: string;
  requestedBy: Actor;
  requestedAt: string;
  /** The HTTP request id of the call that submitted it. */
  submittedInRequest: string;
  decidedBy?: Actor;
  decidedAt?: string;
}

export const AUDIT_EVENT_TYPES = [
  'key.issued',
  'key.revoked',
  'key.reset',
  'request.submitted',
  'request.executed',
  'request.rejected',
  'request.failed',
  'customer.updated',
  'tenant-key.rotated',
  'tenant-key.grace-ended',
  'key.rate-limit-changed',
  'keys.stale',
  'key.exposed',
  'key.rolled',
  'key.updated',
  'keys.rotation-due',
  'key.expiring',
  'customer.leaked-key-policy-changed',
  'trust_policy.created',
  'trust_policy.updated',
  'trust_policy.deleted',
  'token.exchanged',
  'token.refused',
  'webhook_endpoint.created',
  'webhook_endpoint.updated',
  'webhook_endpoint.deleted',
  'webhook_endpoint.secret_rotated',
  'webhook_endpoint.disabled',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** One entry of a customer's audit log. */
export interface AuditEvent {
  id: string;
  customerSlug: string;
  type: AuditEventType;
  at: string;
  actor: Actor;
  keyId?: string;
  keyRequestId?: string;
  /** The HTTP request id of the call that caused it. */
  requestId: string;
  details?: Record<string, unknown>;
}

/** The shortest, longest and default lifetime of an access token a trust policy lets a workload mint, in minutes. */
export const TOKEN_LIFETIME_MINUTES = { min: 5, max: 60, default: 15 } as const;

/**
 * Whom a customer trusts to ingest without a key (workload identity federation): a workload that
 * presents an identity token from `issuer`, for `audience`, whose subject matches `subject` and
 * whose claims hold every one of `claims`, may trade it for a short-lived access token that acts
 * as an ingest key of `application` and `environment`.
 */
export interface TrustPolicy {
  /** Opaque, time-ordered id (`tp_…`). */
  id: string;
  customerSlug: string;
  /** Unique among the customer's policies, compared as key labels are (shared/keys/labels.ts). */
  label: string;
  /** The identity token's `iss`, compared exactly (an https URL; http only for a loopback host in local mode). */
  issuer: string;
  /** The identity token's `aud`, compared exactly. */
  audience: string;
  /** The identity token's `sub`: exact, where `*` matches any run of characters (none included). */
  subject: string;
  /** Further claims the identity token must hold, each with exactly this string value. */
  claims: Record<string, string>;
  /** What the tokens minted under it act as: an ingest key of this application and environment. */
  application: string;
  environment: KeyEnvironment;
  /** How long a token minted under it lasts. */
  tokenLifetimeMinutes: number;
  /** `deleted` policies are kept (no longer listed) so that a repeated delete finds what it completes. */
  status: 'active' | 'deleted';
  createdAt: string;
  createdBy: Actor;
  /** The last change (its creation until then). */
  updatedAt: string;
  deletedAt?: string;
  deletedBy?: Actor;
  /** Start of the last hour a token minted under it was used in. */
  lastUsedAt?: string;
}

/**
 * The webhook event types a customer can receive (issue 28), the catalogue an endpoint's `events`
 * are checked against. `webhook.test` is what `POST /v1/webhook-endpoints/{id}/test` sends.
 */
export const WEBHOOK_EVENT_TYPES = [
  'key.issued',
  'key.updated',
  'key.revoked',
  'key.rolled',
  'key.exposed',
  'key.expiring',
  'key.stale',
  'key.rotation_completed',
  'tenant_key.rotated',
  'tenant_key.grace_ended',
  'key_request.created',
  'key_request.executed',
  'key_request.rejected',
  'webhook.test',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
/** What an endpoint subscribes to: event types, or `['*']` for every type (those added later included). */
export type WebhookEventSelection = WebhookEventType[] | ['*'];

/** Whether an endpoint subscribed to `events` receives events of `type`. */
export const subscribesTo = (events: WebhookEventSelection, type: WebhookEventType): boolean =>
  (events as readonly string[]).includes('*') || (events as readonly string[]).includes(type);

/** A signing secret of a webhook endpoint, as stored: never the secret itself. */
export interface WebhookSecret {
  /** The secret (`whsec_…`) envelope-encrypted (shared/webhooks/secrets.ts); decrypted only to sign. */
  encrypted: string;
  createdAt: string;
  /** Set on the previous secret by a rotation: it signs beside the new one until then. Absent on the current one. */
  expiresAt?: string;
}

/** Why an endpoint is disabled: its deliveries kept failing (the pipeline's rule), or the customer disabled it. */
export type WebhookDisabledReason = 'failing' | 'customer';

/**
 * Where a customer receives webhook events: an https URL, the events it subscribes to, and the
 * secrets its deliveries are signed with (Standard Webhooks). Stored under the customer.
 */
export interface WebhookEndpoint {
  /** Opaque, time-ordered id (`we_…`). */
  id: string;
  customerSlug: string;
  url: string;
  events: WebhookEventSelection;
  description?: string;
  /**
   * `active` endpoints receive events; `disabled` ones are kept (and listed) but receive none until
   * re-enabled; `deleted` ones are kept (no longer listed) so that a repeated delete finds what it completes.
   */
  status: 'active' | 'disabled' | 'deleted';
  /** The current secret first, then the previous one while it still signs (`expiresAt`). Never empty. */
  secrets: WebhookSecret[];
  createdAt: string;
  createdBy: Actor;
  /** The last change by the customer or the service (its creation until then); delivery outcomes do not count. */
  updatedAt: string;
  disabledAt?: string;
  disabledReason?: WebhookDisabledReason;
  /** The first failed delivery after the last successful one; absent while deliveries succeed. */
  failingSince?: string;
  /** The last successful delivery. */
  lastSuccessAt?: string;
  deletedAt?: string;
  deletedBy?: Actor;
}

/** Requests counted for a key over some time: accepted, refused by its rate limit, refused by its allowlist. */
export interface UsageCounts {
  accepted: number;
  rateLimited: number;
  ipRefused: number;
}

/** The counts of one hour or day, from `start`. */
export interface UsageBucket extends UsageCounts {
  start: string;
}

/** One key's usage over [from, to), bucket by bucket (zeros included). */
export interface KeyUsage {
  key: ApiKeyView;
  granularity: 'hour' | 'day';
  from: string;
  to: string;
  totals: UsageCounts;
  buckets: UsageBucket[];
}

/** Every key of a customer over the last 30 days, with a daily series each. */
export interface CustomerUsage {
  from: string;
  to: string;
  keys: Array<{ key: ApiKeyView; stale: boolean; totals: UsageCounts; daily: UsageBucket[] }>;
}

/** One try at delivering a webhook: when, what came of it, how long it took, and what the endpoint answered. */
export interface WebhookAttempt {
  at: string;
  /** `delivered`: a 2xx answer; anything else (another status, no answer, refused by the outbound guard) `failed`. */
  status: 'delivered' | 'failed';
  durationMs: number;
  /** The endpoint's HTTP status, when it answered. */
  responseCode?: number;
  /** Why there was no 2xx (no answer, a timeout, a refused address, a redirect): safe to show, never a URL path or a body. */
  error?: string;
}

/**
 * `pending`: an attempt is due or under way; `delivered`: an attempt got a 2xx; `failed`: the
 * retries ran out, the endpoint was disabled, or a single attempt (a test event, a manual retry) failed.
 */
export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

/**
 * One webhook event for one endpoint, and its attempts. Its id (`dlv_…`) comes from the event's
 * (the same time-ordered characters), so the same event dispatched twice to an endpoint is one
 * delivery; its body is fixed when it is made, so every attempt sends the same bytes under the
 * same `webhook-id` (the event's id).
 */
export interface WebhookDelivery {
  id: string;
  customerSlug: string;
  endpointId: string;
  eventId: string;
  eventType: WebhookEventType;
  /** The JSON body every attempt sends. */
  body: string;
  createdAt: string;
  status: WebhookDeliveryStatus;
  /** Oldest first (the most recent {@link MAX_KEPT_ATTEMPTS}). */
  attempts: WebhookAttempt[];
  /** Attempts made in all, the kept ones and those dropped from {@link attempts}. */
  attemptCount: number;
  /** When the next attempt is due (pending deliveries). */
  nextAttemptAt?: string;
  /** The highest attempt number a queue message was sent for (-1: none yet): what crash recovery compares with `attemptCount`. */
  queuedAttempt: number;
  /** Whether a failed attempt is followed by the retry schedule (false for a test event and a manual retry: one attempt). */
  autoRetry: boolean;
}

/** Attempts a delivery keeps (the retry schedule makes at most 7; manual retries add one each). */
export const MAX_KEPT_ATTEMPTS = 20;
