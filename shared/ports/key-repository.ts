import type {
  ApiKeyRecord,
  AuditEvent,
  Actor,
  Customer,
  ExpiryWarningWindow,
  KeyExposure,
  KeyIdentity,
  Plan,
  RateLimitSetting,
  MasterComponentState,
} from '../domain';

/** The row authentication reads: everything the middleware needs, from one point read. */
export interface KeyLookupEntry extends KeyIdentity {
  secretHash: string;
  status: 'active';
}

export type InsertOutcome = 'inserted' | 'label_taken' | 'key_limit_reached' | 'customer_missing';
export type RevokeRecordOutcome = 'revoked' | 'already_revoked' | 'not_found';
export type ReplaceOutcome = 'replaced' | 'not_active' | 'rolling_out';
export type RollOutcome = 'rolled' | 'not_active' | 'rolling_out' | 'not_found' | 'key_limit_reached';
export type AccessOutcome = 'updated' | 'unchanged' | 'not_active' | 'not_found';

/** A key's expiry and allowlist, as a whole (absent: none). */
export interface KeyAccess {
  expiresAt?: string;
  allowedIps?: readonly string[];
}

/** A part of a key's record that its lookup row holds a copy of: its expiry and allowlist, or its own rate limit. */
export type LookupPart = 'access' | 'rateLimit';

/** `known`: this report's places were recorded for this key before, or are among its kept places (nothing was written). */
export type ExposureOutcome = 'recorded' | 'known' | 'not_found';

/** `unchanged`: the key is not active, its expiry is another, or these warnings were recorded for it before (nothing was written). */
export type ExpiryWarningOutcome = 'recorded' | 'unchanged' | 'not_found';

/** A key found by the hash of its secret in the key-hash index: its customer and id. */
export interface IndexedKey {
  customerSlug: string;
  keyId: string;
}

/**
 * Keys, stored twice: under their customer (the record: listing, counting, labels, audit)
 * and by the hash of their secret (the lookup: authentication). The record side changes in
 * entity-group transactions with the customer's row, so the key cap and label uniqueness hold
 * under any concurrency. The services order the two sides so a crash fails closed:
 * - issue: record, then lookup (a key is never authenticating without being listed);
 * - revoke: lookup, then record (once revocation starts the key never authenticates again).
 */
