import type { ApiKeyRecord, RolloutWatch } from '../domain';
import type { RolloutEntry } from '../ports/rollout-store';

/**
 * The rules of a rollout that completes itself (a roll with an overlap, issue 28), pure so that
 * the timer, the usage flush and the stores share them:
 * - the rotation is complete once the successor has been used and the old key has gone unused for
 *   `quietMinutes`, counted from its last use since the roll, or from the roll if it has none (before
 *   the roll the service knows a key's last use only to the hour);
 * - a use waits in an instance's memory until that instance's next usage flush, so the old key
 *   counts as quiet only `settleMs` (the flush interval) after that: a use not yet written cannot
 *   be missed;
 * - once the overlap is over the rollout ends without completing: the old key stopped at its end.
 */
export type RolloutDecision =
  | { action: 'complete' }
  | { action: 'wait'; until?: number }
  /** The overlap is over (the expiry timer stops the old key): drop the entry, record nothing. */
  | { action: 'ended' };

/** What the rollout timer does with one watched rollout at `now` (ms). */
export function rolloutDecision(entry: RolloutEntry, now: number, settleMs: number): RolloutDecision {
  if (now >= Date.parse(entry.endsAt)) return { action: 'ended' };
  if (!entry.successorFirstUsedAt) return { action: 'wait' };
  const until = quietSince(entry) + entry.quietMinutes * 60_000 + settleMs;
  return now >= until ? { action: 'complete' } : { action: 'wait', until };
}

/** Since when the old key has been unused: its last use since the roll, else the roll. */
export function quietSince(entry: Pick<RolloutEntry, 'rolledAt' | 'oldLastUsedAt'>): number {
  return Math.max(Date.parse(entry.rolledAt), entry.oldLastUsedAt ? Date.parse(entry.oldLastUsedAt) : 0);
}

/**
 * Whether a use at `at` replaces the one recorded for its side: an old key's later use (its last
 * use is what counts), a successor's earlier one (its first use is). Nothing recorded: any use.
 */
export function replacesRecordedUse(side: 'old' | 'successor', recorded: string | undefined, at: string): boolean {
  if (recorded === undefined) return true;
  return side === 'old' ? Date.parse(at) > Date.parse(recorded) : Date.parse(at) < Date.parse(recorded);
}

/**
 * The watch the old key of a roll carries on its lookup row while its rollout is watched (active,
 * rolling out with a rollout not yet complete, until its end); `undefined` otherwise.
 */
export function oldKeyWatch(record: Pick<ApiKeyRecord, 'id' | 'status' | 'rolledTo' | 'rollout' | 'expiresAt'>): RolloutWatch | undefined {
  if (record.status !== 'active' || !record.rolledTo || !record.rollout || record.rollout.completedAt || !record.expiresAt)
    return undefined;
  return { oldKeyId: record.id, side: 'old', until: record.expiresAt };
}
