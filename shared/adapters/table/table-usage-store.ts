import { odata, type TransactionAction } from '@azure/data-tables';
import type { UsageRow, UsageStore } from '../../ports/usage-store';
import { groupBy } from './rows';
import { deferredWork } from './storage-operations';
import type { TableStorage } from './table-storage';

/** `2026-03-01T13:00:00.000Z` -> `2026030113`: hours sort as text. */
const hourKey = (iso: string): string => iso.slice(0, 13).replace(/[-T:]/g, '');
const rowKey = (r: UsageRow): string => `${hourKey(r.hour)}_${r.keyId}_${r.instanceId}`;

type UsageEntity = {
  partitionKey: string;
  rowKey: string;
  keyId: string;
  hour: string;
  instanceId: string;
  accepted: number;
  rateLimited: number;
  /** Absent on rows of hours before allowlists existed: none. */
  ipRefused?: number;
};

/**
 * Usage in the `keyusage` table: partition per customer, row key hour first, so one customer's
 * usage over any window is one range query. Each instance writes only its own rows, with its
 * cumulative counts for the hour, so a flush is blind upserts (no read, no contention),
 * batched per customer in entity-group transactions.
 */
export class TableUsageStore implements UsageStore {
  constructor(private readonly storage: TableStorage) {}

  private get table() {
    return this.storage.clients.keyUsage;
  }

  async write(rows: UsageRow[]): Promise<void> {
    await this.storage.step('usage.write');
    for (const [customerSlug, list] of groupBy(rows, (row) => row.customerSlug)) {
      for (let i = 0; i < list.length; i += 100) {
        const actions: TransactionAction[] = list.slice(i, i + 100).map((r) => [
          'upsert',
          {
            partitionKey: customerSlug,
            rowKey: rowKey(r),
            keyId: r.keyId,
            hour: r.hour,
            instanceId: r.instanceId,
            accepted: r.accepted,
            rateLimited: r.rateLimited,
            ipRefused: r.ipRefused,
          },
          'Replace',
        ]);
        // Deferred: requests counted these in memory and were answered long ago.
        await this.storage.call((o) => this.table.submitTransaction(actions, deferredWork(o)));
      }
    }
  }

  async read(customerSlug: string, from: string, to: string, keyId?: string): Promise<UsageRow[]> {
    let filter = odata`PartitionKey eq ${customerSlug} and RowKey ge ${hourKey(from)} and RowKey lt ${hourKey(to)}`;
    if (keyId) filter += odata` and keyId eq ${keyId}`;
    return this.storage.call(async (o) => {
      const out: UsageRow[] = [];
      for await (const row of this.table.listEntities<UsageEntity>({ queryOptions: { filter }, abortSignal: o.abortSignal })) {
        out.push({
          customerSlug,
          keyId: row.keyId,
          hour: row.hour,
          instanceId: row.instanceId,
          accepted: row.accepted,
          rateLimited: row.rateLimited,
          ipRefused: typeof row.ipRefused === 'number' ? row.ipRefused : 0,
        });
      }
      return out;
    });
  }

  async prune(before: string): Promise<number> {
    const old = await this.storage.call(async (o) => {
      const rows: Array<{ partitionKey: string; rowKey: string }> = [];
      for await (const row of this.table.listEntities<UsageEntity>({
        queryOptions: { filter: odata`RowKey lt ${hourKey(before)}`, select: ['PartitionKey', 'RowKey'] },
        abortSignal: o.abortSignal,
      })) {
        rows.push({ partitionKey: row.partitionKey, rowKey: row.rowKey });
      }
      return rows;
    });
    for (const [partitionKey, keys] of groupBy(old, (r) => r.partitionKey)) {
      for (let i = 0; i < keys.length; i += 100) {
        await this.storage.call((o) =>
          this.table.submitTransaction(
            keys.slice(i, i + 100).map(({ rowKey }) => ['delete', { partitionKey, rowKey }] as const),
            o,
          ),
        );
      }
    }
    return old.length;
  }
}
