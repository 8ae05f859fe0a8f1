import { createHash } from 'node:crypto';
import type { KeyEnvironment } from '../../domain';
import type { StoredSession } from '../../ports/session-repository';
import { CorruptRowError, INVALID_CURSOR, invertedTime, readCursor, withoutUndefined, writeCursor } from './rows';

/**
 * The rows of ingested sessions in the `sessions` table, and the only place their keys are built
 * and parsed (the repository, table-session-repository.ts, composes session-writer.ts,
 * session-fold.ts and session-reader.ts), spread over {@link SESSION_PARTITIONS} partitions per
 * customer (`{slug}~{00..7f}`, by a hash of the session id), so one busy customer's traffic is
 * shared by many partitions instead of hitting one. All rows of one session live in its
 * partition:
 *
 * - `b_{sid}_{content hash}_{part}` the span documents of each batch, split over rows and
 *                                   properties to stay inside Table Storage's limits
 * - `p_{sid}_{content hash}`        the batch's counts (spans, trace ids, times), pending until
 *                                   folded into the summary
 * - `r_{shared hash}_{part}`        what the batches of one request share (resources, scopes),
 *                                   referred to by hash; written with the batch, once per
 *                                   partition per instance (larger than 16 KiB: once, ahead, in
 *                                   the customer's `{slug}~shared` partition)
 * - `p_{sid}_folds`                 the session's fold count, written with every fold (the same
 *                                   number as its summary's `folds`): read with the pending rows,
 *                                   it tells whether a fold landed between reading the summary and
 *                                   reading them
 * - `i_{sid}`                       index: the session's summary row key (written once)
 * - `s_{inverted time}_{sid}`       summary: who opened the session, when, and the counts folded
 *                                   so far; the inverted first-seen time sorts a partition newest
 *                                   first
 *
 * And the customer's recent-sessions index, what a listing reads: {@link LIST_PARTITIONS}
 * partitions `{slug}~list{0..7}` (a session's is fixed by its session partition), each holding,
 * per session, written together when an instance first sees the session:
 *
 * - `i_{sid}`                       the session's entry key (created: the first writer wins)
 * - `s_{inverted time}_{sid}`       its entry: the session id and the key label it was opened
 *                                   with; sorted newest first, the same key as its summary's
 *
 * `{sid}` is a hash of the session id (ids are arbitrary text; row keys are not).
 */

/** Partitions per customer. Fixed for good: a stored session is found by it. */
export const SESSION_PARTITIONS = 128;
/** Batches of one session written on this instance before it folds their counts. */
export const FOLD_AFTER_BATCHES = 32;

/** Shared parts (resources, scopes) up to this size travel with each batch; larger ones are stored apart, once. */
export const SHARED_INLINE_CHARS = 16 * 1024;
/** The suffix of a customer's partition for large shared parts (`{slug}~shared`; buckets are two hex digits). */
export const SHARED_APART = '~shared';
/** Characters per string property (Table Storage allows 64 KiB of UTF-16 per property). */
export const CHUNK_CHARS = 30_000;
/** Data properties per row (an entity may hold 1 MiB). */
export const CHUNKS_PER_ROW = 14;
/** Upper bound on the body of one entity-group transaction (the service allows 4 MiB). */
export const TRANSACTION_BYTES = 3 * 1024 * 1024;
/** Operations per entity-group transaction (the service allows 100). */
export const TRANSACTION_ENTITIES = 99;
export const MAX_TRACE_IDS = 20;

export const hex2 = (n: number): string => n.toString(16).padStart(2, '0');
export const sid = (sessionId: string): string => createHash('sha256').update(sessionId, 'utf8').digest('hex').slice(0, 32);
export const partitionOf = (customerSlug: string, s: string): string =>
  `${customerSlug}~${hex2(parseInt(s.slice(0, 2), 16) % SESSION_PARTITIONS)}`;
export const partitionsOf = (customerSlug: string): string[] =>
  Array.from({ length: SESSION_PARTITIONS }, (_, i) => `${customerSlug}~${hex2(i)}`);
/** The first key after every key that starts with `prefix` (which ends in `_`; '`' sorts right after it). */
export const after = (prefix: string): string => `${prefix.slice(0, -1)}\``;

/** A part number in a row key: three digits at least, so a batch's or shared document's parts sort in order. */
const partKey = (part: number): string => String(part).padStart(3, '0');

export const indexRow = (s: string): string => `i_${s}`;
/** A session's index row: where its summary is (written once, with the summary). */
export const indexEntity = (partitionKey: string, s: string, summaryRowKey: string) => ({
  partitionKey,
  rowKey: indexRow(s),
  summaryRowKey,
});

