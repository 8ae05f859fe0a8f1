/** A key whose cached copies must go: it stopped authenticating, or its identity changed. */
export interface RevocationEntry {
  /** Unique per entry (readers see an entry more than once and skip repeats). */
  id: string;
  secretHash: string;
  keyId: string;
  customerSlug: string;
  reason: 'revoked' | 'changed';
  /** When the revocation was published (ISO 8601). */
  at: string;
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
