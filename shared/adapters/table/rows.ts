import type { TransactionAction } from '@azure/data-tables';
import type { Actor, AuditEvent, AuditEventType } from '../../domain';
import { ApiError } from '../../errors';

/** Row-level helpers shared by the Table adapters (they alone know entity shapes). */

export const invertedTime = (iso: string): string => String(9_999_999_999_999 - new Date(iso).getTime()).padStart(13, '0');

/**
 * Items grouped by key, groups in the order their keys first appear and each in input order.
 * Linear: the flushes group up to a customer's every key (10,000) and the retention sweep far
 * more, where copying a group to add each item (`[...group, item]`) is quadratic (a flush of
 * 10,000 usage rows allocated 400 MB that way).
 */
export function groupBy<T>(items: Iterable<T>, keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

export function withoutUndefined<T extends object>(entity: T): T {
  return Object.fromEntries(Object.entries(entity).filter(([, v]) => v !== undefined)) as T;
}

/**
 * A row that lacks what the code always writes, or holds it in a form the code never writes.
 * There is no older row format to tolerate, so reading one is a fault to look into (a 500 with
 * this error in the log), never something to guess around.
 */
export class CorruptRowError extends Error {
  constructor(detail: string) {
    super(`Corrupt row: ${detail}`);
    this.name = 'CorruptRowError';
  }
}

export const actorToText = (actor: Actor): string => JSON.stringify({ type: actor.type, id: actor.id, name: actor.name });
export function actorFromText(text: string): Actor {
  let actor: Partial<Actor> | null = null;
  try {
    actor = JSON.parse(text) as Partial<Actor> | null;
  } catch {
    // Not JSON: reported below like any other value that is not an actor.
  }
  if (!actor || typeof actor !== 'object' || typeof actor.id !== 'string')
    throw new CorruptRowError('an actor column does not hold an actor');
  return actor as Actor;
}

/** The transaction step that merges columns into a row as it was read (under that read's ETag). */
export const mergeStep = (row: { partitionKey: string; rowKey: string; etag: string }, columns: object): TransactionAction => [
  'update',
  { partitionKey: row.partitionKey, rowKey: row.rowKey, ...columns },
  'Merge',
  { etag: row.etag },
];

/** Full-jitter exponential backoff between optimistic-concurrency retries. */
export const backoff = (attempt: number, capMs = 250): Promise<void> =>
  attempt === 0 ? Promise.resolve() : new Promise((r) => setTimeout(r, Math.random() * Math.min(capMs, 5 * 2 ** attempt)));

/** Audit rows sort newest first inside their customer's partition. */
export const AUDIT_PREFIX = 'audit_';
export const auditRowKey = (event: AuditEvent): string => `${AUDIT_PREFIX}${invertedTime(event.at)}_${event.id}`;

/**
 * The audit feed's copy of each audit row, sorted oldest first: `auditfeed_{ms since the epoch,
 * 13 digits}_{event id}`, so "after this position, oldest first" is one range query (a Table query
 * reads in row-key order only). Beyond `audit`` (the newest-first range's end), so neither range
 * holds the other's rows.
 */
export const AUDIT_FEED_PREFIX = 'auditfeed_';
const feedTime = (ms: number): string => String(ms).padStart(13, '0');
/** The feed row key of the position (`at`, `id`); `id` '' is the position before every event of that instant. */
export const auditFeedRowKey = (at: string, id: string): string => `${AUDIT_FEED_PREFIX}${feedTime(Date.parse(at))}_${id}`;
/** An exclusive upper bound above every feed row of an instant and before all later ones. */
export const auditFeedRowKeyAfterInstant = (at: string): string => `${AUDIT_FEED_PREFIX}${feedTime(Date.parse(at))}\``;

export type AuditEntity = {
  partitionKey: string;
  rowKey: string;
  id: string;
  type: string;
  at: string;
  actor: string;
  keyId?: string;
  keyRequestId?: string;
  requestId: string;
  details?: string;
};

/**
 * The writes that record an audit event, for a transaction in its customer's partition: the
 * newest-first row (the listing) and the oldest-first row (the feed), always together. Every
 * adapter that writes an audit event writes it through this, never one row alone: an event
 * without its feed row would be missing from the feed for good.
 */
export const auditSteps = (event: AuditEvent): TransactionAction[] => [
  ['create', auditEntity(event)],
  ['create', { ...auditEntity(event), rowKey: auditFeedRowKey(event.at, event.id) }],
];

function auditEntity(event: AuditEvent): AuditEntity {
  return withoutUndefined({
    partitionKey: event.customerSlug,
    rowKey: auditRowKey(event),
    id: event.id,
    type: event.type,
    at: event.at,
    actor: actorToText(event.actor),
    keyId: event.keyId,
    keyRequestId: event.keyRequestId,
    requestId: event.requestId,
    details: event.details ? JSON.stringify(event.details) : undefined,
  });
}

export function toAuditEvent(row: AuditEntity): AuditEvent {
  return withoutUndefined({
    id: row.id,
    customerSlug: row.partitionKey,
    type: row.type as AuditEventType,
    at: row.at,
    actor: actorFromText(row.actor),
    keyId: row.keyId,
    keyRequestId: row.keyRequestId,
    requestId: row.requestId,
    details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : undefined,
  });
}

/**
 * Page cursors: where the next page starts, as opaque base64url text. A cursor names the
 * partition it pages through, so it cannot be replayed against another customer's data; a
 * cursor that is not one of ours (tampered, truncated) is a 400, not a storage error.
 */
export const INVALID_CURSOR = () =>
  new ApiError('validation_failed', 'The cursor is not valid here: pass back the cursor of the previous page unchanged.');

/** A cursor's text for a position (any JSON value). */
export const writeCursor = (position: unknown): string => Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');

/** The position a cursor holds, or `{}` when it holds none (every field then fails its check). */
export function readCursor(cursor: string): Record<string, unknown> {
  try {
    const position: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return position && typeof position === 'object' ? (position as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function encodeCursor(sdkToken: string | undefined, partition: string): string | undefined {
  if (!sdkToken) return undefined;
  return writeCursor({ s: partition, t: sdkToken });
}

export function decodeCursor(cursor: string | undefined, partition: string): string | undefined {
  if (!cursor) return undefined;
  const { s, t } = readCursor(cursor);
  if (s !== partition || typeof t !== 'string' || t.length > 2048 || !/^[A-Za-z0-9+/=]+$/.test(t)) throw INVALID_CURSOR();
  try {
    const inner = JSON.parse(Buffer.from(t, 'base64').toString('utf8')) as { nextPartitionKey?: unknown; nextRowKey?: unknown };
    if (typeof inner.nextPartitionKey !== 'string' || (inner.nextRowKey !== undefined && typeof inner.nextRowKey !== 'string'))
      throw new Error();
  } catch {
    throw INVALID_CURSOR();
  }
  return t;
}
