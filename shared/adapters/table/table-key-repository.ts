import { odata, type TransactionAction } from '@azure/data-tables';
import { timingSafeEqual } from 'node:crypto';
import {
  withPlaces,
  type Actor,
  type ApiKeyRecord,
  type AuditEvent,
  type Customer,
  type ExpiryWarningWindow,
  type KeyExposure,
  type MasterComponentState,
  type Plan,
  type RateLimitSetting,
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
import { absentIfNotFound } from '../azure-errors';
import { withEtagRetry, done } from './etag-retry';
import {
  KEY_ROW_END,
  KEY_ROW_PREFIX,
  exposureEntity,
  expiryWarnedColumn,
  keyEntity,
  keyRowKey,
  labelEntity,
  labelRowKey,
  lookupColumnsOf,
  accessColumns,
  customerColumns,
  rateLimitColumns,
  lookupEntity,
  lookupPartition,
  revokedColumns,
  toLookupEntry,
  toRecord,
  type KeyEntity,
  type LabelEntity,
  type LookupEntity,
} from './key-rows';
import { auditEntity, groupBy, mergeStep, withoutUndefined } from './rows';
import { PROFILE_ROW, activeKeyCountOf, toCustomer, type CustomerEntity } from './table-customer-repository';
import { deferredWork } from './storage-operations';
import { TableKeyHashIndex } from './table-key-hash-index';
import type { TableStorage } from './table-storage';

export { keyRowKey, lookupPartition } from './key-rows';

type WithEtag<T> = T & { etag: string };

export class TableKeyRepository implements KeyRepository {
  private readonly hashIndex: TableKeyHashIndex;

  constructor(private readonly storage: TableStorage) {
    this.hashIndex = new TableKeyHashIndex(storage);
  }

  private get customers() {
    return this.storage.clients.customers;
  }

  private get lookups() {
    return this.storage.clients.keyLookup;
  }

  async insertRecord(
    record: ApiKeyRecord,
    options: { keyLimit: (customer: Customer) => number; audit: AuditEvent },
  ): Promise<InsertOutcome> {
    await this.storage.step('keys.insertRecord');
    const pk = record.customerSlug;
    return withEtagRetry<InsertOutcome>('key insert: the customer row', async () => {
      const row = await this.getRow<CustomerEntity>(pk, PROFILE_ROW);
      if (!row) return done('customer_missing');
      const customer = toCustomer(row);
      if (customer.activeKeyCount >= options.keyLimit(customer)) return done('key_limit_reached');
      return {
        write: () =>
          this.transaction([
            mergeStep(row, { activeKeyCount: customer.activeKeyCount + 1 }),
            ['create', labelEntity(pk, record.label, record.id)],
            ['create', keyEntity(record)],
            ['create', auditEntity(options.audit)],
          ]),
        written: () => 'inserted',
        // Key and audit rows have fresh ids: a conflict can only be the label's row.
        failed: (status) => (status === 409 ? 'label_taken' : undefined),
      };
    });
  }

  async insertLookup(lookup: KeyLookupEntry): Promise<void> {
    const { masterComponent } = lookup;
    if (!masterComponent)
      throw new Error(`key ${lookup.keyId}: a lookup row is never written without its customer's master-component state`);
    await this.storage.step('keys.insertLookup');
    const row = lookupEntity({ ...lookup, masterComponent });
    // Indexed first: a key that can authenticate can always be found by a leak report.
    await this.hashIndex.add({ secretHash: lookup.secretHash, customerSlug: lookup.customerSlug, keyId: lookup.keyId });
    await this.storage.call((o) => this.lookups.createEntity(row, o));
  }

  async deleteLookup(secretHash: string): Promise<void> {
    await this.storage.step('keys.deleteLookup');
    await absentIfNotFound(this.storage.call((o) => this.lookups.deleteEntity(lookupPartition(secretHash), secretHash, o)));
  }

  async markRevoked(
    customerSlug: string,
    keyId: string,
    options: { revokedBy: Actor; revokedAt: string; audit: AuditEvent; reason?: string },
  ): Promise<{ outcome: RevokeRecordOutcome; record?: ApiKeyRecord }> {
    await this.storage.step('keys.markRevoked');
    return withEtagRetry<{ outcome: RevokeRecordOutcome; record?: ApiKeyRecord }>('key revoke: the key', async () => {
      const key = await this.getRow<KeyEntity>(customerSlug, keyRowKey(keyId));
      if (!key) return done({ outcome: 'not_found' });
      if (key.status === 'revoked') return done({ outcome: 'already_revoked', record: toRecord(key) });
      const customer = await this.getRow<CustomerEntity>(customerSlug, PROFILE_ROW);
      const label = await this.getRow<LabelEntity>(customerSlug, labelRowKey(key.label));
      const actions: TransactionAction[] = [
        mergeStep(key, revokedColumns(options.revokedAt, options.revokedBy, options.reason)),
        ['create', auditEntity(options.audit)],
      ];
      // Every active key holds a place under the cap, a key rolling out too (unless rolled before that rule).
      if (customer && (!key.rolledTo || key.rolledHoldingPlace === true)) {
        actions.push(mergeStep(customer, { activeKeyCount: Math.max(0, activeKeyCountOf(customer) - 1) }));
      }
      if (label && label.keyId === keyId) actions.push(['delete', { partitionKey: customerSlug, rowKey: label.rowKey }]);
      return {
        write: () => this.transaction(actions),
        written: () => ({
          outcome: 'revoked',
          record: {
            ...toRecord(key),
            status: 'revoked' as const,
            revokedAt: options.revokedAt,
            revokedBy: options.revokedBy,
            ...(options.reason ? { revokedReason: options.reason } : {}),
          },
        }),
        staleOn: [412, 404],
      };
    });
  }

  async replaceRecord(
    customerSlug: string,
    oldKeyId: string,
    replacement: ApiKeyRecord,
    options: { revokedBy: Actor; audit: AuditEvent | AuditEvent[]; rolled?: boolean },
  ): Promise<ReplaceOutcome> {
    await this.storage.step('keys.replaceRecord');
    return withEtagRetry<ReplaceOutcome>('key replace: the key', async () => {
      const old = await this.getRow<KeyEntity>(customerSlug, keyRowKey(oldKeyId));
      if (!old || old.status !== 'active') return done('not_active');
      if (options.rolled && old.rolledTo) return done('rolling_out');
      const labelAction = await this.labelTo(customerSlug, old.label, replacement.id);
      return {
        write: () =>
          this.transaction([
            mergeStep(old, {
              ...revokedColumns(replacement.createdAt, options.revokedBy),
              ...(options.rolled ? { revokedReason: 'rolled', rolledTo: replacement.id } : {}),
            }),
            ['create', keyEntity(replacement)],
            labelAction,
            ...[options.audit].flat().map((e): TransactionAction => ['create', auditEntity(e)]),
          ]),
        written: () => 'replaced',
        staleOn: [412, 409, 404],
      };
    });
  }

  async rollRecord(
    customerSlug: string,
    oldKeyId: string,
    replacement: ApiKeyRecord,
    options: { oldExpiresAt: (old: ApiKeyRecord) => string; keyLimit: (customer: Customer) => number; audit: AuditEvent },
  ): Promise<{ outcome: RollOutcome; old?: ApiKeyRecord }> {
    await this.storage.step('keys.rollRecord');
    return withEtagRetry<{ outcome: RollOutcome; old?: ApiKeyRecord }>('key roll: the key', async () => {
      const old = await this.getRow<KeyEntity>(customerSlug, keyRowKey(oldKeyId));
      if (!old) return done({ outcome: 'not_found' });
      const record = toRecord(old);
      if (record.status !== 'active') return done({ outcome: 'not_active', old: record });
      if (record.rolledTo) return done({ outcome: 'rolling_out', old: record });
      const customerRow = await this.getRow<CustomerEntity>(customerSlug, PROFILE_ROW);
      if (!customerRow) return done({ outcome: 'not_found' });
      const customer = toCustomer(customerRow);
      if (customer.activeKeyCount >= options.keyLimit(customer)) return done({ outcome: 'key_limit_reached', old: record });
      const expiresAt = options.oldExpiresAt(record);
      const labelAction = await this.labelTo(customerSlug, old.label, replacement.id);
      return {
        write: () =>
          this.transaction([
            // The successor takes a place of its own (the customer's row, as on issue): the old key keeps its place until it stops.
            mergeStep(customerRow, { activeKeyCount: customer.activeKeyCount + 1 }),
            // The old key stops at `expiresAt`.
            mergeStep(old, { expiresAt, rolledTo: replacement.id, rolledHoldingPlace: true }),
            ['create', keyEntity(replacement)],
            labelAction,
            ['create', auditEntity(options.audit)],
          ]),
        written: () => ({ outcome: 'rolled', old: { ...record, expiresAt, rolledTo: replacement.id } }),
        staleOn: [412, 409, 404],
      };
    });
  }

  async updateAccess(
    customerSlug: string,
    keyId: string,
    change: (current: ApiKeyRecord) => KeyAccess | undefined,
    audit: (before: ApiKeyRecord, after: KeyAccess) => AuditEvent,
  ): Promise<{ outcome: AccessOutcome; record?: ApiKeyRecord }> {
    await this.storage.step('keys.updateAccess');
    return withEtagRetry<{ outcome: AccessOutcome; record?: ApiKeyRecord }>('key access: the key', async () => {
      const key = await this.getRow<KeyEntity>(customerSlug, keyRowKey(keyId));
      if (!key) return done({ outcome: 'not_found' });
      const record = toRecord(key);
      if (record.status !== 'active') return done({ outcome: 'not_active', record });
      const access = change(record);
      if (!access) return done({ outcome: 'unchanged', record });
      const updated = withoutUndefined({
        ...record,
        expiresAt: access.expiresAt,
        allowedIps: access.allowedIps?.length ? [...access.allowedIps] : undefined,
      });
      return {
        write: () => this.transaction([mergeStep(key, accessColumns(access)), ['create', auditEntity(audit(record, access))]]),
        written: async () => {
          // Absent when the key was revoked meanwhile: nothing to copy to.
          await this.syncLookup(updated, 'access');
          return { outcome: 'updated', record: updated };
        },
      };
    });
  }

  syncLookup(record: ApiKeyRecord, part: LookupPart): Promise<void> {
    return this.mergeLookup(record.secretHash, lookupColumnsOf(record, part));
  }

  async list(customerSlug: string): Promise<ApiKeyRecord[]> {
    return this.storage.call(async (o) => {
      const rows: ApiKeyRecord[] = [];
      const query = this.customers.listEntities<KeyEntity>({
        queryOptions: {
          filter: odata`PartitionKey eq ${customerSlug} and RowKey ge ${KEY_ROW_PREFIX} and RowKey lt ${KEY_ROW_END}`,
        },
        abortSignal: o.abortSignal,
      });
      for await (const row of query) rows.push(toRecord(row));
      return rows;
    });
  }

  async get(customerSlug: string, keyId: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.getRow<KeyEntity>(customerSlug, keyRowKey(keyId));
    return row ? toRecord(row) : undefined;
  }

  async findByHash(secretHash: string): Promise<KeyLookupEntry | undefined> {
    const row = await absentIfNotFound(
      this.storage.call((o) => this.lookups.getEntity<LookupEntity>(lookupPartition(secretHash), secretHash, o)),
    );
    if (!row) return undefined;
    // The store matched on the row key already; compare again in constant time so a
    // storage or emulator quirk (case folding, say) can never let a different hash through.
    const stored = Buffer.from(row.rowKey, 'utf8');
    const presented = Buffer.from(secretHash, 'utf8');
    if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) return undefined;
    if (row.status !== 'active') return undefined;
    return toLookupEntry(row, secretHash);
  }

  async setRateLimit(
    customerSlug: string,
    keyId: string,
    setting: RateLimitSetting | undefined,
    audit: AuditEvent,
  ): Promise<ApiKeyRecord | undefined> {
    await this.storage.step('keys.setRateLimit');
    return withEtagRetry<ApiKeyRecord | undefined>('key rate limit: the key', async () => {
      const key = await this.getRow<KeyEntity>(customerSlug, keyRowKey(keyId));
      if (!key) return done(undefined);
      return {
        write: () => this.transaction([mergeStep(key, rateLimitColumns(setting)), ['create', auditEntity(audit)]]),
        written: async () => {
          const updated = { ...toRecord(key), rateLimit: setting };
          // Absent when the key was revoked meanwhile: nothing to copy to.
          if (key.status === 'active') await this.syncLookup(updated, 'rateLimit');
          return updated;
        },
      };
    });
  }

  async recordExposures(
    customerSlug: string,
    keyId: string,
    places: KeyExposure[],
    audit: AuditEvent,
  ): Promise<{ outcome: ExposureOutcome; record?: ApiKeyRecord }> {
    await this.storage.step('keys.recordExposures');
    return withEtagRetry<{ outcome: ExposureOutcome; record?: ApiKeyRecord }>('key exposure: the key', async () => {
      const key = await this.getRow<KeyEntity>(customerSlug, keyRowKey(keyId));
      if (!key) return done({ outcome: 'not_found' });
      const record = toRecord(key);
      const { exposures, added } = withPlaces(record.exposures ?? [], places);
      if (added === 0) return done({ outcome: 'known', record });
      const exposureCount = (record.exposureCount ?? 0) + added;
      return {
        write: () =>
          this.transaction([
            ['create', exposureEntity(customerSlug, keyId, places)],
            mergeStep(key, { exposures: JSON.stringify(exposures), exposureCount }),
            ['create', auditEntity(audit)],
          ]),
        written: () => ({ outcome: 'recorded', record: { ...record, exposures, exposureCount } }),
        // The audit row has a fresh id: a conflict is this report's row, recorded before.
        failed: (status) => (status === 409 ? { outcome: 'known', record } : undefined),
      };
    });
  }

  async recordExpiryWarning(
    customerSlug: string,
    keyId: string,
    warning: { expiresAt: string; windows: ExpiryWarningWindow[]; audit: AuditEvent },
  ): Promise<{ outcome: ExpiryWarningOutcome; record?: ApiKeyRecord }> {
    await this.storage.step('keys.recordExpiryWarning');
    return withEtagRetry<{ outcome: ExpiryWarningOutcome; record?: ApiKeyRecord }>('key expiry warning: the key', async () => {
      const key = await this.getRow<KeyEntity>(customerSlug, keyRowKey(keyId));
      if (!key) return done({ outcome: 'not_found' });
      const record = toRecord(key);
      const expiryWarned = expiryWarnedAfter(record, warning.expiresAt, warning.windows);
      if (!expiryWarned) return done({ outcome: 'unchanged', record });
      return {
        write: () =>
          this.transaction([mergeStep(key, { expiryWarned: expiryWarnedColumn(expiryWarned) }), ['create', auditEntity(warning.audit)]]),
        written: () => ({ outcome: 'recorded', record: { ...record, expiryWarned } }),
      };
    });
  }

  async touchLastUsed(entries: Array<{ customerSlug: string; keyId: string; hour: string }>): Promise<void> {
    for (const [customerSlug, keys] of groupBy(entries, (e) => e.customerSlug)) {
      for (let i = 0; i < keys.length; i += 100) {
        const actions: TransactionAction[] = keys
          .slice(i, i + 100)
          .map((k) => ['update', { partitionKey: customerSlug, rowKey: keyRowKey(k.keyId), lastUsedAt: k.hour }, 'Merge', { etag: '*' }]);
        // Absent only if a key row were gone (none ever is). Deferred: the usage flush writes it.
        await absentIfNotFound(this.storage.call((o) => this.customers.submitTransaction(actions, deferredWork(o))));
      }
    }
  }

  async refreshLookups(secretHashes: string[], data: { plan: Plan; masterComponent: MasterComponentState }): Promise<void> {
    await this.storage.step('keys.refreshLookups');
    for (const hash of secretHashes) await this.mergeLookup(hash, customerColumns(data));
  }

  findIndexed(secretHash: string): Promise<IndexedKey | undefined> {
    return this.hashIndex.find(secretHash);
  }

  isIndexed(customerSlug: string): Promise<boolean> {
    return this.hashIndex.isComplete(customerSlug);
  }

  async indexCustomer(customerSlug: string, keys: ApiKeyRecord[]): Promise<void> {
    await this.storage.step('keys.indexCustomer');
    await this.hashIndex.complete(customerSlug, keys);
  }

  /** The transaction step that hands a label's reservation to another key (a replacement, a roll's successor). */
  private async labelTo(customerSlug: string, label: string, keyId: string): Promise<TransactionAction> {
    const row = await this.getRow<LabelEntity>(customerSlug, labelRowKey(label));
    return row
      ? ['update', labelEntity(customerSlug, label, keyId), 'Replace', { etag: row.etag }]
      : ['create', labelEntity(customerSlug, label, keyId)];
  }

  /**
   * Every change to a lookup row after it is written goes through here: a Merge of some of its
   * columns. Merge requires the row to exist, so a lookup row deleted by a revocation is never recreated.
   */
  private async mergeLookup(secretHash: string, columns: Partial<LookupEntity>): Promise<void> {
    await absentIfNotFound(
      this.storage.call((o) =>
        this.lookups.updateEntity({ partitionKey: lookupPartition(secretHash), rowKey: secretHash, ...columns }, 'Merge', {
          ...o,
          etag: '*',
        }),
      ),
    );
  }

  /** One entity-group transaction in the customers table (a customer's partition). */
  private transaction(actions: TransactionAction[]): Promise<unknown> {
    return this.storage.call((o) => this.customers.submitTransaction(actions, o));
  }

  private getRow<T extends object>(pk: string, rk: string): Promise<WithEtag<T> | undefined> {
    return absentIfNotFound(this.storage.call((o) => this.customers.getEntity<T>(pk, rk, o)));
  }
}
