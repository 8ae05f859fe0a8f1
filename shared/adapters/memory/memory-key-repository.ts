import {
  withPlaces,
  type Actor,
  type ApiKeyRecord,
  type AuditEvent,
  type Customer,
  type ExpiryWarningWindow,
  type KeyExposure,
  type Plan,
  type RateLimitSetting,
  type MasterComponentState,
} from '../../domain';
import type {
  AccessOutcome,
  ExpiryWarningOutcome,
  ExposureOutcome,
  IndexedKey,
  InsertOutcome,
  KeyAccess,
  RollOutcome,
  KeyLookupEntry,
  KeyRepository,
  LookupPart,
  ReplaceOutcome,
  RevokeRecordOutcome,
} from '../../ports/key-repository';
import { expiryWarnedAfter } from '../../ports/key-repository';
import { normalizeLabel } from '../../keys/labels';
import type { MemoryAuditLog } from './memory-audit-log';
import type { MemoryCustomerRepository } from './memory-customer-repository';

/**
 * In-memory KeyRepository for unit tests of the services and the middleware. It keeps the
 * same structures and rules as the Table adapter (cap, unique labels among active keys) and
 * counts lookups, so tests can assert how often authentication reaches storage.
 */
export class MemoryKeyRepository implements KeyRepository {
  readonly records = new Map<string, ApiKeyRecord>();
  readonly lookups = new Map<string, KeyLookupEntry>();
  readonly audit: AuditEvent[] = [];
  /** Reports recorded per key (`{slug}/{keyId}` and the report's places as JSON). */
  private readonly exposureReports = new Set<string>();
  /** The key-hash index: every key that was ever given a lookup row, by its hash. */
  readonly hashIndex = new Map<string, IndexedKey>();
  /** Customers marked indexed by {@link indexCustomer} (a customer created in the repository is from its start). */
  private readonly indexedCustomers = new Set<string>();
  lookupCalls = 0;
  /** When set, every call fails with it (a storage outage). */
  failWith: Error | undefined;

  /**
   * `auditLog`: where key events also go (as on Table Storage, where they share the customer's
   * partition with the audit log); they are kept in {@link audit} either way.
   */
  constructor(
    private readonly customers: MemoryCustomerRepository,
    private readonly auditLog?: MemoryAuditLog,
  ) {}

  private recordAudit(...events: AuditEvent[]): void {
    this.audit.push(...events);
    this.auditLog?.events.push(...events);
  }

  private check(): void {
    if (this.failWith) throw this.failWith;
  }

  /** A key rolling out handed its label to its successor: it holds none (revoking the successor frees it). */
  private labelTaken(slug: string, label: string): boolean {
    return [...this.records.values()].some(
      (r) => r.customerSlug === slug && r.status === 'active' && !r.rolledTo && normalizeLabel(r.label) === normalizeLabel(label),
    );
  }

  async insertRecord(
    record: ApiKeyRecord,
    options: { keyLimit: (customer: Customer) => number; audit: AuditEvent },
  ): Promise<InsertOutcome> {
    this.check();
    const customer = this.customers.customers.get(record.customerSlug);
    if (!customer) return 'customer_missing';
    if (customer.activeKeyCount >= options.keyLimit(customer)) return 'key_limit_reached';
    if (this.labelTaken(record.customerSlug, record.label)) return 'label_taken';
    customer.activeKeyCount += 1;
    this.records.set(`${record.customerSlug}/${record.id}`, { ...record });
    this.recordAudit(options.audit);
    return 'inserted';
  }

  async insertLookup(lookup: KeyLookupEntry): Promise<void> {
    this.check();
    this.hashIndex.set(lookup.secretHash, { customerSlug: lookup.customerSlug, keyId: lookup.keyId });
    this.lookups.set(lookup.secretHash, { ...lookup });
  }

  async deleteLookup(secretHash: string): Promise<void> {
    this.check();
    this.lookups.delete(secretHash);
  }

