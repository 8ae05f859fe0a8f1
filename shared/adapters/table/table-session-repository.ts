import { odata, type TableEntity, type TableEntityResult, type TransactionAction } from '@azure/data-tables';
import { createHash } from 'node:crypto';
import type { Logger } from '../../logging';
import { describeError } from '../../logging';
import type { Page } from '../../ports/audit-log';
import { assembleDocument } from '../../otlp/sessions';
import type {
  AppendResult,
  IngestSource,
  LazyBatch,
  SessionBatch,
  SessionQuery,
  SessionRepository,
  SharedBatchContext,
  StoredSession,
} from '../../ports/session-repository';
import { BoundedCache } from '../../cache/bounded-cache';
import { absentIfNotFound, statusOf } from '../azure-errors';
import { withoutUndefined } from './rows';
import { eachLimited } from './each-limited';
import { SessionListIndex } from './session-list-index';
import { deferredWork } from './storage-operations';
import type { TableStorage } from './table-storage';
import {
  FOLD_AFTER_BATCHES,
  SHARED_INLINE_CHARS,
  SHARED_APART,
  TRANSACTION_BYTES,
  TRANSACTION_ENTITIES,
  MAX_TRACE_IDS,
  sid,
  partitionOf,
  indexRow,
  pendingPrefix,
  foldMarkRow,
  summaryRow,
  sidOfSummary,
  batchPrefix,
  batchRow,
  sharedPrefix,
  after,
  type SessionCounts,
  type Opening,
  type SummaryEntity,
  type PendingEntity,
  type ListEntryEntity,
  splitDocument,
  entityBytes,
  chunksOf,
  addPending,
  openingOf,
  newSummary,
  toSession,
} from './session-rows';

export { FOLD_AFTER_BATCHES, LIST_PARTITIONS, SESSION_PARTITIONS, sessionListPartition, sessionPartition } from './session-rows';

/**
 * Ingested sessions in the `sessions` table, spread over {@link SESSION_PARTITIONS} partitions
 * per customer; the rows are described in session-rows.ts.
 *
 * The critical path of a batch is one entity-group transaction, append-only: part 000 (created,
 * so a retried batch conflicts and is reported as a duplicate, never counted twice), its pending
 * counts and, when this instance has not written them to that partition yet, the shared rows. A
 * session this instance has not seen is opened (index and summary, created together; a conflict
 * means it exists) in parallel, in the same partition, and added to the customer's
 * recent-sessions index (session-list-index.ts), in parallel too. No row is read and no shared
 * row is rewritten on the critical path, so concurrent batches of one session never contend.
 *
 * A session's counts are its summary plus its pending rows, read together: exact at any time.
 * The instance that wrote a session's batches folds their pending rows into the summary after
 * every {@link FOLD_AFTER_BATCHES} of them, off the critical path (the summary updated under its
 * ETag, its fold count written and the folded rows deleted in one transaction, so a count is
 * never lost or doubled), which keeps reads of long sessions short.
 */

/** Sessions of a listing whose counts are read at once. */
const LIST_CONCURRENCY = 32;
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

/** Folding is deferred work: no request waits for it. */
const deferred = deferredWork;

export interface TableSessionRepositoryOptions {
  log?: Logger;
  /** Batches of one session written here before this instance folds their counts ({@link FOLD_AFTER_BATCHES}). */
  foldAfterBatches?: number;
}

export class TableSessionRepository implements SessionRepository {
  /** Sessions known to be opened (index and summary exist): `{partition}/{sid}`. */
  private readonly opened = new BoundedCache<string, true>(50_000);
  /** Shared documents this instance has written, per partition (content-addressed, so never stale). */
  private readonly sharedWritten = new BoundedCache<string, true>(20_000);
  /** Session id hash -> summary row key; safe to cache because the index never changes. */
  private readonly summaryKeys = new BoundedCache<string, string>(50_000);
  /** Batches written here per session since this instance last folded it. */
  private readonly unfolded = new BoundedCache<string, number>(50_000);
  /** The customer's recent-sessions index: what listings read. */
  private readonly index = new SessionListIndex();
  /** Customer slug -> its account, when there are several. */
  private readonly placements = new BoundedCache<string, TableStorage>(10_000);
  private readonly folds = new Set<Promise<void>>();
  private readonly foldAfter: number;
  private readonly log: Logger | undefined;