export const pendingPrefix = (s: string): string => `p_${s}_`;
/** A batch's pending counts (one row per batch, by its content hash). */
export const pendingRow = (s: string, contentHash: string): string => `${pendingPrefix(s)}${contentHash.slice(0, 32)}`;
/** The fold count's row: inside the pending range, after every pending row (`fo` sorts after any hex pair). */
export const foldMarkRow = (s: string): string => `${pendingPrefix(s)}folds`;
export const foldMarkEntity = (partitionKey: string, s: string, folds: number) => ({ partitionKey, rowKey: foldMarkRow(s), folds });

const SUMMARY_PREFIX = 's_';
export const SUMMARY_KEY = /^s_(\d{13})_([0-9a-f]{32})$/;
/** A session's summary (and its listing entry): first seen at `receivedAt`, newest first. */
export const summaryRow = (receivedAt: string, s: string): string => `${SUMMARY_PREFIX}${invertedTime(receivedAt)}_${s}`;
/** Whether a row key is a summary's (or a listing entry's). */
export const isSummaryRow = (rowKey: string): boolean => SUMMARY_KEY.test(rowKey);
/** The session id hash a summary or listing-entry key ends with. */
export function sidOfSummary(rowKey: string): string {
  const s = SUMMARY_KEY.exec(rowKey)?.[2];
  if (s === undefined) throw new CorruptRowError(`${JSON.stringify(rowKey)} is not a session summary's key`);
  return s;
}
/** Summary keys (and listing-entry keys) first seen within a window, newest first: `lower <= key < upper`. */
export function summaryRange(from: string | undefined, to: string | undefined): { lower: string; upper: string } {
  return {
    upper: from ? `${SUMMARY_PREFIX}${invertedTime(from)}_~` : after(SUMMARY_PREFIX),
    lower: to ? `${SUMMARY_PREFIX}${invertedTime(to)}` : SUMMARY_PREFIX,
  };
}

export const batchPrefix = (s: string): string => `b_${s}_`;
export const batchRow = (s: string, contentHash: string, part: number): string =>
  `${batchPrefix(s)}${contentHash.slice(0, 32)}_${partKey(part)}`;
/** The batch (its content hash, as its row keys hold it) and part a batch row holds. */
export function parseBatchRow(rowKey: string): { contentHash: string; part: number } {
  const [b, s, contentHash, part] = rowKey.split('_');
  if (b !== 'b' || !s || !contentHash || part === undefined || !/^\d{3,}$/.test(part))
    throw new CorruptRowError(`${JSON.stringify(rowKey)} is not a batch row's key`);
  return { contentHash, part: Number(part) };
}

export const sharedPrefix = (hash: string): string => `r_${hash.slice(0, 32)}_`;
export const sharedRow = (hash: string, part: number): string => `${sharedPrefix(hash)}${partKey(part)}`;

/** Partitions of a customer's recent-sessions index: a listing reads one page of each. */
export const LIST_PARTITIONS = 8;
/** The index partition of a session: its session partition's, so one session partition's sessions share one. */
export const listPartitionOf = (customerSlug: string, s: string): string =>
  `${customerSlug}~list${(parseInt(s.slice(0, 2), 16) % SESSION_PARTITIONS) % LIST_PARTITIONS}`;
export const listPartitionsOf = (customerSlug: string): string[] =>
  Array.from({ length: LIST_PARTITIONS }, (_, i) => `${customerSlug}~list${i}`);

/** The partition a customer's session lives in (the benchmark's load model uses it too). */
export const sessionPartition = (customerSlug: string, sessionId: string): string => partitionOf(customerSlug, sid(sessionId));
/** The recent-sessions index partition a customer's session is listed in. */
export const sessionListPartition = (customerSlug: string, sessionId: string): string => listPartitionOf(customerSlug, sid(sessionId));

/** Counts a summary folds in. */
export interface SessionCounts {
  spanCount: number;
  batchCount: number;
  /** JSON array of up to 20 trace ids. */
  traceIds: string;
  startedAt?: string;
  endedAt?: string;
  lastReceivedAt?: string;
}

/** Who opened a session, from its first batch. */
export interface Opening {
  sessionId: string;
  sessionIdSource: string;
  serviceName?: string;
  keyId: string;
  keyLabel: string;
  application: string;
  environment: string;
}

export type SummaryEntity = Record<string, unknown> & { partitionKey: string; rowKey: string } & Opening &
  SessionCounts & {
    sandbox: boolean;
    anchor: string;
    firstReceivedAt: string;
    /** Folds applied so far (absent: none); its fold-count row holds the same number. */
    folds?: number;
  };
