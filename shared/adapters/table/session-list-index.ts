import { odata, type TableEntityResult, type TransactionAction } from '@azure/data-tables';
import { BoundedCache } from '../../cache/bounded-cache';
import type { SessionQuery } from '../../ports/session-repository';
import { statusOf } from '../azure-errors';
import { eachLimited } from './each-limited';
import { groupBy } from './rows';
import {
  LIST_PARTITIONS,
  TRANSACTION_ENTITIES,
  decodeListCursor,
  encodeListCursor,
  indexRow,
  listPartitionOf,
  listPartitionsOf,
  summaryRange,
  summaryRow,
  type ListEntryEntity,
} from './session-rows';
import type { TableStorage } from './table-storage';

/** A session the index is told about: its id and the hash its rows are keyed by. */
export interface IndexedSession {
  s: string;
  sessionId: string;
}

/** One page of the index: the entries to show, in order, and where the next page starts. */
export interface IndexPage {
  entries: Array<TableEntityResult<ListEntryEntity>>;
  cursor: string | undefined;
}

/** Sessions per index transaction: two rows each, inside the service's 100 operations. */
const SESSIONS_PER_TRANSACTION = Math.floor(TRANSACTION_ENTITIES / 2);
/** Index partitions written or read at once. */
const CONCURRENCY = LIST_PARTITIONS;
/**
 * Rows each index partition is asked for when a key label narrows the listing: labels are
 * matched here, so a page covers at least this many of each partition's newest entries.
 */
const LABEL_ROWS = 32;

/**
 * The customer's recent-sessions index (rows in session-rows.ts): what a listing reads instead
 * of the customer's 128 session partitions. Each session has one entry, keyed like its summary
 * (first-seen time, newest first), in one of {@link LIST_PARTITIONS} index partitions.
 *
 * Writing: an instance adds the sessions it has not seen to the index beside their opening,
 * one transaction per index partition (up to its limits), so ingest keeps one round trip in
 * sequence. The entry's key row is created, so when several instances first see a session at
 * once exactly one entry stands (a conflict means the session is indexed already).
 *
 * Reading: one page of each index partition (the page's share, doubled, plus 8, but never more
 * than the page; at least {@link LABEL_ROWS} with a key label), merged. The page ends where every partition has been
 * read up to: if one partition holds more of the newest sessions than its share (an unlucky or
 * chosen spread of session ids), the page is short and its cursor goes on from there. So a
 * listing costs {@link LIST_PARTITIONS} queries, whatever the page size or the label.
 */
export class SessionListIndex {
  /** Sessions known to be indexed: `{slug}/{sid}`. */
  private readonly listed = new BoundedCache<string, true>(50_000);

  /** Adds the sessions this instance has not indexed yet, first seen at `receivedAt` with `keyLabel`. */
  async add(
    storage: TableStorage,
    customerSlug: string,
    sessions: IndexedSession[],
    keyLabel: string,
    receivedAt: string,
  ): Promise<number> {
    const fresh = new Map<string, IndexedSession>();
    for (const session of sessions) if (!this.listed.get(`${customerSlug}/${session.s}`)) fresh.set(session.s, session);
    if (fresh.size === 0) return 0;
    const byPartition = groupBy(fresh.values(), (session) => listPartitionOf(customerSlug, session.s));
    const groups: Array<{ pk: string; sessions: IndexedSession[] }> = [];
    for (const [pk, list] of byPartition) {
      for (let i = 0; i < list.length; i += SESSIONS_PER_TRANSACTION)
        groups.push({ pk, sessions: list.slice(i, i + SESSIONS_PER_TRANSACTION) });
    }
    const rowsOf = (pk: string, session: IndexedSession): TransactionAction[] => {
      const rowKey = summaryRow(receivedAt, session.s);
      const entry: ListEntryEntity = { partitionKey: pk, rowKey, sessionId: session.sessionId, keyLabel };
      return [
        ['create', { partitionKey: pk, rowKey: indexRow(session.s), entry: rowKey }],
        ['create', entry],
      ];
    };
    // Each attempt counts (a retried one costs the account as much): the meter charges for them.
    let transactions = 0;
    const create = (pk: string, list: IndexedSession[]) =>
      storage.call((o) => {
        transactions += 1;
        return storage.clients.sessions.submitTransaction(
          list.flatMap((session) => rowsOf(pk, session)),
          o,
        );
      });
    const done = (session: IndexedSession) => this.listed.set(`${customerSlug}/${session.s}`, true);
    await eachLimited(groups, CONCURRENCY, async ({ pk, sessions: list }) => {
      try {
        await create(pk, list);
        list.forEach(done);
        return;
      } catch (error) {
        if (statusOf(error) !== 409) throw error;
      }
      // Some session of the group is indexed already: each on its own, where a conflict says so.
      if (list.length === 1) return done(list[0]!);
      await Promise.all(
        list.map(async (session) => {
          try {
            await create(pk, [session]);
          } catch (error) {
            if (statusOf(error) !== 409) throw error;
          }
          done(session);
        }),
      );
    });
    return transactions;
  }