  /**
   * `accounts` hold the sessions table (the main account, or the sessions accounts); each
   * customer's sessions live in one of them, chosen by rendezvous hashing of its slug.
   */
  constructor(
    private readonly accounts: readonly TableStorage[],
    options: TableSessionRepositoryOptions = {},
  ) {
    if (accounts.length === 0) throw new Error('TableSessionRepository needs at least one account');
    this.foldAfter = options.foldAfterBatches ?? FOLD_AFTER_BATCHES;
    this.log = options.log;
  }

  /**
   * The account that holds a customer's sessions: the one whose hash with the slug is highest
   * (rendezvous hashing). It depends only on the slug and the set of accounts, not their order;
   * adding an account moves about 1/N of the customers to it and no other.
   */
  accountFor(customerSlug: string): TableStorage {
    if (this.accounts.length === 1) return this.accounts[0]!;
    const placed = this.placements.get(customerSlug);
    if (placed) return placed;
    let best = this.accounts[0]!;
    let bestScore = '';
    for (const account of this.accounts) {
      const score = createHash('sha256').update(`${account.accountUrl}\n${customerSlug}`).digest('hex');
      if (score > bestScore) [best, bestScore] = [account, score];
    }
    this.placements.set(customerSlug, best);
    return best;
  }

  /**
   * Groups the request's batches by partition and writes each group in one transaction (up to
   * its limits), side by side with the opening of the sessions this instance has not seen: one
   * round trip in sequence. A conflict in a group means one of its batches was stored before (a
   * retried request) or one of its sessions is open already; only then are the group's batches,
   * or openings, written one by one (each conflict then telling exactly what was there).
   */
  async append(source: IngestSource, batches: LazyBatch[], shared: SharedBatchContext, receivedAt: string): Promise<AppendResult> {
    const storage = this.accountFor(source.customerSlug);
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
    const byPartition = new Map<string, Array<{ s: string; lazy: LazyBatch }>>();
    for (const { s, lazy } of keyed) {
      const pk = partitionOf(source.customerSlug, s);
      byPartition.set(pk, [...(byPartition.get(pk) ?? []), { s, lazy }]);
    }
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
      rowKey: `${pendingPrefix(s)}${batch.contentHash.slice(0, 32)}`,
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
    for (const p of group) this.counted(storage, pk, p.s, result.stored > 0);
    return result;
  }

  private sharedRows(pk: string, shared: SharedBatchContext): TableEntity<Record<string, unknown>>[] {
    return splitDocument(shared.document).map((data, part) => ({
      ...data,
      partitionKey: pk,
      rowKey: `${sharedPrefix(shared.hash)}${String(part).padStart(3, '0')}`,
    }));
  }

  async get(customerSlug: string, sessionId: string): Promise<StoredSession | undefined> {
    const storage = this.accountFor(customerSlug);
    const s = sid(sessionId);
    const pk = partitionOf(customerSlug, s);
    const summaryKey = await this.summaryKey(storage, pk, s);
    const summary = summaryKey ? await this.readSummary(storage, pk, summaryKey) : undefined;
    if (summary) return this.exact(storage, summary);
    // A session whose opening never landed (its only writer stopped between the two writes):
    // its batches are stored all the same, and its pending rows say who sent them.
    const pending = await this.pending(storage, pk, s);
    const first = pending.reduce<PendingEntity | undefined>((a, b) => (a && a.receivedAt <= b.receivedAt ? a : b), undefined);
    return first ? toSession(newSummary(pk, '', openingOf(first), first.receivedAt), pending) : undefined;
  }

  async documents(customerSlug: string, sessionId: string): Promise<string[]> {
    const storage = this.accountFor(customerSlug);
    const s = sid(sessionId);
    const pk = partitionOf(customerSlug, s);
    const rows = await this.rowsFrom(storage, pk, batchPrefix(s));
    type Stored = { receivedAt: string; parts: number; shared: string | undefined; sharedAt: string; rows: Map<number, string> };
    const batches = new Map<string, Stored>();
    for (const row of rows) {
      const [, , hash, partText] = row.rowKey.split('_');
      const part = Number(partText);
      const entry = batches.get(hash!) ?? { receivedAt: '', parts: 0, shared: undefined, sharedAt: pk, rows: new Map<number, string>() };
      entry.rows.set(part, chunksOf(row));
      if (part === 0) {
        entry.receivedAt = row.receivedAt as string;
        entry.parts = row.parts as number;
        entry.shared = typeof row.shared === 'string' ? row.shared : undefined;
        entry.sharedAt = typeof row.sharedPartition === 'string' ? row.sharedPartition : pk;
      }
      batches.set(hash!, entry);
    }
    const committed = [...batches.values()]
      .filter((b) => b.parts > 0 && b.rows.size >= b.parts) // a batch without its part 000 was never committed
      .sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
    const sharedDocuments = new Map<string, string>();
    for (const where of new Set(committed.flatMap((b) => (b.shared ? [`${b.sharedAt}/${b.shared}`] : [])))) {
      const [sharedPk, hash] = where.split('/') as [string, string];
      const sharedParts = await this.rowsFrom(storage, sharedPk, sharedPrefix(hash));
      sharedDocuments.set(
        where,
        sharedParts
          .sort((a, b) => a.rowKey.localeCompare(b.rowKey))
          .map(chunksOf)
          .join(''),
      );
    }
    return committed.map((b) => {
      const stored = Array.from({ length: b.parts }, (_, i) => b.rows.get(i) ?? '').join('');
      return assembleDocument(stored, b.shared ? sharedDocuments.get(`${b.sharedAt}/${b.shared}`) : undefined);
    });
  }

