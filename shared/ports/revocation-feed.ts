import type { Actor } from '../domain';

/** How long feed entries are kept: instances starting up read this far back. */
export const FEED_RETENTION_MS = 24 * 60 * 60 * 1000;

/** A key whose cached copies must go: it stopped authenticating, or its identity changed. */
export interface RevocationEntry {
  /** Unique per entry (readers see an entry more than once and skip repeats). */
  id: string;
  secretHash: string;
  keyId: string;
  customerSlug: string;
  reason: 'revoked' | 'changed';
  /** When the revocation was published (ISO 8601, by the publisher's clock). */
  at: string;
  /** Who revoked, and in which request: what completes a revocation a crash cut short. */
  actor?: Actor;
  requestId?: string;
}

/**
 * The cross-instance revocation feed: every instance reads what was published since its last
 * read, about once a second, at a cost that does not grow with the request rate.
 */
export interface RevocationFeed {
  publish(entries: Array<Omit<RevocationEntry, 'at' | 'id'>>): Promise<void>;
  /** Entries published at or after `since` (readers ask with an overlap and tolerate repeats). */
  readSince(since: Date): Promise<RevocationEntry[]>;
  /** Deletes entries published before `before`; returns how many. */
  prune(before: Date): Promise<number>;
}
