import type { TableEntity, TransactionAction } from '@azure/data-tables';
import { BoundedCache } from '../../cache/bounded-cache';
import type { AppendResult, IngestSource, LazyBatch, SessionBatch, SharedBatchContext } from '../../ports/session-repository';
import { statusOf } from '../azure-errors';
import { groupBy, withoutUndefined } from './rows';
import { eachLimited } from './each-limited';
import type { SessionFolder } from './session-fold';
import type { SessionListIndex } from './session-list-index';
import type { TableStorage } from './table-storage';
import {
  SHARED_INLINE_CHARS,
  SHARED_APART,
  TRANSACTION_BYTES,
  TRANSACTION_ENTITIES,
  MAX_TRACE_IDS,
  sid,
  partitionOf,
  indexEntity,
  pendingRow,
  summaryRow,
  batchRow,
  sharedRow,
  type Opening,
  type PendingEntity,
  splitDocument,
  entityBytes,
  newSummary,
} from './session-rows';

/** Partitions one request writes to at once. */
const PARTITION_CONCURRENCY = 8;

/** A batch ready to be written: its rows for the transaction, rows to write ahead, and who opens its session. */
interface Prepared {
  s: string;
  rows: TransactionAction[];
  ahead: TableEntity<Record<string, unknown>>[];
  bytes: number;
  opening: Opening;
}

/**
 * The write side of sessions (rows in session-rows.ts). The critical path of a batch is one
 * entity-group transaction, append-only: part 000 (created, so a retried batch conflicts and is
 * reported as a duplicate, never counted twice), its pending counts and, when this instance has
 * not written them to that partition yet, the shared rows. A session this instance has not seen
 * is opened (index and summary, created together; a conflict means it exists) in parallel, in the
 * same partition, and added to the customer's recent-sessions index (session-list-index.ts), in
 * parallel too. No row is read and no shared row is rewritten on the critical path, so
 * concurrent batches of one session never contend. Each stored batch is counted towards its
 * session's next fold (session-fold.ts).
 */
export class SessionWriter {
  /** Sessions known to be opened (index and summary exist): `{partition}/{sid}`. */
  private readonly opened = new BoundedCache<string, true>(50_000);
  /** Shared documents this instance has written, per partition (content-addressed, so never stale). */
  private readonly sharedWritten = new BoundedCache<string, true>(20_000);

  /**
   * @param summaryKeys session id hash -> summary row key (`{partition}/{sid}`), shared with the
   *   reader: the writer knows the keys of the sessions it opens.
   */
  constructor(
    private readonly summaryKeys: BoundedCache<string, string>,
    private readonly index: SessionListIndex,
    private readonly folder: SessionFolder,
  ) {}

  /**
   * Groups the request's batches by partition and writes each group in one transaction (up to
   * its limits), side by side with the opening of the sessions this instance has not seen: one
   * round trip in sequence. A conflict in a group means one of its batches was stored before (a
   * retried request) or one of its sessions is open already; only then are the group's batches,
   * or openings, written one by one (each conflict then telling exactly what was there).
   */
  async append(
    storage: TableStorage,
    source: IngestSource,
    batches: LazyBatch[],
    shared: SharedBatchContext,
    receivedAt: string,
  ): Promise<AppendResult> {
    const keyed = batches.map((lazy) => ({ s: sid(lazy.sessionId), lazy }));
    // The sessions this instance has not seen go into the customer's recent-sessions index,
    // beside the batches and openings (not after them): still one round trip in sequence.
    const [stored, indexed] = await Promise.allSettled([
      this.store(storage, source, keyed, shared, receivedAt),
      this.index.add(
        storage,
        source.customerSlug,
        keyed.map(({ s, lazy }) => ({ s, sessionId: lazy.sessionId })),
        source.keyLabel,
        receivedAt,
      ),
    ]);
    if (stored.status === 'rejected') throw stored.reason;
    if (indexed.status === 'rejected') throw indexed.reason;
    // What the meter charges for (ingest-service.ts): the index's transactions with the rest.
    return { ...stored.value, transactions: (stored.value.transactions ?? 0) + indexed.value };
  }

