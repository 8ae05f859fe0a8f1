import type { Clock } from '../clock';
import type { AuditEvent } from '../domain';
import { ApiError } from '../errors';
import { isId } from '../ids';
import type { AuditLog, FeedPosition } from '../ports/audit-log';

/** Page sizes of the feed: 100 unless asked, at most 1,000 (one Table query's most). */
export const AUDIT_FEED_LIMIT = { default: 100, max: 1000 } as const;

/** The last instant a feed position can name (the Table adapter's 13-digit times end there, in 2286). */
const LAST_MS = 9_999_999_999_999;

/** The position before every event: where a reader without a cursor or `since` starts. */
const BEGINNING: FeedPosition = { at: new Date(0).toISOString(), id: '' };

export interface AuditFeedPage {
  events: AuditEvent[];
  /** Where the next poll goes on from: the last event's position, or where this one started when it found none. */
  cursor: string;
  /** More settled events follow at once: poll again without waiting. */
  hasMore: boolean;
}

/**
 * The customer's audit log as a feed a SIEM pulls: oldest first, from a cursor that is a position
 * in the log (an instant and an event id), so a reader that always passes back the last cursor it
 * got sees every event once, in order, however many are appended between its polls.
 *
 * An event's time is taken when it is built, before the transaction that writes it commits, and
 * several instances write: an event can become visible after a later-timed one already has. So
 * the feed shows only events at least `settleMs` old (AUDIT_FEED_SETTLE_SECONDS): by then every
 * event of that time has committed, and no event can appear behind a position once handed out.
 */
export class AuditFeed {
  constructor(
    private readonly log: AuditLog,
    private readonly clock: Clock,
    private readonly options: { settleMs: number },
  ) {}

  /**
   * A page of at most `limit` events after `after` (a cursor this feed gave for this customer),
   * or from the instant `since`, or from the oldest event.
   */
  async page(customerSlug: string, request: { after?: string; since?: string; limit: number }): Promise<AuditFeedPage> {
    if (request.after !== undefined && request.since !== undefined)
      throw new ApiError('validation_failed', 'Pass `after` (the cursor of the previous answer) or `since`, not both.');
    const start =
      request.after !== undefined
        ? readFeedCursor(request.after, customerSlug)
        : request.since !== undefined
          ? { at: new Date(clampMs(Date.parse(request.since))).toISOString(), id: '' }
          : undefined;
    const until = new Date(this.clock.millis() - this.options.settleMs).toISOString();
    const page = await this.log.feed(customerSlug, { ...(start ? { after: start } : {}), until, limit: request.limit });
    const last = page.items.at(-1);
    return {
      events: page.items,
      cursor: writeFeedCursor(customerSlug, last ? { at: last.at, id: last.id } : (start ?? BEGINNING)),
      hasMore: page.hasMore,
    };
  }
}

const clampMs = (ms: number): number => Math.min(Math.max(ms, 0), LAST_MS);

/** Cursors of this feed are marked apart from the listing's (`GET /v1/customer-keys/audit`): neither is taken for the other. */
const FEED_CURSOR = 'feed1';

/** A cursor's text: the customer, an instant in milliseconds and an event id, as base64url JSON. */
export function writeFeedCursor(customerSlug: string, position: FeedPosition): string {
  const text = JSON.stringify({ v: FEED_CURSOR, s: customerSlug, t: Date.parse(position.at), i: position.id });
  return Buffer.from(text, 'utf8').toString('base64url');
}

const INVALID_CURSOR = () =>
  new ApiError('validation_failed', 'The cursor is not valid here: pass back the cursor of the previous answer unchanged.');

/**
 * The position a cursor names. One that is not ours (tampered, truncated, the listing's) or is
 * another customer's is refused (400 `validation_failed`): a cursor only ever reads its own
 * customer's log.
 */
export function readFeedCursor(cursor: string, customerSlug: string): FeedPosition {
  let position: unknown;
  try {
    position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw INVALID_CURSOR();
  }
  if (!position || typeof position !== 'object') throw INVALID_CURSOR();
  const { v, s, t, i } = position as Record<string, unknown>;
  if (v !== FEED_CURSOR || s !== customerSlug || typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0 || t > LAST_MS)
    throw INVALID_CURSOR();
  if (typeof i !== 'string' || (i !== '' && !isId('evt', i))) throw INVALID_CURSOR();
  return { at: new Date(t).toISOString(), id: i };
}
