/** A component waiting for its grace period to end. */
export interface GraceEntry {
  customerSlug: string;
  /** The rotated-out component version to retire. */
  version: string;
  endsAt: string;
}

/**
 * When each rotated-out component's grace ends, so the `tenant-key-grace` timer finds the due
 * ones with one query instead of scanning every customer.
 */
export interface GraceSchedule {
  /** Adding an entry it holds already keeps one. */
  add(entry: GraceEntry): Promise<void>;
  /** Removing an entry it does not hold does nothing. */
  remove(entry: GraceEntry): Promise<void>;
  /** Entries whose grace ended at or before `now`, oldest first, by instant whatever offset they were written with (past-due runs catch up). */
  due(now: Date): Promise<GraceEntry[]>;
}
