import type { TransactionAction } from '@azure/data-tables';
import { BoundedCache } from '../../cache/bounded-cache';
import type { Logger } from '../../logging';
import { describeError } from '../../logging';
import { statusOf } from '../azure-errors';
import { withoutUndefined } from './rows';
import type { SessionReader } from './session-reader';
import { deferredWork } from './storage-operations';
import type { TableStorage } from './table-storage';
import {
  TRANSACTION_ENTITIES,
  indexEntity,
  foldMarkEntity,
  summaryRow,
  type SessionCounts,
  type SummaryEntity,
  addPending,
  openingOf,
  newSummary,
} from './session-rows';

/**
 * Folding a session's pending counts into its summary (rows in session-rows.ts). The instance
 * that wrote a session's batches folds them after every `foldAfter` of them, off the critical
 * path and as deferred work (no request waits for it): the summary updated under its ETag, its
 * fold count written and the folded rows deleted in one transaction, so a count is never lost or
 * doubled, which keeps reads of long sessions short.
 */
export class SessionFolder {
  /** Batches written here per session since this instance last folded it. */
  private readonly unfolded = new BoundedCache<string, number>(50_000);
  private readonly folds = new Set<Promise<void>>();

  constructor(
    private readonly reader: SessionReader,
    private readonly foldAfter: number,
    private readonly log: Logger | undefined,
  ) {}

  /** Counts a stored batch and folds the session once this instance has written enough of it. */
  counted(storage: TableStorage, pk: string, s: string, stored: boolean): void {
    if (!stored) return;
    const key = `${pk}/${s}`;
    const count = (this.unfolded.get(key) ?? 0) + 1;
    if (count < this.foldAfter) {
      this.unfolded.set(key, count);
      return;
    }
    this.unfolded.delete(key);
    const fold = this.fold(storage, pk, s)
      .catch((error: unknown) =>
        this.log?.warn('session summary fold failed; the pending counts stay and are read as they are', describeError(error)),
      )
      .finally(() => this.folds.delete(fold));
    this.folds.add(fold);
  }

  /** Waits for the folds under way (graceful shutdown, tests). */
  async settle(): Promise<void> {
    while (this.folds.size > 0) await Promise.allSettled([...this.folds]);
  }

  /**
   * Folds a session's pending counts into its summary: the summary updated under its ETag and
   * the folded pending rows deleted in the same transaction. Losing a race (another fold, 412)
   * changes nothing; the counts stay pending for the next fold and are read exactly meanwhile.
   */
  private async fold(storage: TableStorage, pk: string, s: string): Promise<void> {
    const read = await this.reader.pendingAndFolds(storage, pk, s, true);
    // Room for the summary, its index row (when it opens the session) and the fold count.
    const pending = read.pending.slice(0, TRANSACTION_ENTITIES - 3);
    if (pending.length === 0) return;
    const summaryKey = await this.reader.summaryKey(storage, pk, s, true);
    const current = summaryKey ? await this.reader.readSummary(storage, pk, summaryKey, true) : undefined;
    const deletes: TransactionAction[] = pending.map((p) => ['delete', { partitionKey: pk, rowKey: p.rowKey }]);
    let write: TransactionAction[];
    let folds: number;
    // A session opened by a batch without a service name takes the first a pending batch has, as
    // reads do (toSession): kept in the summary, so a fold does not lose it with the rows.
    const named = pending.find((p) => p.serviceName)?.serviceName;
    if (current) {
      folds = (current.folds ?? 0) + 1;
      const counts = pending.reduce(addPending, current as SessionCounts);
      const serviceName = current.serviceName || !named ? {} : { serviceName: named };
      write = [['update', { partitionKey: pk, rowKey: current.rowKey, ...counts, ...serviceName, folds }, 'Merge', { etag: current.etag }]];
    } else {
      // The opening never landed: open the session now from its earliest pending batch.
      folds = read.folds + 1;
      const first = pending.reduce((a, b) => (a.receivedAt <= b.receivedAt ? a : b));
      const rowKey = summaryRow(first.receivedAt, s);
      const opening = { ...openingOf(first), ...(first.serviceName || !named ? {} : { serviceName: named }) };
      const opened = newSummary(pk, rowKey, opening, first.receivedAt);
      const summary: SummaryEntity = { ...opened, ...pending.reduce(addPending, opened as SessionCounts), folds };
      write = [
        ...(summaryKey ? [] : ([['create', indexEntity(pk, s, rowKey)]] as TransactionAction[])),
        ['create', withoutUndefined(summary)],
      ];
    }
    // The fold count moves with the summary, in the same transaction (see the reader's exact()).
    write.push(['upsert', foldMarkEntity(pk, s, folds), 'Replace']);
    try {
      await storage.call((o) => storage.clients.sessions.submitTransaction([...write, ...deletes], deferredWork(o)));
    } catch (error) {
      const status = statusOf(error);
      if (status === 412 || status === 409 || status === 404) return;
      throw error;
    }
  }
}
