import type { AuditEvent } from '../domain';

export interface Page<T> {
  items: T[];
  /** Opaque; pass it back to get the next page. `undefined` on the last page. */
  cursor: string | undefined;
}

/**
 * A place in a customer's log in the feed's order (oldest first: by `at`, then by id): just after
 * the event `id` at the instant `at`. `id` '' is the place before every event of that instant.
 */
export interface FeedPosition {
  /** An instant, as `Date.prototype.toISOString` writes it. */
  at: string;
  id: string;
}

/** A page of the feed: at most the limit asked for, and whether more events follow its last one. */
export interface FeedPage {
  items: AuditEvent[];
  hasMore: boolean;
}

/** A customer's audit log: newest first (the listing), and oldest first (the feed). */
export interface AuditLog {
  append(event: AuditEvent): Promise<void>;
  /**
   * A page of at most `limit` events. The next page starts after the last event of this one (events
   * appended meanwhile shift nothing); a cursor this log did not give, or gave for another customer,
   * is refused (`validation_failed`).
   */
  list(customerSlug: string, options: { limit: number; cursor?: string }): Promise<Page<AuditEvent>>;
  /**
   * The customer's events oldest first (by `at`, then by id), from just after `after` (from the
   * oldest when absent) up to and including the instant `until`, at most `limit` of them; `hasMore`
   * when further events up to `until` follow the last one. Whatever else is appended meanwhile,
   * a reader that goes on from the position of the last event it got sees each later event once:
   * positions are places in the order, not counts.
   */
  feed(customerSlug: string, options: { after?: FeedPosition; until: string; limit: number }): Promise<FeedPage>;
}
