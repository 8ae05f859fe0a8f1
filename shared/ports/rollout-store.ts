/**
 * A roll with an overlap whose completion is watched: the old key, its successor, the roll's
 * options, and the uses the usage flush wrote for either side (to the millisecond, unlike the
 * hourly `lastUsedAt` of a key's record).
 */
export interface RolloutEntry {
  customerSlug: string;
  oldKeyId: string;
  successorId: string;
  /** When the roll was made: the old key's quiet time counts from here at the earliest. */
  rolledAt: string;
  /** The end of the old key's overlap: the entry is dropped then (the expiry timer stops the key). */
  endsAt: string;
  quietMinutes: number;
  closeWhenQuiet: boolean;
  /** The successor's first use that a flush wrote (the earliest stands). */
  successorFirstUsedAt?: string;
  /** The old key's last use since the roll that a flush wrote (the latest stands). */
  oldLastUsedAt?: string;
}

/** One use of a watched key, as one instance's usage flush writes it. */
export interface RolloutUse {
  customerSlug: string;
  oldKeyId: string;
  side: 'old' | 'successor';
  at: string;
}

/**
 * The rollouts being watched, in one partition, so that the rollout timer reads them all with one
 * query (as many rows as rolls with an overlap still rolling out) instead of reading keys. The
 * door never reads it; the usage flush writes the uses of watched keys to it.
 */
export interface RolloutStore {
  /** Adds (or replaces) the entry of a roll; its uses start unrecorded. */
  add(entry: RolloutEntry): Promise<void>;
  /** Every entry, in no promised order. */
  list(): Promise<RolloutEntry[]>;
  /**
   * Records uses: an old key's use replaces an earlier one (never a later one), a successor's is
   * kept only if none earlier is; whatever the order instances write in. Answers the uses whose
   * rollout has no entry (completed or ended): their keys need not be written again.
   */
  recordUses(uses: RolloutUse[]): Promise<RolloutUse[]>;
  /** Removing an entry it does not hold does nothing. */
  remove(customerSlug: string, oldKeyId: string): Promise<void>;
}
