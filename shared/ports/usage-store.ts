/** Requests of one key in one hour, as counted by one instance (cumulative within the hour). */
export interface UsageRow {
  customerSlug: string;
  keyId: string;
  /** Start of the hour, ISO 8601 (`2026-03-01T13:00:00.000Z`). */
  hour: string;
  instanceId: string;
  accepted: number;
  rateLimited: number;
  /** Refused because the request came from outside the key's IP allowlist. */
  ipRefused: number;
}

/** Per-key hourly usage. Rows of several instances for the same key and hour add up. */
export interface UsageStore {
  /** Writes rows (each replaces the same instance's earlier row for that key and hour). */
  write(rows: UsageRow[]): Promise<void>;
  /**
   * One customer's rows with `from <= hour < to`, optionally for one key. A bound inside an hour
   * counts as the start of that hour.
   */
  read(customerSlug: string, from: string, to: string, keyId?: string): Promise<UsageRow[]>;
  /** Deletes rows of hours that ended by `before` (the hour it falls inside stays); returns how many. */
  prune(before: string): Promise<number>;
}
