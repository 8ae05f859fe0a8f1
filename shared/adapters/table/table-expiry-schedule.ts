import { odata } from '@azure/data-tables';
import type { ExpiryEntry, ExpirySchedule } from '../../ports/expiry-schedule';
import { absentIfNotFound } from '../azure-errors';
import type { TableStorage } from './table-storage';

const PARTITION = 'expiry';
/** ISO 8601 times sort as text, so the row key orders entries by expiry. */
const rowKey = (e: ExpiryEntry) => `${e.expiresAt}_${e.customerSlug}_${e.keyId}`;

type ExpiryEntity = { partitionKey: string; rowKey: string; customerSlug: string; keyId: string; expiresAt: string };

/** The expiry schedule in the `keyexpiry` table: one partition, one row per key with an expiry. */
export class TableExpirySchedule implements ExpirySchedule {
  constructor(private readonly storage: TableStorage) {}

  private get table() {
    return this.storage.clients.keyExpiry;
  }

  async add(entry: ExpiryEntry): Promise<void> {
    await this.storage.step('expiry.add');
    await this.storage.call((o) =>
      this.table.upsertEntity<ExpiryEntity>({ partitionKey: PARTITION, rowKey: rowKey(entry), ...entry }, 'Replace', o),
    );
  }

  async remove(entry: ExpiryEntry): Promise<void> {
    await absentIfNotFound(this.storage.call((o) => this.table.deleteEntity(PARTITION, rowKey(entry), o)));
  }

  async due(now: Date): Promise<ExpiryEntry[]> {
    return this.storage.call(async (o) => {
      const out: ExpiryEntry[] = [];
      for await (const row of this.table.listEntities<ExpiryEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${PARTITION} and RowKey lt ${`${now.toISOString()}~`}` },
        abortSignal: o.abortSignal,
      })) {
        out.push({ customerSlug: row.customerSlug, keyId: row.keyId, expiresAt: row.expiresAt });
      }
      return out;
    });
  }
}
