import { odata, type TransactionAction } from '@azure/data-tables';
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  withPlaces,
  type Actor,
  type ApiKeyRecord,
  type AuditEvent,
  type Customer,
  type KeyExposure,
  type KeyEnvironment,
  type KeyStatus,
  type KeyType,
  type Plan,
  type RateLimitSetting,
  type MasterComponentState,
} from '../../domain';
import type {
  AccessOutcome,
  ExposureOutcome,
  IndexedKey,
  InsertOutcome,
  KeyAccess,
  RollOutcome,
  KeyLookupEntry,
  KeyRepository,
  ReplaceOutcome,
  RevokeRecordOutcome,
} from '../../ports/key-repository';
import { normalizeLabel } from '../../keys/labels';
import { absentIfNotFound, statusOf } from '../azure-errors';
import { CorruptRowError, actorFromText, actorToText, auditEntity, backoff, withoutUndefined } from './rows';
import { PROFILE_ROW, activeKeyCountOf, toCustomer, type CustomerEntity } from './table-customer-repository';
import { deferredWork } from './storage-operations';
import { TableKeyHashIndex } from './table-key-hash-index';
import type { TableStorage } from './table-storage';

const KEY_ROW_PREFIX = 'key_';
/** The first character after `key_` in ASCII order: the exclusive upper bound of a key-row range query. */
const KEY_ROW_END = 'key`';
const MAX_ATTEMPTS = 30;

/** Key rows live in their customer's partition of the customers table. */
export const keyRowKey = (keyId: string): string => `${KEY_ROW_PREFIX}${keyId}`;

/** Lookup rows are spread over 65,536 partitions by the leading hex digits of the hash. */
export const lookupPartition = (secretHash: string): string => secretHash.slice(0, 4);

/** The row that holds a customer's active label once (labels compare as normalizeLabel has them). */
const labelRowKey = (label: string): string =>
  `label_${createHash('sha256').update(normalizeLabel(label), 'utf8').digest('hex').slice(0, 32)}`;

const placeOf = (e: KeyExposure): string => JSON.stringify([e.reporter, e.source, e.url]);

/**
 * One row per key and report (created in the transaction that records the exposure), named by
 * the places the report gave for the key: the same report again (GitHub retries, or a second
 * instance) conflicts on it, so it is recorded once, however many places it names.
 */
const exposureRowKey = (keyId: string, exposures: KeyExposure[]): string =>
  `exposure_${keyId}_${createHash('sha256')
    .update(JSON.stringify([...new Set(exposures.map(placeOf))].sort()), 'utf8')
    .digest('hex')
    .slice(0, 32)}`;

type KeyEntity = {
  partitionKey: string;
  rowKey: string;
  id: string;
  customerId: string;
  label: string;
  application: string;
  type: string;
  environment: string;
  displayPrefix: string;
  secretHash: string;
  status: string;
  createdAt: string;
  createdBy: string;
  revokedAt?: string;
  revokedBy?: string;
  lastUsedAt?: string;
  /** The key's own rate limit (-1: none; Merge cannot remove a property). */
  rateLimitRps?: number;
  rateLimitBurst?: number;
  /** JSON array of the first places the key was found in public (KeyExposure). */
  exposures?: string;
  exposureCount?: number;
  /** '' once cleared (Merge cannot remove a property), like allowedIps (a JSON array). */
  expiresAt?: string;
  allowedIps?: string;
  rolledTo?: string;
  /**
   * Written with `rolledTo` since a key rolling out holds its own place under the cap. A key
   * rolled before (no such column) handed its place to its successor, so revoking it frees none.
   * Only such keys need it: they are gone once the last overlap then running ends (168 h at most).
   */
  rolledHoldingPlace?: boolean;
  rolledFrom?: string;
  revokedReason?: string;
};

const rateLimitColumns = (setting: RateLimitSetting | undefined) => ({
  rateLimitRps: setting?.requestsPerSecond ?? -1,
  rateLimitBurst: setting?.burst ?? -1,
});