  /**
   * Newest first (by first arrival), from the customer's recent-sessions index
   * (session-list-index.ts): one query per index partition (8), then each listed session's
   * counts, two reads each (see `exact`). So a listing costs at most 8 + 2 x its sessions
   * storage operations; more only for a session read while a fold lands, one with over 1,000
   * pending rows, or one whose opening never landed (or lost to another instance's). A session
   * whose key label is not the one asked for (opened by two keys at once, and the other's
   * opening won) is left out of the page.
   */
  async list(customerSlug: string, query: SessionQuery): Promise<Page<StoredSession>> {
    const storage = this.accountFor(customerSlug);
    const page = await this.index.page(storage, customerSlug, query);
    const items = new Array<StoredSession | undefined>(page.entries.length);
    await eachLimited(
      page.entries.map((entry, i) => ({ entry, i })),
      LIST_CONCURRENCY,
      async ({ entry, i }) => {
        items[i] = await this.listed(storage, customerSlug, entry);
      },
    );
    const shown = items.filter(
      (item): item is StoredSession => item !== undefined && (!query.keyLabel || item.keyLabel === query.keyLabel),
    );
    return { items: shown, cursor: page.cursor };
  }

  /**
   * A listed session as of now: its summary is (nearly always) under its entry's key, since the
   * instance that wrote the entry opened it at the same instant; otherwise (another instance's
   * opening won, or none landed) it is found as {@link get} finds it.
   */
  private async listed(storage: TableStorage, customerSlug: string, entry: ListEntryEntity): Promise<StoredSession | undefined> {
    const s = sidOfSummary(entry.rowKey);
    const pk = partitionOf(customerSlug, s);
    const summary = await this.readSummary(storage, pk, this.summaryKeys.get(`${pk}/${s}`) ?? entry.rowKey);
    return summary ? this.exact(storage, summary) : this.get(customerSlug, entry.sessionId);
  }

