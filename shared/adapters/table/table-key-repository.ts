import { odata } from '@azure/data-tables';
import { timingSafeEqual } from 'node:crypto';
import type { ApiKeyRecord, KeyEnvironment, KeyStatus, KeyType, Plan } from '../../domain';
import type { KeyLookupEntry, KeyRepository } from '../../ports/key-repository';
import { statusOf, type TableStorage } from './table-storage';

const KEY_ROW_PREFIX = 'key_';
/** The first character after `key_` in ASCII order: the exclusive upper bound of a key-row range query. */
const KEY_ROW_END = 'key`';

/** Key rows live in their customer's partition of the customers table. */
export const keyRowKey = (keyId: string): string => `${KEY_ROW_PREFIX}${keyId}`;

/** Lookup rows are spread over 65,536 partitions by the leading hex digits of the hash. */
export const lookupPartition = (secretHash: string): string => secretHash.slice(0, 4);

interface KeyEntity {
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
}

interface LookupEntity {
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
}

function toRecord(row: KeyEntity): ApiKeyRecord {
  const record: ApiKeyRecord = {
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
    createdBy: row.createdBy,
  };
  if (row.revokedAt) record.revokedAt = row.revokedAt;
  if (row.revokedBy) record.revokedBy = row.revokedBy;
  return record;
}

export class TableKeyRepository implements KeyRepository {
  constructor(private readonly storage: TableStorage) {}

  private get keys() {
    return this.storage.clients.customers;
  }

  private get lookups() {
    return this.storage.clients.keyLookup;
  }

  async insert(record: ApiKeyRecord, lookup: KeyLookupEntry): Promise<void> {
    const row: KeyEntity = {
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
      createdBy: record.createdBy,
    };
    const lookupRow: LookupEntity = {
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
    };
    // 1. The customer's record: from here on the key is listed (and cannot authenticate yet).
    await this.storage.call((o) => this.keys.createEntity(row, o));
    await this.storage.step('issue:after-record');
    // 2. The lookup row: from here on the key authenticates.
    try {
      await this.storage.call((o) => this.lookups.createEntity(lookupRow, o));
    } catch (error) {
      // The caller never sees this key; take the record back if storage lets us. If it does
      // not, the record stays listed but can never authenticate, which is the safe side.
      await this.storage.call((o) => this.keys.deleteEntity(row.partitionKey, row.rowKey, o)).catch(() => undefined);
      throw error;
    }
    await this.storage.step('issue:after-lookup');
  }

  async list(customerSlug: string): Promise<ApiKeyRecord[]> {
    return this.storage.call(async (o) => {
      const rows: ApiKeyRecord[] = [];
      const query = this.keys.listEntities<KeyEntity>({
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
    const row = await this.getRow(customerSlug, keyId);
    return row ? toRecord(row) : undefined;
  }

  async revoke(customerSlug: string, keyId: string, revokedBy: string, revokedAt: string): Promise<ApiKeyRecord | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const row = await this.getRow(customerSlug, keyId);
      if (!row) return undefined;
      // 1. The lookup row goes first: once it is gone the key cannot authenticate. Deleting
      //    it again on an already revoked key repairs a revocation a crash cut short.
      await this.deleteLookup(row.secretHash);
      await this.storage.step('revoke:after-lookup');
      if (row.status === 'revoked') return toRecord(row);
      // 2. The record, guarded by its ETag so the first revocation's who and when stand.
      try {
        await this.storage.call((o) =>
          this.keys.updateEntity(
            { partitionKey: row.partitionKey, rowKey: row.rowKey, status: 'revoked', revokedAt, revokedBy },
            'Merge',
            { ...o, etag: row.etag },
          ),
        );
        await this.storage.step('revoke:after-record');
        return toRecord({ ...row, status: 'revoked', revokedAt, revokedBy });
      } catch (error) {
        if (statusOf(error) !== 412) throw error;
        // Someone else changed the record meanwhile: read it again.
      }
    }
    throw new Error('revoke: the key record kept changing under concurrent updates');
  }

  async findByHash(secretHash: string): Promise<KeyLookupEntry | undefined> {
    let row: LookupEntity;
    try {
      row = await this.storage.call((o) =>
        this.lookups.getEntity<LookupEntity>(lookupPartition(secretHash), secretHash, o),
      );
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
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
    };
  }

  private async getRow(customerSlug: string, keyId: string): Promise<(KeyEntity & { etag: string }) | undefined> {
    try {
      return await this.storage.call((o) => this.keys.getEntity<KeyEntity>(customerSlug, keyRowKey(keyId), o));
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private async deleteLookup(secretHash: string): Promise<void> {
    try {
      await this.storage.call((o) => this.lookups.deleteEntity(lookupPartition(secretHash), secretHash, o));
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }
}
