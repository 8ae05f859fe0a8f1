import { createHash } from 'node:crypto';
import type { AuditEvent, AuditEventType, WebhookEventType } from '../domain';

/**
 * The event catalogue: which webhook events an audit event becomes. Every webhook event is an
 * audit event first (the customer's audit log is the outbox, shared/services/webhook-dispatch.ts);
 * this pure mapping decides, per audit type, what customers receive. The webhook event's id is
 * the audit event's (`evt_…`); an audit event that becomes several (a reset replaces a key: it is
 * revoked and another issued; the daily review lists many stale keys) gives each a stable id of
 * its own, derived from its id and the item, so dispatching it again yields the same ids.
 *
 * A body is `{ id, type, createdAt, customer: { slug }, data }`. `data` names keys as customers
 * know them (id, label, application, display prefix) and never holds a secret or a hash: it is
 * built from the audit event's details, which hold none either.
 */

/** What a webhook says about a key. Older audit events lack some facts: the dispatcher reads them from the key. */
export interface WebhookKey {
  id: string;
  label?: string;
  application?: string;
  displayPrefix?: string;
}

/** A key's facts known apart from an event (the key's record), by key id. */
export type KeyFactsLookup = ReadonlyMap<string, Omit<WebhookKey, 'id'>>;

/** Why a key was revoked, as webhooks say it. */
export const REVOCATION_REASONS = ['admin', 'reset', 'roll', 'expiry', 'exposure', 'stale'] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** A webhook event as delivered (the body's JSON). */
export interface WebhookEventBody {
  id: string;
  type: WebhookEventType;
  createdAt: string;
  customer: { slug: string };
  data: Record<string, unknown>;
}

/** One webhook event an audit event becomes, before the common fields are added. */
interface Item {
  type: WebhookEventType;
  data: Record<string, unknown>;
  /** Set on every item of an audit event that becomes several: what tells them apart (stable). */
  part?: string;
}

type Details = Record<string, unknown>;
type Mapping = (event: AuditEvent, details: Details, keys: KeyFactsLookup) => Item[];

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** A key as a webhook names it: the event's facts first, then the record's, absent ones left out. */
function keyOf(id: string, facts: Details, keys: KeyFactsLookup): WebhookKey {
  const known = keys.get(id);
  const key: WebhookKey = { id };
  for (const field of ['label', 'application', 'displayPrefix'] as const) {
    const value = str(facts[field]) ?? known?.[field];
    if (value !== undefined) key[field] = value;
  }
  return key;
}

/** The reason of a `key.revoked` audit event, as webhooks give it. */
export function revocationReason(event: AuditEvent, details: Details = event.details ?? {}): RevocationReason {
  switch (details.reason) {
    case 'exposed':
      return 'exposure';
    case 'rolled':
      return 'roll';
    case 'reset':
      return 'reset';
    case 'stale':
      return 'stale';
    // A key rolling out stops at its overlap's end through its expiry: that is the roll's doing.
    case 'expired':
      return details.rolledTo ? 'roll' : 'expiry';
  }
  // A revocation a crash cut short, completed later: who started it says why.
  switch (event.actor.id) {
    case 'key-expiry':
      return 'expiry';
    case 'stale-keys':
      return 'stale';
    case 'github-secret-scanning':
      return 'exposure';
    default:
      return 'admin';
  }
}

const none: Mapping = () => [];

const requestData = (event: AuditEvent, details: Details): Details => ({
  request: { id: event.keyRequestId ?? null, action: str(details.action) ?? null },
});

/** Every audit type, mapped: a new audit type fails to compile until it is given its webhooks (or none). */
const CATALOGUE: Record<AuditEventType, Mapping> = {
  'key.issued': (event, d, keys) => [
    {
      type: 'key.issued',
      data: {
        key: {
          ...keyOf(event.keyId ?? '', d, keys),
          ...(str(d.type) ? { type: d.type } : {}),
          ...(str(d.environment) ? { environment: d.environment } : {}),
          expiresAt: str(d.expiresAt) ?? null,
        },
      },
    },
  ],
  'key.updated': (event, d, keys) => [
    { type: 'key.updated', data: { key: keyOf(event.keyId ?? '', d, keys), before: d.before ?? null, after: d.after ?? null } },
  ],
  'key.revoked': (event, d, keys) => [
    { type: 'key.revoked', data: { key: keyOf(event.keyId ?? '', d, keys), reason: revocationReason(event, d) } },
  ],
  // A reset replaces a key: the old one is revoked (reason reset) and its replacement issued.
  'key.reset': (event, d, keys) => {
    const oldId = str(d.replacedKeyId);
    const replacement = keyOf(event.keyId ?? '', d, keys);
    return [
      ...(oldId
        ? [
            {
              type: 'key.revoked' as const,
              part: `revoked:${oldId}`,
              data: {
                key: keyOf(oldId, { label: d.label, application: d.application, displayPrefix: d.replacedDisplayPrefix }, keys),
                reason: 'reset' satisfies RevocationReason,
                replacedBy: replacement.id,
              },
            },
          ]
        : []),
      { type: 'key.issued', part: `issued:${replacement.id}`, data: { key: replacement, replaces: oldId ?? null } },
    ];
  },
  'key.rolled': (event, d, keys) => {
    const newId = str(d.newKeyId);
    return [
      {
        type: 'key.rolled',
        data: {
          key: keyOf(event.keyId ?? '', d, keys),
          newKey: newId ? keyOf(newId, { label: d.label, application: d.application, displayPrefix: d.newDisplayPrefix }, keys) : null,
          overlapHours: typeof d.overlapHours === 'number' ? d.overlapHours : null,
          oldKeyExpiresAt: str(d.oldKeyExpiresAt) ?? null,
        },
      },
    ];
  },
  'key.exposed': (event, d, keys) => [
    {
      type: 'key.exposed',
      data: {
        key: keyOf(event.keyId ?? '', d, keys),
        url: str(d.url) ?? null,
        source: str(d.source) ?? null,
        places: Array.isArray(d.places) ? d.places : [],
        placeCount: typeof d.placeCount === 'number' ? d.placeCount : null,
        // What happened to the key: revoked, flagged (the customer's policy keeps it working), already revoked.
        action: str(d.action) ?? null,
      },
    },
  ],
  'key.expiring': (event, d, keys) => [
    {
      type: 'key.expiring',
      data: { key: keyOf(event.keyId ?? '', d, keys), expiresAt: str(d.expiresAt) ?? null, window: str(d.window) ?? null },
    },
  ],
  // One review lists every stale key: one webhook per key.
  'keys.stale': (_event, d, keys) => {
    const listed = Array.isArray(d.keys) ? (d.keys as Details[]) : [];
    const revoked = Array.isArray(d.revoked) ? (d.revoked as unknown[]) : [];
    return listed
      .filter((k) => str(k.id))
      .map((k) => ({
        type: 'key.stale' as const,
        part: `stale:${String(k.id)}`,
        data: {
          key: keyOf(String(k.id), k, keys),
          lastUsedAt: str(k.lastUsedAt) ?? null,
          createdAt: str(k.createdAt) ?? null,
          autoRevoked: revoked.includes(k.id),
        },
      }));
  },
  'tenant-key.rotated': (event, d) => [
    {
      type: 'tenant_key.rotated',
      data: {
        graceEndsAt: str(d.graceEndsAt) ?? null,
        ...(event.keyRequestId || str(d.keyRequestId) ? { keyRequestId: event.keyRequestId ?? d.keyRequestId } : {}),
      },
    },
  ],
  'tenant-key.grace-ended': (_event, d) => [{ type: 'tenant_key.grace_ended', data: { early: d.early === true } }],
  'request.submitted': (event, d) => [{ type: 'key_request.created', data: requestData(event, d) }],
  'request.executed': (event, d) => {
    const { action: _action, ...result } = d;
    return [{ type: 'key_request.executed', data: { ...requestData(event, d), result } }];
  },
  'request.rejected': (event, d) => [{ type: 'key_request.rejected', data: { ...requestData(event, d), reason: str(d.reason) ?? null } }],
  'request.failed': none,
  'customer.updated': none,
  'key.rate-limit-changed': none,
  'keys.rotation-due': none,
  'customer.leaked-key-policy-changed': none,
  'trust_policy.created': none,
  'trust_policy.updated': none,
  'trust_policy.deleted': none,
  'token.exchanged': none,
  'token.refused': none,
  'webhook_endpoint.created': none,
  'webhook_endpoint.updated': none,
  'webhook_endpoint.deleted': none,
  'webhook_endpoint.secret_rotated': none,
  'webhook_endpoint.disabled': none,
};

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A stable id for one of several webhook events of an audit event: `evt_`, the audit id's time
 * (so it sorts with it), and 16 characters of a hash of the audit id and the item.
 */
export function derivedEventId(auditEventId: string, part: string): string {
  const time = auditEventId.slice(auditEventId.indexOf('_') + 1).slice(0, 10);
  const digest = createHash('sha256').update(`${auditEventId}/${part}`).digest();
  let tail = '';
  for (let i = 0; i < 16; i++) tail += CROCKFORD[digest[i]! & 31];
  return `evt_${time}${tail}`;
}

/**
 * The webhook events an audit event becomes (none for most types). `keys` fills in key facts
 * the event's details lack (events recorded before they carried them): see {@link keysToLookUp}.
 */
export function webhookEventsOf(event: AuditEvent, keys: KeyFactsLookup = new Map()): WebhookEventBody[] {
  const items = CATALOGUE[event.type](event, event.details ?? {}, keys);
  return items.map((item) => ({
    id: item.part === undefined ? event.id : derivedEventId(event.id, item.part),
    type: item.type,
    createdAt: event.at,
    customer: { slug: event.customerSlug },
    data: item.data,
  }));
}

/** The ids of keys an event's webhooks name without their facts (label, application, display prefix). */
export function keysToLookUp(event: AuditEvent): string[] {
  const lacking = new Set<string>();
  for (const body of webhookEventsOf(event)) {
    for (const value of Object.values(body.data)) {
      const key = value as Partial<WebhookKey> | null;
      if (key && typeof key === 'object' && typeof key.id === 'string' && key.id.startsWith('key_')) {
        if (!key.label || !key.application || !key.displayPrefix) lacking.add(key.id);
      }
    }
  }
  return [...lacking];
}

/** The event `POST /v1/webhook-endpoints/{id}/test` sends. */
export function testEvent(customerSlug: string, id: string, at: Date, endpointId: string): WebhookEventBody {
  return {
    id,
    type: 'webhook.test',
    createdAt: at.toISOString(),
    customer: { slug: customerSlug },
    data: { endpoint: { id: endpointId }, message: 'A test event: your endpoint receives and verifies Veriproof webhooks.' },
  };
}