  async markRevoked(
    customerSlug: string,
    keyId: string,
    options: { revokedBy: Actor; revokedAt: string; audit: AuditEvent; reason?: string },
  ): Promise<{ outcome: RevokeRecordOutcome; record?: ApiKeyRecord }> {
    this.check();
    const found = this.records.get(`${customerSlug}/${keyId}`);
    if (!found) return { outcome: 'not_found' };
    if (found.status === 'revoked') return { outcome: 'already_revoked', record: { ...found } };
    Object.assign(found, {
      status: 'revoked',
      revokedBy: options.revokedBy,
      revokedAt: options.revokedAt,
      ...(options.reason ? { revokedReason: options.reason } : {}),
    });
    const customer = this.customers.customers.get(customerSlug);
    // Every active key holds a place under the cap, a key rolling out too.
    if (customer) customer.activeKeyCount = Math.max(0, customer.activeKeyCount - 1);
    this.recordAudit(options.audit);
    return { outcome: 'revoked', record: { ...found } };
  }

  async replaceRecord(
    customerSlug: string,
    oldKeyId: string,
    replacement: ApiKeyRecord,
    options: { revokedBy: Actor; audit: AuditEvent | AuditEvent[]; rolled?: boolean },
  ): Promise<ReplaceOutcome> {
    this.check();
    const old = this.records.get(`${customerSlug}/${oldKeyId}`);
    if (!old || old.status !== 'active') return 'not_active';
    if (options.rolled && old.rolledTo) return 'rolling_out';
    Object.assign(old, {
      status: 'revoked',
      revokedBy: options.revokedBy,
      revokedAt: replacement.createdAt,
      ...(options.rolled ? { revokedReason: 'rolled', rolledTo: replacement.id } : {}),
    });
    this.records.set(`${customerSlug}/${replacement.id}`, { ...replacement });
    this.recordAudit(...[options.audit].flat());
    return 'replaced';
  }

  async rollRecord(
    customerSlug: string,
    oldKeyId: string,
    replacement: ApiKeyRecord,
    options: { oldExpiresAt: (old: ApiKeyRecord) => string; keyLimit: (customer: Customer) => number; audit: AuditEvent },
  ): Promise<{ outcome: RollOutcome; old?: ApiKeyRecord }> {
    this.check();
    const old = this.records.get(`${customerSlug}/${oldKeyId}`);
    const customer = this.customers.customers.get(customerSlug);
    if (!old || !customer) return { outcome: 'not_found' };
    if (old.status !== 'active') return { outcome: 'not_active', old: { ...old } };
    if (old.rolledTo) return { outcome: 'rolling_out', old: { ...old } };
    if (customer.activeKeyCount >= options.keyLimit(customer)) return { outcome: 'key_limit_reached', old: { ...old } };
    customer.activeKeyCount += 1;
    Object.assign(old, { expiresAt: options.oldExpiresAt({ ...old }), rolledTo: replacement.id });
    this.records.set(`${customerSlug}/${replacement.id}`, { ...replacement });
    this.recordAudit(options.audit);
    return { outcome: 'rolled', old: { ...old } };
  }

  async updateAccess(
    customerSlug: string,
    keyId: string,
    change: (current: ApiKeyRecord) => KeyAccess | undefined,
    audit: (before: ApiKeyRecord, after: KeyAccess) => AuditEvent,
  ): Promise<{ outcome: AccessOutcome; record?: ApiKeyRecord }> {
    this.check();
    const found = this.records.get(`${customerSlug}/${keyId}`);
    if (!found) return { outcome: 'not_found' };
    if (found.status !== 'active') return { outcome: 'not_active', record: { ...found } };
    const access = change({ ...found });
    if (!access) return { outcome: 'unchanged', record: { ...found } };
    this.recordAudit(audit({ ...found }, access));
    found.expiresAt = access.expiresAt;
    found.allowedIps = access.allowedIps?.length ? [...access.allowedIps] : undefined;
    await this.syncLookup(found, 'access');
    return { outcome: 'updated', record: { ...found } };
  }

  async syncLookup(record: ApiKeyRecord, part: LookupPart): Promise<void> {
    this.check();
    const lookup = this.lookups.get(record.secretHash);
    if (!lookup) return;
    if (part === 'rateLimit') {
      lookup.rateLimit = record.rateLimit;
      return;
    }
    lookup.expiresAt = record.expiresAt;
    lookup.allowedIps = record.allowedIps?.length ? [...record.allowedIps] : undefined;
  }