function rateLimitOf(row: { rateLimitRps?: number; rateLimitBurst?: number }): RateLimitSetting | undefined {
  return typeof row.rateLimitRps === 'number' && row.rateLimitRps > 0 && typeof row.rateLimitBurst === 'number' && row.rateLimitBurst > 0
    ? { requestsPerSecond: row.rateLimitRps, burst: row.rateLimitBurst }
    : undefined;
}

type LookupEntity = {
  partitionKey: string;
  rowKey: string;
  customerId: string;
  customerSlug: string;
  plan: string;
  keyId: string;
  keyLabel: string;
  application: string;
  environment: string;
  keyType: string;
  status: string;
  /** The customer's master-component state (see masterComponentColumns; '' for no previous version or grace end). */
  componentVersion: string;
  previousComponentVersion: string;
  graceEndsAt: string;
  requireComponent: boolean;
  rateLimitRps?: number;
  rateLimitBurst?: number;
  /** '' for none (Merge cannot remove a property). */
  expiresAt?: string;
  /** A JSON array; '' for none. */
  allowedIps?: string;
};

/** What a key's expiry and allowlist look like in a row: '' for none. */
const accessColumns = (access: { expiresAt?: string | undefined; allowedIps?: readonly string[] | undefined }) => ({
  expiresAt: access.expiresAt ?? '',
  allowedIps: access.allowedIps?.length ? JSON.stringify(access.allowedIps) : '',
});

function allowedIpsOf(row: { allowedIps?: string }, what: string): string[] | undefined {
  if (!row.allowedIps) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(row.allowedIps);
  } catch {
    // Reported below.
  }
  if (!Array.isArray(parsed) || !parsed.every((e) => typeof e === 'string'))
    throw new CorruptRowError(`the allowlist of ${what} is not a list`);
  return parsed;
}

const masterComponentColumns = (state: MasterComponentState) => ({
  componentVersion: state.componentVersion,
  previousComponentVersion: state.previousComponentVersion ?? '',
  graceEndsAt: state.graceEndsAt ?? '',
  requireComponent: state.requireComponent,
});

/** The state the door checks components against: every lookup row is written with it. */
function masterComponentOf(row: LookupEntity): MasterComponentState {
  if (!row.componentVersion) throw new CorruptRowError(`the lookup row of key ${row.keyId} has no master-component state`);
  return {
    componentVersion: row.componentVersion,
    previousComponentVersion: row.previousComponentVersion || undefined,
    graceEndsAt: row.graceEndsAt || undefined,
    requireComponent: row.requireComponent === true,
  };
}

function keyEntity(record: ApiKeyRecord): KeyEntity {
  return withoutUndefined({
    partitionKey: record.customerSlug,
    rowKey: keyRowKey(record.id),
    id: record.id,
    customerId: record.customerId,
    label: record.label,
    application: record.application,
    type: record.type,
    environment: record.environment,
    displayPrefix: record.displayPrefix,
    secretHash: record.secretHash,
    status: record.status,
    createdAt: record.createdAt,
    createdBy: actorToText(record.createdBy),
    revokedAt: record.revokedAt,
    revokedBy: record.revokedBy ? actorToText(record.revokedBy) : undefined,
    lastUsedAt: record.lastUsedAt,
    ...(record.rateLimit ? rateLimitColumns(record.rateLimit) : {}),
    ...(record.exposures ? { exposures: JSON.stringify(record.exposures), exposureCount: record.exposureCount } : {}),
    ...(record.expiresAt || record.allowedIps ? accessColumns(record) : {}),
    rolledTo: record.rolledTo,
    rolledFrom: record.rolledFrom,
    revokedReason: record.revokedReason,
  });
}

function exposuresOf(row: KeyEntity): KeyExposure[] | undefined {
  if (row.exposures === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(row.exposures);
  } catch {
    // Reported below.
  }
  if (!Array.isArray(parsed) || !parsed.every((e) => e && typeof e === 'object' && typeof (e as KeyExposure).url === 'string'))
    throw new CorruptRowError(`the exposures of key ${row.id} are not a list of exposures`);
  return parsed as KeyExposure[];
}