export interface KeyRepository {
  /**
   * In one transaction: counts the key against the customer's cap (`keyLimit` of the
   * customer's current row), reserves its label among active keys, writes the record and the
   * audit event.
   */
  insertRecord(record: ApiKeyRecord, options: { keyLimit: (customer: Customer) => number; audit: AuditEvent }): Promise<InsertOutcome>;
  /** Writes the key's row in the key-hash index (see {@link findIndexed}), then its lookup row. */
  insertLookup(lookup: KeyLookupEntry): Promise<void>;
  /** Removes a lookup row (idempotent). */
  deleteLookup(secretHash: string): Promise<void>;
  /**
   * In one transaction: marks the record revoked, releases its label and its place under the
   * cap (every active key holds one, a key rolling out too), and writes the audit event. The
   * first revocation's who and when stand.
   */
  markRevoked(
    customerSlug: string,
    keyId: string,
    options: { revokedBy: Actor; revokedAt: string; audit: AuditEvent; reason?: string },
  ): Promise<{ outcome: RevokeRecordOutcome; record?: ApiKeyRecord }>;
  /**
   * In one transaction: the old key (active, not already rolling out) gets its expiry (computed
   * from its record) and a link to its successor; the successor is written with the old key's
   * label and a place of its own under the cap (`keyLimit` of the customer's current row:
   * `key_limit_reached` when none is free, since the old key keeps its place until it stops);
   * the audit event.
   */
  rollRecord(
    customerSlug: string,
    oldKeyId: string,
    replacement: ApiKeyRecord,
    options: { oldExpiresAt: (old: ApiKeyRecord) => string; keyLimit: (customer: Customer) => number; audit: AuditEvent },
  ): Promise<{ outcome: RollOutcome; old?: ApiKeyRecord }>;
  /**
   * Replaces an active key's expiry and allowlist with what `change` computes from its record
   * (`undefined`: leave it), with the audit event, then copies them to its lookup row.
   */
  updateAccess(
    customerSlug: string,
    keyId: string,
    change: (current: ApiKeyRecord) => KeyAccess | undefined,
    audit: (before: ApiKeyRecord, after: KeyAccess) => AuditEvent,
  ): Promise<{ outcome: AccessOutcome; record?: ApiKeyRecord }>;
  /**
   * Copies one part of a key's record to its lookup row (absent row: nothing to do, a revoked key
   * stays without one). The one way a lookup row changes after it is written: the repository's
   * own updates ({@link updateAccess}, {@link setRateLimit}) call it, and so does a roll for the old key's new end.
   */
  syncLookup(record: ApiKeyRecord, part: LookupPart): Promise<void>;
  /**
   * In one transaction: revokes an active record and writes its replacement (same label,
   * same place under the cap) with the audit events. `not_active` if it was revoked meanwhile.
   * With `rolled` (a roll without overlap) the old key must not be rolling out (`rolling_out`)
   * and is marked as rolled to its replacement (`rolledTo`, reason `rolled`).
   */
  replaceRecord(
    customerSlug: string,
    oldKeyId: string,
    replacement: ApiKeyRecord,
    options: { revokedBy: Actor; audit: AuditEvent | AuditEvent[]; rolled?: boolean },
  ): Promise<ReplaceOutcome>;
  /** Every key of one customer, oldest first (one single-partition query). */
  list(customerSlug: string): Promise<ApiKeyRecord[]>;
  get(customerSlug: string, keyId: string): Promise<ApiKeyRecord | undefined>;
  /** Authentication's single point read: the active key with this secret hash. */
  findByHash(secretHash: string): Promise<KeyLookupEntry | undefined>;
  /**
   * Sets (or, with `undefined`, removes) a key's own rate limit on its record, with the audit
   * event, and on its lookup row. `undefined` when the customer has no such key.
   */
  setRateLimit(
    customerSlug: string,
    keyId: string,
    setting: RateLimitSetting | undefined,
    audit: AuditEvent,
  ): Promise<ApiKeyRecord | undefined>;
  /**
   * Records that a key was found in public at the places one report names (distinct, in the
   * report's order), with one audit event, in one transaction whatever their number: one exposure
   * row per key and report, so the same report delivered twice, or to two instances at once,
   * records once. The record keeps the first places (a place already kept is not counted again)
   * and counts the others.
   */
  recordExposures(
    customerSlug: string,
    keyId: string,
    exposures: KeyExposure[],
    audit: AuditEvent,
  ): Promise<{ outcome: ExposureOutcome; record?: ApiKeyRecord }>;
  /**
   * In one transaction: marks the `key.expiring` warnings `windows` recorded for the key's expiry
   * `expiresAt` and writes their audit event, when the key is active, still expires at that
   * instant, and has not had every one of `windows` recorded for it; otherwise writes nothing
   * (`unchanged`). So each warning is recorded once per expiry, whoever runs the timer and however often.
   */
  recordExpiryWarning(
    customerSlug: string,
    keyId: string,
    warning: { expiresAt: string; windows: ExpiryWarningWindow[]; audit: AuditEvent },
  ): Promise<{ outcome: ExpiryWarningOutcome; record?: ApiKeyRecord }>;
  /**
   * The key with this secret hash, active or revoked, from the key-hash index: one point read.
   * A key issued before the index existed is in it once its customer is (see {@link isIndexed}).
   */
  findIndexed(secretHash: string): Promise<IndexedKey | undefined>;
  /** Whether every key of the customer is in the key-hash index (one point read). */
  isIndexed(customerSlug: string): Promise<boolean>;
  /** Puts these keys of a customer (all of them, as just listed) in the key-hash index, then marks the customer indexed. */
  indexCustomer(customerSlug: string, keys: ApiKeyRecord[]): Promise<void>;
  /** Records the hour each key was last used in (batched per customer; never moves backwards much: hourly). */
  touchLastUsed(entries: Array<{ customerSlug: string; keyId: string; hour: string }>): Promise<void>;
  /** Rewrites the customer data copied into the lookup rows of these keys (plan, master-component state). */
  refreshLookups(secretHashes: string[], data: { plan: Plan; masterComponent: MasterComponentState }): Promise<void>;
}

/**
 * The warnings of a key's record after `windows` are recorded for its expiry `expiresAt`;
 * `undefined` when nothing changes (not active, another expiry, or every window recorded before).
 * Shared by the adapters of {@link KeyRepository.recordExpiryWarning}.
 */
export function expiryWarnedAfter(
  record: Pick<ApiKeyRecord, 'status' | 'expiresAt' | 'expiryWarned'>,
  expiresAt: string,
  windows: ExpiryWarningWindow[],
): ApiKeyRecord['expiryWarned'] | undefined {
  if (record.status !== 'active' || !record.expiresAt || Date.parse(record.expiresAt) !== Date.parse(expiresAt)) return undefined;
  const warned =
    record.expiryWarned && Date.parse(record.expiryWarned.expiresAt) === Date.parse(expiresAt) ? record.expiryWarned.windows : [];
  if (windows.every((w) => warned.includes(w))) return undefined;
  return { expiresAt: new Date(Date.parse(expiresAt)).toISOString(), windows: [...new Set([...warned, ...windows])] };
}
