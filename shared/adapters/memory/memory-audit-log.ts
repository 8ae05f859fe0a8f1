import type { AuditEvent } from '../../domain';
import { ApiError } from '../../errors';
import type { AuditLog, FeedPage, FeedPosition, Page } from '../../ports/audit-log';

/** Newest first; events of one instant by id (the order of the Table adapter's row keys). */
const newestFirst = (a: Pick<AuditEvent, 'at' | 'id'>, b: Pick<AuditEvent, 'at' | 'id'>): number =>
  b.at.localeCompare(a.at) || a.id.localeCompare(b.id);

/**
 * Oldest first: by instant, then by id compared as code units (the order of the Table adapter's
 * feed row keys; `localeCompare` would follow a locale's collation instead).
 */
const oldestFirst = (a: FeedPosition, b: FeedPosition): number =>
  Date.parse(a.at) - Date.parse(b.at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** In-memory AuditLog for unit tests. */
export class MemoryAuditLog implements AuditLog {
  readonly events: AuditEvent[] = [];

  async append(event: AuditEvent): Promise<void> {
    this.events.push(event);
  }

  async list(customerSlug: string, options: { limit: number; cursor?: string }): Promise<Page<AuditEvent>> {
    // The cursor holds the last event listed (not a count), so events appended meanwhile do not shift the next page.
    const after = options.cursor ? readCursor(options.cursor, customerSlug) : undefined;
    const mine = this.events.filter((e) => e.customerSlug === customerSlug && (!after || newestFirst(e, after) > 0)).sort(newestFirst);
    const items = mine.slice(0, options.limit);
    const last = items.at(-1);
    return { items, cursor: last && mine.length > items.length ? writeCursor(customerSlug, last) : undefined };
  }

  async feed(customerSlug: string, options: { after?: FeedPosition; until: string; limit: number }): Promise<FeedPage> {
    const { after, limit } = options;
    const until = Date.parse(options.until);
    const mine = this.events
      .filter((e) => e.customerSlug === customerSlug && Date.parse(e.at) <= until && (!after || oldestFirst(e, after) > 0))
      .sort(oldestFirst);
    return { items: mine.slice(0, limit), hasMore: mine.length > limit };
  }
}

const writeCursor = (customerSlug: string, event: AuditEvent): string =>
  Buffer.from(JSON.stringify({ s: customerSlug, at: event.at, id: event.id }), 'utf8').toString('base64url');

/** Like the Table adapter's: a cursor that is not ours, or is another customer's, is a 400. */
function readCursor(cursor: string, customerSlug: string): { at: string; id: string } {
  type Position = { s?: unknown; at?: unknown; id?: unknown } | null;
  let position: Position = null;
  try {
    position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Position;
  } catch {
    // Not ours: refused below.
  }
  if (!position || position.s !== customerSlug || typeof position.at !== 'string' || typeof position.id !== 'string')
    throw new ApiError('validation_failed', 'The cursor is not valid here: pass back the cursor of the previous page unchanged.');
  return { at: position.at, id: position.id };
}