  async list(customerSlug: string): Promise<ApiKeyRecord[]> {
    this.check();
    return [...this.records.values()]
      .filter((r) => r.customerSlug === customerSlug)
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((r) => ({ ...r }));
  }

  async get(customerSlug: string, keyId: string): Promise<ApiKeyRecord | undefined> {
    this.check();
    const found = this.records.get(`${customerSlug}/${keyId}`);
    return found ? { ...found } : undefined;
  }

  async findByHash(secretHash: string): Promise<KeyLookupEntry | undefined> {
    this.check();
    this.lookupCalls += 1;
    const found = this.lookups.get(secretHash);
    return found ? { ...found } : undefined;
  }

  async setRateLimit(
    customerSlug: string,
    keyId: string,
    setting: RateLimitSetting | undefined,
    audit: AuditEvent,
  ): Promise<ApiKeyRecord | undefined> {
    this.check();
    const found = this.records.get(`${customerSlug}/${keyId}`);
    if (!found) return undefined;
    found.rateLimit = setting;
    await this.syncLookup(found, 'rateLimit');
    this.recordAudit(audit);
    return { ...found };
  }

  async recordExposures(
    customerSlug: string,
    keyId: string,
    places: KeyExposure[],
    audit: AuditEvent,
  ): Promise<{ outcome: ExposureOutcome; record?: ApiKeyRecord }> {
    this.check();
    const found = this.records.get(`${customerSlug}/${keyId}`);
    if (!found) return { outcome: 'not_found' };
    const report = `${customerSlug}/${keyId} ${JSON.stringify([...new Set(places.map((e) => JSON.stringify([e.reporter, e.source, e.url])))].sort())}`;
    const { exposures, added } = withPlaces(found.exposures ?? [], places);
    if (added === 0 || this.exposureReports.has(report)) return { outcome: 'known', record: { ...found } };
    this.exposureReports.add(report);
    found.exposures = exposures.map((e) => ({ ...e }));
    found.exposureCount = (found.exposureCount ?? 0) + added;
    this.recordAudit(audit);
    return { outcome: 'recorded', record: { ...found } };
  }

  async recordExpiryWarning(
    customerSlug: string,
    keyId: string,
    warning: { expiresAt: string; windows: ExpiryWarningWindow[]; audit: AuditEvent },
  ): Promise<{ outcome: ExpiryWarningOutcome; record?: ApiKeyRecord }> {
    this.check();
    const found = this.records.get(`${customerSlug}/${keyId}`);
    if (!found) return { outcome: 'not_found' };
    const warned = expiryWarnedAfter(found, warning.expiresAt, warning.windows);
    if (!warned) return { outcome: 'unchanged', record: { ...found } };
    found.expiryWarned = warned;
    this.recordAudit(warning.audit);
    return { outcome: 'recorded', record: { ...found } };
  }

  async findIndexed(secretHash: string): Promise<IndexedKey | undefined> {
    this.check();
    this.lookupCalls += 1;
    const found = this.hashIndex.get(secretHash);
    return found ? { ...found } : undefined;
  }

  async isIndexed(customerSlug: string): Promise<boolean> {
    this.check();
    // Every key here was indexed when it was given its lookup row.
    return this.customers.customers.has(customerSlug) || this.indexedCustomers.has(customerSlug);
  }

  async indexCustomer(customerSlug: string, keys: ApiKeyRecord[]): Promise<void> {
    this.check();
    for (const key of keys) this.hashIndex.set(key.secretHash, { customerSlug, keyId: key.id });
    this.indexedCustomers.add(customerSlug);
  }

  async touchLastUsed(entries: Array<{ customerSlug: string; keyId: string; hour: string }>): Promise<void> {
    this.check();
    for (const e of entries) {
      const found = this.records.get(`${e.customerSlug}/${e.keyId}`);
      if (found) found.lastUsedAt = e.hour;
    }
  }

  async refreshLookups(secretHashes: string[], data: { plan: Plan; masterComponent: MasterComponentState }): Promise<void> {
    this.check();
    for (const hash of secretHashes) {
      const found = this.lookups.get(hash);
      if (found) Object.assign(found, { plan: data.plan, masterComponent: { ...data.masterComponent } });
    }
  }
}