/** A session's entry in the recent-sessions index. */
export type ListEntryEntity = Record<string, unknown> & { partitionKey: string; rowKey: string; sessionId: string; keyLabel: string };
export type PendingEntity = Record<string, unknown> & { partitionKey: string; rowKey: string } & Opening & {
    spanCount: number;
    traceIds: string;
    startedAt?: string;
    endedAt?: string;
    receivedAt: string;
  };

export function splitDocument(document: string): Record<string, string>[] {
  const chunks: string[] = [];
  for (let i = 0; i < document.length; i += CHUNK_CHARS) chunks.push(document.slice(i, i + CHUNK_CHARS));
  if (chunks.length === 0) chunks.push('');
  const rows: Record<string, string>[] = [];
  for (let i = 0; i < chunks.length; i += CHUNKS_PER_ROW) {
    const row: Record<string, string> = {};
    chunks.slice(i, i + CHUNKS_PER_ROW).forEach((chunk, n) => (row[`d${n}`] = chunk));
    rows.push(row);
  }
  return rows;
}

export const entityBytes = (entity: object): number => Buffer.byteLength(JSON.stringify(entity), 'utf8');

/** A row's document text, rejoined from its data properties `d0`, `d1`, .... */
export function chunksOf(row: Record<string, unknown>): string {
  let text = '';
  for (let n = 0; typeof row[`d${n}`] === 'string'; n++) text += row[`d${n}`] as string;
  return text;
}

export const minIso = (a: string | undefined, b: string | undefined) => (a && b ? (a < b ? a : b) : (a ?? b));
export const maxIso = (a: string | undefined, b: string | undefined) => (a && b ? (a > b ? a : b) : (a ?? b));

/** Counts plus one pending batch: commutative, so the order batches are folded in does not matter. */
export function addPending(counts: SessionCounts, pending: PendingEntity): SessionCounts {
  const traceIds = [...new Set([...(JSON.parse(counts.traceIds) as string[]), ...(JSON.parse(pending.traceIds) as string[])])];
  return {
    spanCount: counts.spanCount + pending.spanCount,
    batchCount: counts.batchCount + 1,
    traceIds: JSON.stringify(traceIds.slice(0, MAX_TRACE_IDS)),
    startedAt: minIso(counts.startedAt, pending.startedAt),
    endedAt: maxIso(counts.endedAt, pending.endedAt),
    lastReceivedAt: maxIso(counts.lastReceivedAt, pending.receivedAt),
  };
}

/** Who opened a session, as its pending batch recorded it. */
export const openingOf = (p: PendingEntity): Opening =>
  withoutUndefined({
    sessionId: p.sessionId,
    sessionIdSource: p.sessionIdSource,
    serviceName: p.serviceName,
    keyId: p.keyId,
    keyLabel: p.keyLabel,
    application: p.application,
    environment: p.environment,
  });

export function newSummary(partitionKey: string, rowKey: string, opening: Opening, receivedAt: string): SummaryEntity {
  const sandbox = opening.environment === 'test';
  return {
    partitionKey,
    rowKey,
    ...opening,
    sandbox,
    anchor: sandbox ? 'never' : 'pending',
    firstReceivedAt: receivedAt,
    spanCount: 0,
    batchCount: 0,
    traceIds: '[]',
  };
}

export function toSession(row: SummaryEntity, pending: PendingEntity[]): StoredSession {
  const counts = pending.reduce(addPending, row as SessionCounts);
  return {
    sessionId: row.sessionId,
    sessionIdSource: row.sessionIdSource as StoredSession['sessionIdSource'],
    serviceName: row.serviceName ?? pending.find((p) => p.serviceName)?.serviceName,
    keyId: row.keyId,
    keyLabel: row.keyLabel,
    application: row.application,
    environment: row.environment as KeyEnvironment,
    sandbox: row.sandbox,
    anchor: row.anchor as StoredSession['anchor'],
    spanCount: counts.spanCount,
    batchCount: counts.batchCount,
    traceIds: JSON.parse(counts.traceIds) as string[],
    startedAt: counts.startedAt,
    endedAt: counts.endedAt,
    firstReceivedAt: row.firstReceivedAt,
    lastReceivedAt: counts.lastReceivedAt ?? row.firstReceivedAt,
  };
}

/** Listing cursors: the last summary key returned, bound to its customer. */
export function encodeListCursor(customerSlug: string, rowKey: string): string {
  return writeCursor({ s: customerSlug, k: rowKey });
}
export function decodeListCursor(cursor: string | undefined, customerSlug: string): string | undefined {
  if (!cursor) return undefined;
  const { s, k } = readCursor(cursor);
  if (s !== customerSlug || typeof k !== 'string' || !isSummaryRow(k)) throw INVALID_CURSOR();
  return k;
}
