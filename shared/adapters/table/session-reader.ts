import { odata, type TableEntityResult } from '@azure/data-tables';
import type { BoundedCache } from '../../cache/bounded-cache';
import type { Page } from '../../ports/audit-log';
import { assembleDocument } from '../../otlp/sessions';
import type { SessionQuery, StoredSession } from '../../ports/session-repository';
import { absentIfNotFound } from '../azure-errors';
import { eachLimited } from './each-limited';
import type { SessionListIndex } from './session-list-index';
import { deferredWork } from './storage-operations';
import type { TableStorage } from './table-storage';
import {
  sid,
  partitionOf,
  indexRow,
  pendingPrefix,
  foldMarkRow,
  sidOfSummary,
  batchPrefix,
  parseBatchRow,
  sharedPrefix,
  after,
  type SummaryEntity,
  type PendingEntity,
  type ListEntryEntity,
  chunksOf,
  openingOf,
  newSummary,
  toSession,
} from './session-rows';

/** Sessions of a listing whose counts are read at once. */
const LIST_CONCURRENCY = 32;

/** A row of the sessions table as a query returns it. */
export type SessionRow = Record<string, unknown> & { rowKey: string };

/**
 * What reads sessions back (rows in session-rows.ts): a session's exact counts (its summary plus
 * its pending rows), its stored documents, and a page of the customer's recent sessions. The fold
 * (session-fold.ts) reads through it too, as deferred work.
 */
export class SessionReader {
  /**
   * @param summaryKeys session id hash -> summary row key (`{partition}/{sid}`); shared with the
   *   writer, which knows the keys of the sessions it opens. Safe to cache: the index never changes.
   * @param index the customer's recent-sessions index: what listings read.
   */
  constructor(
    private readonly summaryKeys: BoundedCache<string, string>,
    private readonly index: SessionListIndex,
  ) {}

  async get(storage: TableStorage, customerSlug: string, sessionId: string): Promise<StoredSession | undefined> {
    const s = sid(sessionId);
    const pk = partitionOf(customerSlug, s);
    const summaryKey = await this.summaryKey(storage, pk, s);
    const summary = summaryKey ? await this.readSummary(storage, pk, summaryKey) : undefined;
    if (summary) return this.exact(storage, summary);
    // A session whose opening never landed (its only writer stopped between the two writes):
    // its batches are stored all the same, and its pending rows say who sent them.
    const { pending } = await this.pendingAndFolds(storage, pk, s);
    const first = pending.reduce<PendingEntity | undefined>((a, b) => (a && a.receivedAt <= b.receivedAt ? a : b), undefined);
    return first ? toSession(newSummary(pk, '', openingOf(first), first.receivedAt), pending) : undefined;
  }

  async documents(storage: TableStorage, customerSlug: string, sessionId: string): Promise<string[]> {
    const s = sid(sessionId);
    const pk = partitionOf(customerSlug, s);
    const rows = await this.rowsFrom(storage, pk, batchPrefix(s));
    type Stored = { receivedAt: string; parts: number; shared: string | undefined; sharedAt: string; rows: Map<number, string> };
    const batches = new Map<string, Stored>();
    for (const row of rows) {
      const { contentHash, part } = parseBatchRow(row.rowKey);
      const entry = batches.get(contentHash) ?? {
        receivedAt: '',
        parts: 0,
        shared: undefined,
        sharedAt: pk,
        rows: new Map<number, string>(),
      };
      entry.rows.set(part, chunksOf(row));
      if (part === 0) {
        entry.receivedAt = row.receivedAt as string;
        entry.parts = row.parts as number;
        entry.shared = typeof row.shared === 'string' ? row.shared : undefined;
        entry.sharedAt = typeof row.sharedPartition === 'string' ? row.sharedPartition : pk;
      }
      batches.set(contentHash, entry);
    }
    const committed = [...batches.values()]
      .filter((b) => b.parts > 0 && b.rows.size >= b.parts) // a batch without its part 000 was never committed
      .sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
    // Each shared document once, by where it is (its partition) and what it is (its hash).
    const sharedAt = (b: Stored) => `${b.sharedAt}/${b.shared}`;
    const sharedWanted = new Map<string, { pk: string; hash: string }>();
    for (const b of committed) if (b.shared) sharedWanted.set(sharedAt(b), { pk: b.sharedAt, hash: b.shared });
    const sharedDocuments = new Map<string, string>();
    for (const [where, { pk: sharedPk, hash }] of sharedWanted) {
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
      return assembleDocument(stored, b.shared ? sharedDocuments.get(sharedAt(b)) : undefined);
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
  async list(storage: TableStorage, customerSlug: string, query: SessionQuery): Promise<Page<StoredSession>> {
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
    return summary ? this.exact(storage, summary) : this.get(storage, customerSlug, entry.sessionId);
  }

  /** A session's summary row key, from its index row (cached); `undefined` while it has none. */
  async summaryKey(storage: TableStorage, pk: string, s: string, background = false): Promise<string | undefined> {
    const cached = this.summaryKeys.get(`${pk}/${s}`);
    if (cached) return cached;
    const row = await absentIfNotFound(
      storage.call((o) =>
        storage.clients.sessions.getEntity<{ summaryRowKey: string }>(pk, indexRow(s), {
          ...(background ? deferredWork(o) : o),
          queryOptions: { select: ['summaryRowKey'] },
        }),
      ),
    );
    if (row) this.summaryKeys.set(`${pk}/${s}`, row.summaryRowKey);
    return row?.summaryRowKey;
  }

  readSummary(
    storage: TableStorage,
    pk: string,
    rowKey: string,
    background = false,
  ): Promise<TableEntityResult<SummaryEntity> | undefined> {
    return absentIfNotFound(
      storage.call((o) => storage.clients.sessions.getEntity<SummaryEntity>(pk, rowKey, background ? deferredWork(o) : o)),
    );
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
  async pendingAndFolds(
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
  private rowsFrom(storage: TableStorage, pk: string, prefix: string, background = false): Promise<SessionRow[]> {
    return storage.call(async (o) => {
      const out: SessionRow[] = [];
      for await (const row of storage.clients.sessions.listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey eq ${pk} and RowKey ge ${prefix} and RowKey lt ${after(prefix)}` },
        ...(background ? deferredWork(o) : o),
      })) {
        out.push(row as SessionRow);
      }
      return out;
    });
  }
}
