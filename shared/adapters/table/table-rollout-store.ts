import { odata } from '@azure/data-tables';
import type { RolloutEntry, RolloutStore, RolloutUse } from '../../ports/rollout-store';
import { absentIfNotFound } from '../azure-errors';
import { done, withEtagRetry } from './etag-retry';
import { replacesRecordedUse } from '../../keys/rollout-policy';
import { deferredWork } from './storage-operations';
import type { TableStorage } from './table-storage';

/** The partition of the `keyexpiry` table that holds the watched rollouts (beside the expiry schedule's). */
const PARTITION = 'rollout';

type RolloutEntity = {
  partitionKey: string;
  rowKey: string;
  customerSlug: string;
  oldKeyId: string;
  successorId: string;
  rolledAt: string;
  endsAt: string;
  quietMinutes: number;
  closeWhenQuiet: boolean;
  /** '' until written (a Replace on add clears both). */
  successorFirstUsedAt: string;
  oldLastUsedAt: string;
};

const rowKeyOf = (customerSlug: string, oldKeyId: string): string => `${customerSlug}_${oldKeyId}`;

function toEntry(row: RolloutEntity): RolloutEntry {
  return {
    customerSlug: row.customerSlug,
    oldKeyId: row.oldKeyId,
    successorId: row.successorId,
    rolledAt: row.rolledAt,
    endsAt: row.endsAt,
    quietMinutes: row.quietMinutes,
    closeWhenQuiet: row.closeWhenQuiet === true,
    ...(row.successorFirstUsedAt ? { successorFirstUsedAt: row.successorFirstUsedAt } : {}),
    ...(row.oldLastUsedAt ? { oldLastUsedAt: row.oldLastUsedAt } : {}),
  };
}

/**
 * The watched rollouts in the `keyexpiry` table, partition `rollout`: one row per roll with an
 * overlap still rolling out (`{customer}_{old key id}`). The timer reads the partition with one
 * query; a flush records a use with a read and, when it moves the row's time, a write under the
 * read's ETag (so instances writing at once never move a time the wrong way).
 */
export class TableRolloutStore implements RolloutStore {
  constructor(private readonly storage: TableStorage) {}

  private get table() {
    return this.storage.clients.keyExpiry;
  }

  async add(entry: RolloutEntry): Promise<void> {
    await this.storage.step('rollout.add');
    const row: RolloutEntity = {
      partitionKey: PARTITION,
      rowKey: rowKeyOf(entry.customerSlug, entry.oldKeyId),
      customerSlug: entry.customerSlug,
      oldKeyId: entry.oldKeyId,
      successorId: entry.successorId,
      rolledAt: entry.rolledAt,
      endsAt: entry.endsAt,
      quietMinutes: entry.quietMinutes,
      closeWhenQuiet: entry.closeWhenQuiet,
      successorFirstUsedAt: entry.successorFirstUsedAt ?? '',
      oldLastUsedAt: entry.oldLastUsedAt ?? '',
    };
    await this.storage.call((o) => this.table.upsertEntity(row, 'Replace', o));
  }

  async list(): Promise<RolloutEntry[]> {
    return this.storage.call(async (o) => {
      const out: RolloutEntry[] = [];
      for await (const row of this.table.listEntities<RolloutEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${PARTITION}` },
        abortSignal: o.abortSignal,
      })) {
        out.push(toEntry(row));
      }
      return out;
    });
  }

  async recordUses(uses: RolloutUse[]): Promise<RolloutUse[]> {
    const gone: RolloutUse[] = [];
    for (const use of uses) {
      const column = use.side === 'old' ? 'oldLastUsedAt' : 'successorFirstUsedAt';
      const recorded = await withEtagRetry<boolean>('rollout use: the rollout', async () => {
        const row = await absentIfNotFound(
          this.storage.call((o) =>
            this.table.getEntity<RolloutEntity>(PARTITION, rowKeyOf(use.customerSlug, use.oldKeyId), deferredWork(o)),
          ),
        );
        if (!row) return done(false);
        if (!replacesRecordedUse(use.side, row[column] || undefined, use.at)) return done(true);
        return {
          write: () =>
            this.storage.call((o) =>
              this.table.updateEntity({ partitionKey: PARTITION, rowKey: row.rowKey, [column]: use.at }, 'Merge', {
                ...deferredWork(o),
                etag: row.etag,
              }),
            ),
          written: () => true,
          // 404: removed since the read.
          staleOn: [412],
          failed: (status) => (status === 404 ? false : undefined),
        };
      });
      if (!recorded) gone.push(use);
    }
    return gone;
  }

  async remove(customerSlug: string, oldKeyId: string): Promise<void> {
    await this.storage.step('rollout.remove');
    await absentIfNotFound(this.storage.call((o) => this.table.deleteEntity(PARTITION, rowKeyOf(customerSlug, oldKeyId), o)));
  }
}