  /** Waits for the folds under way (graceful shutdown, tests). */
  async settle(): Promise<void> {
    while (this.folds.size > 0) await Promise.allSettled([...this.folds]);
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
        ['create', { partitionKey: pk, rowKey: indexRow(p.s), summaryRowKey: rowKey }],
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

  /** Counts a stored batch and folds the session once this instance has written enough of it. */
  private counted(storage: TableStorage, pk: string, s: string, stored: boolean): void {
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

  /**
   * Folds a session's pending counts into its summary: the summary updated under its ETag and
   * the folded pending rows deleted in the same transaction. Losing a race (another fold, 412)
   * changes nothing; the counts stay pending for the next fold and are read exactly meanwhile.
   */
  private async fold(storage: TableStorage, pk: string, s: string): Promise<void> {
    const read = await this.pendingAndFolds(storage, pk, s, true);
    // Room for the summary, its index row (when it opens the session) and the fold count.
    const pending = read.pending.slice(0, TRANSACTION_ENTITIES - 3);
    if (pending.length === 0) return;
    const summaryKey = await this.summaryKey(storage, pk, s, true);
    const current = summaryKey ? await this.readSummary(storage, pk, summaryKey, true) : undefined;
    const deletes: TransactionAction[] = pending.map((p) => ['delete', { partitionKey: pk, rowKey: p.rowKey }]);
    let write: TransactionAction[];
    let folds: number;
    if (current) {
      folds = (current.folds ?? 0) + 1;
      const counts = pending.reduce(addPending, current as SessionCounts);
      write = [['update', { partitionKey: pk, rowKey: current.rowKey, ...counts, folds }, 'Merge', { etag: current.etag }]];
    } else {
      // The opening never landed: open the session now from its earliest pending batch.
      folds = read.folds + 1;
      const first = pending.reduce((a, b) => (a.receivedAt <= b.receivedAt ? a : b));
      const rowKey = summaryRow(first.receivedAt, s);
      const opening = openingOf(first);
      const opened = newSummary(pk, rowKey, opening, first.receivedAt);
      const summary: SummaryEntity = { ...opened, ...pending.reduce(addPending, opened as SessionCounts), folds };
      write = [
        ...(summaryKey ? [] : ([['create', { partitionKey: pk, rowKey: indexRow(s), summaryRowKey: rowKey }]] as TransactionAction[])),
        ['create', withoutUndefined(summary)],
      ];
    }
    // The fold count moves with the summary, in the same transaction (see exact()).
    write.push(['upsert', { partitionKey: pk, rowKey: foldMarkRow(s), folds }, 'Replace']);
    try {
      await storage.call((o) => storage.clients.sessions.submitTransaction([...write, ...deletes], deferred(o)));
    } catch (error) {
      const status = statusOf(error);
      if (status === 412 || status === 409 || status === 404) return;
      throw error;
    }
  }

  private async summaryKey(storage: TableStorage, pk: string, s: string, background = false): Promise<string | undefined> {
    const cached = this.summaryKeys.get(`${pk}/${s}`);
    if (cached) return cached;
    const row = await absentIfNotFound(
      storage.call((o) =>
        storage.clients.sessions.getEntity<{ summaryRowKey: string }>(pk, indexRow(s), {
          ...(background ? deferred(o) : o),
          queryOptions: { select: ['summaryRowKey'] },
        }),
      ),
    );
    if (row) this.summaryKeys.set(`${pk}/${s}`, row.summaryRowKey);
    return row?.summaryRowKey;
  }

  private readSummary(
    storage: TableStorage,
    pk: string,
    rowKey: string,
    background = false,
  ): Promise<TableEntityResult<SummaryEntity> | undefined> {
    return absentIfNotFound(
      storage.call((o) => storage.clients.sessions.getEntity<SummaryEntity>(pk, rowKey, background ? deferred(o) : o)),
    );
  }

  private async pending(storage: TableStorage, pk: string, s: string): Promise<PendingEntity[]> {
    return (await this.pendingAndFolds(storage, pk, s)).pending;
  }

  /**
   * A session's counts as of one moment: its summary plus its pending rows. A fold moves rows
   * from one to the other in one transaction and counts itself in both (the summary's `folds`
   * and the fold-count row, read with the pending rows and after them, in key order). So the
   * pending rows read after the summary belong with it exactly when the two counts agree;
   * otherwise a fold landed in between (rare) and the summary is read again. Two reads.
   */
  private async exact(storage: TableStorage, summary: TableEntityResult<SummaryEntity>): Promise<StoredSession> {
    let current = summary;
    for (let attempt = 0; ; attempt++) {
      const { pending, folds } = await this.pendingAndFolds(storage, current.partitionKey, sidOfSummary(current.rowKey));
      if ((current.folds ?? 0) === folds) return toSession(current, pending);
      if (attempt >= 10) throw new Error('session counts: the summary kept changing while it was read');
      const again = await this.readSummary(storage, current.partitionKey, current.rowKey);
      if (!again) throw new Error('a session summary disappeared while it was read');
      current = again;
    }
  }

  /** A session's pending rows, and its fold count (0 before its first fold). */
  private async pendingAndFolds(
    storage: TableStorage,
    pk: string,
    s: string,
    background = false,
  ): Promise<{ pending: PendingEntity[]; folds: number }> {
    const rows = await this.rowsFrom(storage, pk, pendingPrefix(s), background);
    const mark = foldMarkRow(s);
    const folds = rows.find((row) => row.rowKey === mark)?.folds;
    return {
      pending: rows.filter((row) => row.rowKey !== mark) as unknown as PendingEntity[],
      folds: typeof folds === 'number' ? folds : 0,
    };
  }

  /** Every row of a partition whose key starts with `prefix`. */
  private rowsFrom(
    storage: TableStorage,
    pk: string,
    prefix: string,
    background = false,
  ): Promise<Array<Record<string, unknown> & { rowKey: string }>> {
    return storage.call(async (o) => {
      const out: Array<Record<string, unknown> & { rowKey: string }> = [];
      for await (const row of storage.clients.sessions.listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey eq ${pk} and RowKey ge ${prefix} and RowKey lt ${after(prefix)}` },
        ...(background ? deferred(o) : o),
      })) {
        out.push(row as Record<string, unknown> & { rowKey: string });
      }
      return out;
    });
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