  /** The batches of a request, and the openings of the sessions this instance has not seen. */
  private async store(
    storage: TableStorage,
    source: IngestSource,
    keyed: Array<{ s: string; lazy: LazyBatch }>,
    shared: SharedBatchContext,
    receivedAt: string,
  ): Promise<AppendResult> {
    // Small shared parts (the usual resource and scopes) travel with the batches, once per
    // partition; a large one is written once, ahead, to the customer's partition for them, so a
    // request of many sessions sharing a big resource does not copy it into every partition.
    const apart = shared.document.length > SHARED_INLINE_CHARS ? `${source.customerSlug}${SHARED_APART}` : undefined;
    let sharedTransactions = 0;
    if (apart && !this.sharedWritten.get(`${apart}/${shared.hash}`)) {
      sharedTransactions = await this.writeAhead(storage, this.sharedRows(apart, shared));
      this.sharedWritten.set(`${apart}/${shared.hash}`, true);
    }
    const byPartition = groupBy(keyed, ({ s }) => partitionOf(source.customerSlug, s));
    const result = { stored: 0, duplicates: 0, transactions: sharedTransactions };
    await eachLimited([...byPartition], PARTITION_CONCURRENCY, async ([pk, list]) => {
      // Documents are built as they are written: at most one transaction's worth per partition.
      let group: Prepared[] = [];
      let entities = 0;
      let bytes = 0;
      const flush = async () => {
        if (group.length === 0) return;
        const written = group;
        group = [];
        entities = 0;
        bytes = 0;
        const outcome = await this.commit(storage, pk, written, apart, shared, receivedAt);
        result.stored += outcome.stored;
        result.duplicates += outcome.duplicates;
        result.transactions += outcome.transactions;
      };
      for (const { s, lazy } of list) {
        const prepared = this.prepare(pk, s, lazy.build(), shared, apart, source, receivedAt);
        if (
          group.length > 0 &&
          (entities + prepared.rows.length > TRANSACTION_ENTITIES - 4 || bytes + prepared.bytes > TRANSACTION_BYTES / 2)
        )
          await flush();
        group.push(prepared);
        entities += prepared.rows.length;
        bytes += prepared.bytes;
      }
      await flush();
    });
    return result;
  }

  /** One batch's rows: part 000 (created), its pending counts, its further parts; those that do not fit one transaction go ahead. */
  private prepare(
    pk: string,
    s: string,
    batch: SessionBatch,
    shared: SharedBatchContext,
    apart: string | undefined,
    source: IngestSource,
    receivedAt: string,
  ): Prepared {
    const parts = splitDocument(batch.document).map((data, part) => ({
      ...data,
      partitionKey: pk,
      rowKey: batchRow(s, batch.contentHash, part),
      receivedAt,
      parts: 0,
      shared: shared.hash,
      sharedPartition: apart ?? pk,
    }));
    parts[0]!.parts = parts.length;
    const opening = this.opening(source, batch);
    const pending: PendingEntity = withoutUndefined({
      partitionKey: pk,
      rowKey: pendingRow(s, batch.contentHash),
      ...opening,
      spanCount: batch.spanCount,
      traceIds: JSON.stringify(batch.traceIds.slice(0, MAX_TRACE_IDS)),
      startedAt: batch.startedAt,
      endedAt: batch.endedAt,
      receivedAt,
    });
    const rows: TransactionAction[] = [
      ['create', parts[0]!],
      ['upsert', pending, 'Replace'],
    ];
    const ahead: TableEntity<Record<string, unknown>>[] = [];
    let bytes = entityBytes(parts[0]!) + entityBytes(pending);
    for (const row of parts.slice(1)) {
      const size = entityBytes(row);
      if (ahead.length === 0 && rows.length < TRANSACTION_ENTITIES - 4 && bytes + size <= TRANSACTION_BYTES / 2) {
        rows.push(['upsert', row, 'Replace']);
        bytes += size;
      } else ahead.push(row);
    }
    return { s, rows, ahead, bytes, opening };
  }

