/** A key waiting for its expiry. */
export interface ExpiryEntry {
  customerSlug: string;
  keyId: string;
  expiresAt: string;
}

/**
 * When each key with an expiry stops, so that the `key-expiry` timer finds the due ones with one
 * query instead of reading every customer's keys. The door never reads it (an expired key is
 * refused from its cached identity); the timer revokes and frees what expired.
 */
export interface ExpirySchedule {
  /** Adding an entry it holds already keeps one. */
  add(entry: ExpiryEntry): Promise<void>;
  /** Removing an entry it does not hold does nothing. */
  remove(entry: ExpiryEntry): Promise<void>;
  /** Entries whose expiry is at or before `now`, oldest first, by instant whatever offset they were written with (past-due runs catch up). */
  due(now: Date): Promise<ExpiryEntry[]>;
}
