import type { z } from 'zod';
import {
  isRevokedReason,
  type ApiKeyView,
  type AuditEvent,
  type Customer,
  type CustomerUsage,
  type KeyRequest,
  type KeyUsage,
  type MasterComponentStatus,
  type TrustPolicy,
  type UsageBucket,
  type UsageCounts,
  type WebhookDelivery,
  type WebhookEndpoint,
} from '../domain';
import type { StoredSession } from '../ports/session-repository';
import type {
  auditEventView,
  CustomerBody,
  CustomerUsageBody,
  keyRequestView,
  KeyUsageBody,
  keyView,
  sessionView,
  TenantKeyBody,
  trustPolicyView,
  UsageBucketBody,
  webhookEndpointView,
  webhookDeliveryView,
} from './views';

/**
 * The mappers from the domain's records to the response bodies of shared/schemas/views.ts:
 * handlers build their bodies with these.
 */

/** What the listing adds to a key from the clock: stale (unused) and due for rotation (old). */
export interface KeyFlags {
  stale?: boolean;
  rotationDue?: boolean;
}

export function toKeyBody(key: ApiKeyView, flags: KeyFlags = {}): z.infer<typeof keyView> {
  return {
    id: key.id,
    displayPrefix: key.displayPrefix,
    label: key.label,
    application: key.application,
    type: key.type,
    environment: key.environment,
    status: key.status,
    createdAt: key.createdAt,
    createdBy: key.createdBy,
    lastUsedAt: key.lastUsedAt ?? null,
    stale: key.status === 'active' && Boolean(flags.stale),
    rateLimit: key.rateLimit ?? null,
    revokedAt: key.revokedAt ?? null,
    revokedBy: key.revokedBy ?? null,
    revokedReason: key.status === 'revoked' && isRevokedReason(key.revokedReason) ? key.revokedReason : null,
    expiresAt: key.expiresAt ?? null,
    allowedIps: key.allowedIps ?? [],
    rolledTo: key.rolledTo ?? null,
    rolledFrom: key.rolledFrom ?? null,
    rotationDue: key.status === 'active' && Boolean(flags.rotationDue),
    exposure: key.exposures?.length
      ? {
          places: key.exposures.map((e) => ({ reporter: e.reporter, url: e.url || null, source: e.source, reportedAt: e.reportedAt })),
          count: key.exposureCount ?? key.exposures.length,
        }
      : null,
  };
}

export function toTrustPolicyBody(policy: TrustPolicy): z.infer<typeof trustPolicyView> {
  return {
    id: policy.id,
    label: policy.label,
    issuer: policy.issuer,
    audience: policy.audience,
    subject: policy.subject,
    claims: { ...policy.claims },
    application: policy.application,
    environment: policy.environment,
    tokenLifetimeMinutes: policy.tokenLifetimeMinutes,
    createdAt: policy.createdAt,
    createdBy: policy.createdBy,
    updatedAt: policy.updatedAt,
    lastUsedAt: policy.lastUsedAt ?? null,
  };
}

/**
 * An endpoint as the API shows it: never a secret, sealed or not. Its secrets are those still
 * signing (the service answers no other): one with an `expiresAt` is the previous one, in its overlap.
 */
export function toWebhookEndpointBody(endpoint: WebhookEndpoint): z.infer<typeof webhookEndpointView> {
  const previous = endpoint.secrets.find((s) => s.expiresAt !== undefined);
  return {
    id: endpoint.id,
    url: endpoint.url,
    events: [...endpoint.events],
    description: endpoint.description ?? null,
    status: endpoint.status === 'disabled' ? 'disabled' : 'active',
    disabledAt: endpoint.status === 'disabled' ? (endpoint.disabledAt ?? null) : null,
    disabledReason: endpoint.status === 'disabled' ? (endpoint.disabledReason ?? null) : null,
    failingSince: endpoint.failingSince ?? null,
    lastSuccessAt: endpoint.lastSuccessAt ?? null,
    previousSecretExpiresAt: previous?.expiresAt ?? null,
    createdAt: endpoint.createdAt,
    createdBy: endpoint.createdBy,
    updatedAt: endpoint.updatedAt,
  };
}