  /** Writes one partition's group: its batches in one transaction, the openings it needs beside it. */
  private async commit(
    storage: TableStorage,
    pk: string,
    group: Prepared[],
    apart: string | undefined,
    shared: SharedBatchContext,
    receivedAt: string,
  ): Promise<AppendResult & { transactions: number }> {
    // A batch over about 1.5 MiB writes its extra rows ahead; they count only once part 000 exists.
    const ahead = group.flatMap((p) => p.ahead);
    const aheadTransactions = ahead.length > 0 ? await this.writeAhead(storage, ahead) : 0;
    const sharedKey = `${pk}/${shared.hash}`;
    const sharedRows: TransactionAction[] =
      apart || this.sharedWritten.get(sharedKey) ? [] : this.sharedRows(pk, shared).map((row) => ['upsert', row, 'Replace']);
    const unopened = [...new Map(group.filter((p) => !this.opened.get(`${pk}/${p.s}`)).map((p) => [p.s, p])).values()];
    const write = (batches: Prepared[]) =>
      storage.call((o) => storage.clients.sessions.submitTransaction([...batches.flatMap((p) => p.rows), ...sharedRows], o));
    const [committed, opened] = await Promise.allSettled([write(group), this.open(storage, pk, unopened, receivedAt)]);
    if (opened.status === 'rejected') throw opened.reason;
    const result = { stored: 0, duplicates: 0, transactions: aheadTransactions + 1 + (opened.value ?? 0) };
    if (committed.status === 'fulfilled') result.stored = group.length;
    else if (statusOf(committed.reason) !== 409) throw committed.reason;
    else if (group.length === 1) result.duplicates = 1;
    else {
      // Some batch of the group was stored before: each on its own now, so each conflict is its own.
      const outcomes = await Promise.allSettled(group.map((p) => write([p])));
      result.transactions += group.length;
      for (const outcome of outcomes) {
        if (outcome.status === 'fulfilled') result.stored += 1;
        else if (statusOf(outcome.reason) === 409) result.duplicates += 1;
        else throw outcome.reason;
      }
    }
    if (!apart) this.sharedWritten.set(sharedKey, true);
    for (const p of group) this.folder.counted(storage, pk, p.s, result.stored > 0);
    return result;
  }

  private sharedRows(pk: string, shared: SharedBatchContext): TableEntity<Record<string, unknown>>[] {
    return splitDocument(shared.document).map((data, part) => ({
      ...data,
      partitionKey: pk,
      rowKey: sharedRow(shared.hash, part),
    }));
  }

  private opening(source: IngestSource, batch: SessionBatch): Opening {
    return withoutUndefined({
      sessionId: batch.sessionId,
      sessionIdSource: batch.sessionIdSource,
      serviceName: batch.serviceName,
      keyId: source.keyId,
      keyLabel: source.keyLabel,
      application: source.application,
      environment: source.environment,
    });
  }

  /**
   * Opens sessions: each one's index and summary, created together. Several of one partition go
   * in one transaction; if it conflicts (one of them is open already), each is opened on its own,
   * where a conflict means another batch opened it first.
   */
  private async open(storage: TableStorage, pk: string, sessions: Prepared[], receivedAt: string): Promise<number> {
    if (sessions.length === 0) return 0;
    const rowsOf = (p: Prepared): TransactionAction[] => {
      const rowKey = summaryRow(receivedAt, p.s);
      return [
        ['create', indexEntity(pk, p.s, rowKey)],
        ['create', withoutUndefined(newSummary(pk, rowKey, p.opening, receivedAt))],
      ];
    };
    const opened = (p: Prepared) => {
      this.opened.set(`${pk}/${p.s}`, true);
      this.summaryKeys.set(`${pk}/${p.s}`, summaryRow(receivedAt, p.s));
    };
    const create = (list: Prepared[]) => storage.call((o) => storage.clients.sessions.submitTransaction(list.flatMap(rowsOf), o));
    try {
      await create(sessions);
      sessions.forEach(opened);
      return 1;
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
    }
    if (sessions.length === 1) {
      this.opened.set(`${pk}/${sessions[0]!.s}`, true);
      return 1;
    }
    await Promise.all(
      sessions.map(async (p) => {
        try {
          await create([p]);
          opened(p);
        } catch (error) {
          if (statusOf(error) !== 409) throw error;
          this.opened.set(`${pk}/${p.s}`, true);
        }
      }),
    );
    return 1 + sessions.length;
  }

  /** Writes rows in as few transactions as their limits allow; resolves with how many. */
  private async writeAhead(storage: TableStorage, rows: TableEntity<Record<string, unknown>>[]): Promise<number> {
    const groups: TransactionAction[][] = [[]];
    let bytes = 0;
    for (const row of rows) {
      const size = entityBytes(row);
      const group = groups.at(-1)!;
      if (group.length > 0 && (bytes + size > TRANSACTION_BYTES || group.length >= TRANSACTION_ENTITIES)) {
        groups.push([]);
        bytes = 0;
      }
      groups.at(-1)!.push(['upsert', row, 'Replace']);
      bytes += size;
    }
    // Side by side, but each sent after a turn of the event loop: serialising several MiB at once
    // would hold every other request on the instance up for that long.
    const writes: Array<Promise<unknown>> = [];
    for (const actions of groups) {
      if (writes.length > 0) await new Promise((resolve) => setImmediate(resolve));
      const write = storage.call((o) => storage.clients.sessions.submitTransaction(actions, o));
      write.catch(() => undefined); // seen by Promise.all below; not unhandled while the next one starts
      writes.push(write);
    }
    await Promise.all(writes);
    return writes.length;
  }
}