function toRecord(row: KeyEntity): ApiKeyRecord {
  const exposures = exposuresOf(row);
  return withoutUndefined({
    id: row.id,
    customerId: row.customerId,
    customerSlug: row.partitionKey,
    label: row.label,
    application: row.application,
    type: row.type as KeyType,
    environment: row.environment as KeyEnvironment,
    displayPrefix: row.displayPrefix,
    secretHash: row.secretHash,
    status: row.status as KeyStatus,
    createdAt: row.createdAt,
    createdBy: actorFromText(row.createdBy),
    revokedAt: row.revokedAt,
    revokedBy: row.revokedBy ? actorFromText(row.revokedBy) : undefined,
    lastUsedAt: row.lastUsedAt,
    rateLimit: rateLimitOf(row),
    exposures,
    exposureCount: exposures ? Math.max(exposures.length, typeof row.exposureCount === 'number' ? row.exposureCount : 0) : undefined,
    expiresAt: row.expiresAt || undefined,
    allowedIps: allowedIpsOf(row, `key ${row.id}`),
    rolledTo: row.rolledTo || undefined,
    rolledFrom: row.rolledFrom || undefined,
    revokedReason: row.revokedReason || undefined,
  });
}

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
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      await backoff(attempt);
      const row = await this.getRow<CustomerEntity>(pk, PROFILE_ROW);
      if (!row) return 'customer_missing';
      const customer = toCustomer(row);
      if (customer.activeKeyCount >= options.keyLimit(customer)) return 'key_limit_reached';
      try {
        await this.storage.call((o) =>
          this.customers.submitTransaction(
            [
              [
                'update',
                { partitionKey: pk, rowKey: PROFILE_ROW, activeKeyCount: customer.activeKeyCount + 1 },
                'Merge',
                { etag: row.etag },
              ],
              ['create', { partitionKey: pk, rowKey: labelRowKey(record.label), keyId: record.id }],
              ['create', keyEntity(record)],
              ['create', auditEntity(options.audit)],
            ],
            o,
          ),
        );
        return 'inserted';
      } catch (error) {
        const status = statusOf(error);
        // Key and audit rows have fresh ids: a conflict can only be the label's row.
        if (status === 409) return 'label_taken';
        if (status !== 412) throw error;
      }
    }
    throw new Error('key insert: the customer row kept changing under concurrent updates');
  }

  async insertLookup(lookup: KeyLookupEntry): Promise<void> {
    if (!lookup.masterComponent)
      throw new Error(`key ${lookup.keyId}: a lookup row is never written without its customer's master-component state`);
    await this.storage.step('keys.insertLookup');
    const row: LookupEntity = {
      partitionKey: lookupPartition(lookup.secretHash),
      rowKey: lookup.secretHash,
      customerId: lookup.customerId,
      customerSlug: lookup.customerSlug,
      plan: lookup.plan,
      keyId: lookup.keyId,
      keyLabel: lookup.keyLabel,
      application: lookup.application,
      environment: lookup.environment,
      keyType: lookup.keyType,
      status: lookup.status,
      ...masterComponentColumns(lookup.masterComponent),
      ...(lookup.rateLimit ? rateLimitColumns(lookup.rateLimit) : {}),
      ...accessColumns(lookup),
    };
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
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      await backoff(attempt);
      const key = await this.getRow<KeyEntity>(customerSlug, keyRowKey(keyId));
      if (!key) return { outcome: 'not_found' };
      if (key.status === 'revoked') return { outcome: 'already_revoked', record: toRecord(key) };
      const customer = await this.getRow<CustomerEntity>(customerSlug, PROFILE_ROW);
      const label = await this.getRow<{ partitionKey: string; rowKey: string; keyId: string }>(customerSlug, labelRowKey(key.label));
      const actions: TransactionAction[] = [
        [
          'update',
          {
            partitionKey: customerSlug,
            rowKey: key.rowKey,
            status: 'revoked',
            revokedAt: options.revokedAt,
            revokedBy: actorToText(options.revokedBy),
            ...(options.reason ? { revokedReason: options.reason } : {}),
          },
          'Merge',
          { etag: key.etag },
        ],
        ['create', auditEntity(options.audit)],
      ];
      // Every active key holds a place under the cap, a key rolling out too (unless rolled before that rule).
      if (customer && (!key.rolledTo || key.rolledHoldingPlace === true)) {
        actions.push([
          'update',
          { partitionKey: customerSlug, rowKey: PROFILE_ROW, activeKeyCount: Math.max(0, activeKeyCountOf(customer) - 1) },
          'Merge',
          { etag: customer.etag },
        ]);
      }
      if (label && label.keyId === keyId) actions.push(['delete', { partitionKey: customerSlug, rowKey: label.rowKey }]);
      try {
        await this.storage.call((o) => this.customers.submitTransaction(actions, o));
        return {
          outcome: 'revoked',
          record: {
            ...toRecord(key),
            status: 'revoked',
            revokedAt: options.revokedAt,
            revokedBy: options.revokedBy,
            ...(options.reason ? { revokedReason: options.reason } : {}),
          },
        };
      } catch (error) {
        if (statusOf(error) !== 412 && statusOf(error) !== 404) throw error;
      }
    }
    throw new Error('key revoke: the key kept changing under concurrent updates');
  }

  async replaceRecord(
    customerSlug: string,
    oldKeyId: string,
    replacement: ApiKeyRecord,
    options: { revokedBy: Actor; audit: AuditEvent | AuditEvent[]; rolled?: boolean },
  ): Promise<ReplaceOutcome> {
    await this.storage.step('keys.replaceRecord');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      await backoff(attempt);
      const old = await this.getRow<KeyEntity>(customerSlug, keyRowKey(oldKeyId));
      if (!old || old.status !== 'active') return 'not_active';
      if (options.rolled && old.rolledTo) return 'rolling_out';
      const labelAction = await this.labelTo(customerSlug, old.label, replacement.id);
      try {
        await this.storage.call((o) =>
          this.customers.submitTransaction(
            [
              [
                'update',
                {
                  partitionKey: customerSlug,
                  rowKey: old.rowKey,
                  status: 'revoked',
                  revokedAt: replacement.createdAt,
                  revokedBy: actorToText(options.revokedBy),
                  ...(options.rolled ? { revokedReason: 'rolled', rolledTo: replacement.id } : {}),
                },
                'Merge',
                { etag: old.etag },
              ],
              ['create', keyEntity(replacement)],
              labelAction,
              ...[options.audit].flat().map((e): TransactionAction => ['create', auditEntity(e)]),
            ],
            o,
          ),
        );
        return 'replaced';
      } catch (error) {
        const status = statusOf(error);
        if (status !== 412 && status !== 409 && status !== 404) throw error;
      }
    }
    throw new Error('key replace: the key kept changing under concurrent updates');
  }

  async rollRecord(
    customerSlug: string,
    oldKeyId: string,
    replacement: ApiKeyRecord,
    options: { oldExpiresAt: (old: ApiKeyRecord) => string; keyLimit: (customer: Customer) => number; audit: AuditEvent },
  ): Promise<{ outcome: RollOutcome; old?: ApiKeyRecord }> {
    await this.storage.step('keys.rollRecord');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      await backoff(attempt);
      const old = await this.getRow<KeyEntity>(customerSlug, keyRowKey(oldKeyId));
      if (!old) return { outcome: 'not_found' };
      const record = toRecord(old);
      if (record.status !== 'active') return { outcome: 'not_active', old: record };
      if (record.rolledTo) return { outcome: 'rolling_out', old: record };
      const customerRow = await this.getRow<CustomerEntity>(customerSlug, PROFILE_ROW);
      if (!customerRow) return { outcome: 'not_found' };
      const customer = toCustomer(customerRow);
      if (customer.activeKeyCount >= options.keyLimit(customer)) return { outcome: 'key_limit_reached', old: record };
      const expiresAt = options.oldExpiresAt(record);
      const labelAction = await this.labelTo(customerSlug, old.label, replacement.id);
      try {
        await this.storage.call((o) =>
          this.customers.submitTransaction(
            [
              // The successor takes a place of its own (the customer's row, as on issue): the old key keeps its place until it stops.
              [
                'update',
                { partitionKey: customerSlug, rowKey: PROFILE_ROW, activeKeyCount: customer.activeKeyCount + 1 },
                'Merge',
                { etag: customerRow.etag },
              ],
              // The old key stops at `expiresAt`.
              [
                'update',
                { partitionKey: customerSlug, rowKey: old.rowKey, expiresAt, rolledTo: replacement.id, rolledHoldingPlace: true },
                'Merge',
                { etag: old.etag },
              ],
              ['create', keyEntity(replacement)],
              labelAction,
              ['create', auditEntity(options.audit)],
            ],
            o,
          ),
        );
        return { outcome: 'rolled', old: { ...record, expiresAt, rolledTo: replacement.id } };
      } catch (error) {
        const status = statusOf(error);
        if (status !== 412 && status !== 409 && status !== 404) throw error;
      }
    }
    throw new Error('key roll: the key kept changing under concurrent updates');
  }

  async updateAccess(
    customerSlug: string,
    keyId: string,
    change: (current: ApiKeyRecord) => KeyAccess | undefined,
    audit: (before: ApiKeyRecord, after: KeyAccess) => AuditEvent,
  ): Promise<{ outcome: AccessOutcome; record?: ApiKeyRecord }> {
    await this.storage.step('keys.updateAccess');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      await backoff(attempt);
      const key = await this.getRow<KeyEntity>(customerSlug, keyRowKey(keyId));
      if (!key) return { outcome: 'not_found' };
      const record = toRecord(key);
      if (record.status !== 'active') return { outcome: 'not_active', record };
      const access = change(record);
      if (!access) return { outcome: 'unchanged', record };
      try {
        await this.storage.call((o) =>
          this.customers.submitTransaction(
            [
              ['update', { partitionKey: customerSlug, rowKey: key.rowKey, ...accessColumns(access) }, 'Merge', { etag: key.etag }],
              ['create', auditEntity(audit(record, access))],
            ],
            o,
          ),
        );
      } catch (error) {
        if (statusOf(error) === 412) continue;
        throw error;
      }
      const updated = withoutUndefined({
        ...record,
        expiresAt: access.expiresAt,
        allowedIps: access.allowedIps?.length ? [...access.allowedIps] : undefined,
      });
      // Absent when the key was revoked meanwhile: nothing to copy to.
      await this.updateLookupAccess(key.secretHash, access);
      return { outcome: 'updated', record: updated };
    }
    throw new Error('key access: the key kept changing under concurrent updates');
  }

  async updateLookupAccess(secretHash: string, access: KeyAccess): Promise<void> {
    await absentIfNotFound(
      this.storage.call((o) =>
        this.lookups.updateEntity({ partitionKey: lookupPartition(secretHash), rowKey: secretHash, ...accessColumns(access) }, 'Merge', {
          ...o,
          etag: '*',
        }),
      ),
    );
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
    return {
      secretHash,
      status: 'active',
      customerId: row.customerId,
      customerSlug: row.customerSlug,
      plan: row.plan as Plan,
      keyId: row.keyId,
      keyLabel: row.keyLabel,
      application: row.application,
      environment: row.environment as KeyEnvironment,
      keyType: row.keyType as KeyType,
      masterComponent: masterComponentOf(row),
      rateLimit: rateLimitOf(row),
      ...(row.expiresAt ? { expiresAt: row.expiresAt } : {}),
      ...(row.allowedIps ? { allowedIps: allowedIpsOf(row, `the lookup row of key ${row.keyId}`) } : {}),
    };
  }

  async setRateLimit(
    customerSlug: string,
    keyId: string,
    setting: RateLimitSetting | undefined,
    audit: AuditEvent,
  ): Promise<ApiKeyRecord | undefined> {
    await this.storage.step('keys.setRateLimit');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      await backoff(attempt);
      const key = await this.getRow<KeyEntity>(customerSlug, keyRowKey(keyId));
      if (!key) return undefined;
      try {
        await this.storage.call((o) =>
          this.customers.submitTransaction(
            [
              ['update', { partitionKey: customerSlug, rowKey: key.rowKey, ...rateLimitColumns(setting) }, 'Merge', { etag: key.etag }],
              ['create', auditEntity(audit)],
            ],
            o,
          ),
        );
      } catch (error) {
        if (statusOf(error) === 412) continue;
        throw error;
      }
      if (key.status === 'active') {
        // Absent when the key was revoked meanwhile: nothing to copy to.
        await absentIfNotFound(
          this.storage.call((o) =>
            this.lookups.updateEntity(
              { partitionKey: lookupPartition(key.secretHash), rowKey: key.secretHash, ...rateLimitColumns(setting) },
              'Merge',
              { ...o, etag: '*' },
            ),
          ),
        );
      }
      return { ...toRecord(key), rateLimit: setting };
    }
    throw new Error('key rate limit: the key kept changing under concurrent updates');
  }

  async recordExposures(
    customerSlug: string,
    keyId: string,
    places: KeyExposure[],
    audit: AuditEvent,
  ): Promise<{ outcome: ExposureOutcome; record?: ApiKeyRecord }> {
    await this.storage.step('keys.recordExposures');
    const rowKey = exposureRowKey(keyId, places);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      await backoff(attempt);
      const key = await this.getRow<KeyEntity>(customerSlug, keyRowKey(keyId));
      if (!key) return { outcome: 'not_found' };
      const record = toRecord(key);
      const { exposures, added } = withPlaces(record.exposures ?? [], places);
      if (added === 0) return { outcome: 'known', record };
      const exposureCount = (record.exposureCount ?? 0) + added;
      try {
        await this.storage.call((o) =>
          this.customers.submitTransaction(
            [
              ['create', { partitionKey: customerSlug, rowKey, keyId, at: places[0]?.reportedAt ?? '', places: places.length }],
              [
                'update',
                { partitionKey: customerSlug, rowKey: key.rowKey, exposures: JSON.stringify(exposures), exposureCount },
                'Merge',
                { etag: key.etag },
              ],
              ['create', auditEntity(audit)],
            ],
            o,
          ),
        );
        return { outcome: 'recorded', record: { ...record, exposures, exposureCount } };
      } catch (error) {
        const status = statusOf(error);
        // The audit row has a fresh id: a conflict is this report's row, recorded before.
        if (status === 409) return { outcome: 'known', record };
        if (status !== 412) throw error;
      }
    }
    throw new Error('key exposure: the key kept changing under concurrent updates');
  }

  async touchLastUsed(entries: Array<{ customerSlug: string; keyId: string; hour: string }>): Promise<void> {
    const byCustomer = new Map<string, Array<{ keyId: string; hour: string }>>();
    for (const e of entries) byCustomer.set(e.customerSlug, [...(byCustomer.get(e.customerSlug) ?? []), e]);
    for (const [customerSlug, keys] of byCustomer) {
      for (let i = 0; i < keys.length; i += 100) {
        const actions: TransactionAction[] = keys
          .slice(i, i + 100)
          .map((k) => ['update', { partitionKey: customerSlug, rowKey: keyRowKey(k.keyId), lastUsedAt: k.hour }, 'Merge', { etag: '*' }]);
        // Absent when a key row is gone (never, but harmless). Deferred: the usage flush writes it.
        await absentIfNotFound(this.storage.call((o) => this.customers.submitTransaction(actions, deferredWork(o))));
      }
    }
  }

  async refreshLookups(secretHashes: string[], data: { plan: Plan; masterComponent: MasterComponentState }): Promise<void> {
    await this.storage.step('keys.refreshLookups');
    for (const hash of secretHashes) {
      // Merge requires the row to exist, so a lookup deleted by a revocation is never recreated.
      await absentIfNotFound(
        this.storage.call((o) =>
          this.lookups.updateEntity(
            { partitionKey: lookupPartition(hash), rowKey: hash, plan: data.plan, ...masterComponentColumns(data.masterComponent) },
            'Merge',
            { ...o, etag: '*' },
          ),
        ),
      );
    }
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
    const labelKey = labelRowKey(label);
    const row = await this.getRow<{ partitionKey: string; rowKey: string; keyId: string }>(customerSlug, labelKey);
    return row
      ? ['update', { partitionKey: customerSlug, rowKey: labelKey, keyId }, 'Replace', { etag: row.etag }]
      : ['create', { partitionKey: customerSlug, rowKey: labelKey, keyId }];
  }

  private getRow<T extends object>(pk: string, rk: string): Promise<WithEtag<T> | undefined> {
    return absentIfNotFound(this.storage.call((o) => this.customers.getEntity<T>(pk, rk, o)));
  }
}