  /** The entries of one page, newest first, narrowed by key label and first-seen window. */
  async page(storage: TableStorage, customerSlug: string, query: SessionQuery): Promise<IndexPage> {
    const cursorKey = decodeListCursor(query.cursor, customerSlug);
    const { lower, upper } = summaryRange(query.from, query.to);
    let filter = odata`RowKey lt ${upper}`;
    filter += cursorKey && cursorKey >= lower ? odata` and RowKey gt ${cursorKey}` : odata` and RowKey ge ${lower}`;
    const size = Math.min(
      1000,
      Math.max(Math.min(query.limit, Math.ceil((2 * query.limit) / LIST_PARTITIONS) + 8), query.keyLabel ? LABEL_ROWS : 0),
    );

    type Head = { rows: Array<TableEntityResult<ListEntryEntity>>; open: boolean };
    const heads: Head[] = [];
    await eachLimited(listPartitionsOf(customerSlug), CONCURRENCY, async (pk) => {
      // One page each; the service may answer a page with no rows and a continuation (rare): follow it.
      let token: string | undefined;
      for (;;) {
        const page = await storage.call((o) =>
          storage.clients.sessions
            .listEntities<ListEntryEntity>({
              queryOptions: { filter: odata`PartitionKey eq ${pk} and ` + filter },
              abortSignal: o.abortSignal,
            })
            .byPage({ maxPageSize: size, ...(token ? { continuationToken: token } : {}) })
            .next(),
        );
        if (page.done) return void heads.push({ rows: [], open: false });
        token = page.value.continuationToken;
        if (page.value.length > 0 || !token) return void heads.push({ rows: [...page.value], open: Boolean(token) });
      }
    });

    const merged = heads.flatMap((h) => h.rows).sort((a, b) => a.rowKey.localeCompare(b.rowKey));
    // Every partition has been read up to the boundary: none could still hold an entry before it.
    const boundary = heads
      .filter((h) => h.open)
      .reduce<string | undefined>((min, h) => {
        const last = h.rows.at(-1)!.rowKey;
        return min === undefined || last < min ? last : min;
      }, undefined);
    const covered = boundary === undefined ? merged : merged.filter((row) => row.rowKey <= boundary);
    const placed = query.keyLabel ? covered.filter((row) => row.keyLabel === query.keyLabel) : covered;
    const full = placed.length >= query.limit;
    const entries = placed.slice(0, query.limit);
    const last = full ? entries.at(-1)!.rowKey : boundary;
    const more = heads.some((h) => h.open) || merged.some((row) => row.rowKey > (last ?? '~'));
    return { entries, cursor: more && last ? encodeListCursor(customerSlug, last) : undefined };
  }
}