export function toRequestBody(request: KeyRequest): z.infer<typeof keyRequestView> {
  return {
    id: request.id,
    customer: request.customerSlug,
    action: request.action,
    status: request.status,
    params: request.params,
    result: request.result ?? null,
    failure: request.failure ?? null,
    note: request.note ?? null,
    requestedBy: request.requestedBy,
    requestedAt: request.requestedAt,
    decidedBy: request.decidedBy ?? null,
    decidedAt: request.decidedAt ?? null,
  };
}

export function toAuditBody(event: AuditEvent): z.infer<typeof auditEventView> {
  return {
    id: event.id,
    type: event.type,
    at: event.at,
    actor: event.actor,
    keyId: event.keyId ?? null,
    keyRequestId: event.keyRequestId ?? null,
    requestId: event.requestId,
    details: event.details ?? null,
  };
}

export function toSessionBody(session: StoredSession): z.infer<typeof sessionView> {
  return {
    ...session,
    serviceName: session.serviceName ?? null,
    startedAt: session.startedAt ?? null,
    endedAt: session.endedAt ?? null,
  };
}

/** A customer as staff see it, with its current cap on active keys (KeyService.keyLimit). */
export function toCustomerBody(customer: Customer, keyLimit: number): CustomerBody {
  return {
    id: customer.id,
    slug: customer.slug,
    name: customer.name,
    plan: customer.plan,
    createdAt: customer.createdAt,
    activeKeyCount: customer.activeKeyCount,
    keyLimit,
    keyLimitOverride: customer.keyLimitOverride ?? null,
    requireComponent: customer.requireComponent,
    autoRevokeStaleKeys: customer.autoRevokeStaleKeys,
    leakedKeyPolicy: customer.leakedKeyPolicy,
    keyReview: customer.keyReview ?? null,
  };
}

export function toTenantKeyBody({ customer, inGrace }: MasterComponentStatus): TenantKeyBody {
  return {
    customer: customer.slug,
    currentVersion: customer.componentVersion,
    previousVersion: customer.previousComponentVersion ?? null,
    graceEndsAt: customer.graceEndsAt ?? null,
    inGrace,
    rotatedAt: customer.componentRotatedAt ?? null,
    requireComponent: customer.requireComponent,
  };
}

const toTotals = ({ accepted, rateLimited, ipRefused }: UsageCounts) => ({ accepted, rateLimited, ipRefused });
const toBucket = ({ start, accepted, rateLimited, ipRefused }: UsageBucket): UsageBucketBody => ({
  start,
  accepted,
  rateLimited,
  ipRefused,
});

export function toKeyUsageBody(usage: KeyUsage): KeyUsageBody {
  return {
    keyId: usage.key.id,
    label: usage.key.label,
    granularity: usage.granularity,
    from: usage.from,
    to: usage.to,
    totals: toTotals(usage.totals),
    buckets: usage.buckets.map(toBucket),
  };
}

export function toCustomerUsageBody(usage: CustomerUsage): CustomerUsageBody {
  return {
    from: usage.from,
    to: usage.to,
    keys: usage.keys.map(({ key, stale, totals, daily }) => ({
      keyId: key.id,
      label: key.label,
      application: key.application,
      status: key.status,
      lastUsedAt: key.lastUsedAt ?? null,
      stale,
      totals: toTotals(totals),
      daily: daily.map(toBucket),
    })),
  };
}

/** A webhook delivery as `webhookDeliveryView` shows it. */
export function toWebhookDeliveryBody(d: WebhookDelivery): z.infer<typeof webhookDeliveryView> {
  return {
    id: d.id,
    endpointId: d.endpointId,
    eventId: d.eventId,
    eventType: d.eventType,
    createdAt: d.createdAt,
    status: d.status,
    attemptCount: d.attemptCount,
    nextAttemptAt: d.nextAttemptAt ?? null,
    attempts: d.attempts.map((a) => ({
      at: a.at,
      status: a.status,
      durationMs: a.durationMs,
      responseCode: a.responseCode ?? null,
      error: a.error ?? null,
    })),
  };
}
