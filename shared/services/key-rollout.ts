import type { Clock } from '../clock';
import type { Actor, ApiKeyRecord, Operation } from '../domain';
import { rolloutDecision } from '../keys/rollout-policy';
import type { Logger } from '../logging';
import type { KeyRepository } from '../ports/key-repository';
import type { RolloutEntry, RolloutStore } from '../ports/rollout-store';
import type { AuditTrail } from './audit-trail';
import type { KeyRevocation } from './key-revocation';

/** Who completes a rollout (and stops the old key, with closeWhenQuiet). */
const ROLLOUT_ACTOR: Actor = { type: 'system', id: 'key-rollout', name: 'key rollout' };

/** What a KeyRollout is built from. */
export interface KeyRolloutDeps {
  keys: KeyRepository;
  rollouts: RolloutStore;
  /** The revocation path an old key stops through (feed, lookup row, record). */
  revocation: KeyRevocation;
  audit: AuditTrail;
  clock: Clock;
  log: Logger;
  /** How long a use can wait in an instance's memory before its usage flush writes it: the flush interval. */
  settleMs: number;
}

/** What one pass of the rollout timer did. */
export interface RolloutPass {
  /** Rollouts watched (rows read with the pass's one query). */
  watched: number;
  /** `key.rotation_completed` recorded. */
  completed: number;
  /** Old keys stopped (closeWhenQuiet). */
  closed: number;
  /** Entries dropped without completing: the overlap ended first, or either key was stopped meanwhile. */
  dropped: number;
}

/**
 * Rollouts that complete themselves (issue 28): after a roll with an overlap, once the successor
 * has been used and the old key has gone unused for `quietMinutes`, the rotation is recorded
 * complete (`key.rotation_completed`, exactly once) and, with `closeWhenQuiet`, the old key is
 * revoked then (reason `rolled`) rather than at the end of its overlap.
 *
 * The `key-expiry` timer runs {@link completeQuiet} every minute, after it has retired expired
 * keys. Its cost: one query of the rollouts partition (a row per roll with an overlap still
 * rolling out, a week's at most), and storage calls only for the rollouts that complete or end in
 * that minute; never a read of a key that is not completing. The uses it decides on are written
 * by the usage flush (shared/services/usage-recorder.ts), to the millisecond.
 */
export class KeyRollout {
  constructor(private readonly deps: KeyRolloutDeps) {}

  /** The timer's pass over every watched rollout. Idempotent; a crash at any step is finished by a later pass. */
  async completeQuiet(): Promise<RolloutPass> {
    const now = this.deps.clock.millis();
    const entries = await this.deps.rollouts.list();
    const pass: RolloutPass = { watched: entries.length, completed: 0, closed: 0, dropped: 0 };
    for (const entry of entries) {
      const decision = rolloutDecision(entry, now, this.deps.settleMs);
      if (decision.action === 'wait') continue;
      if (decision.action === 'ended') {
        await this.deps.rollouts.remove(entry.customerSlug, entry.oldKeyId);
        pass.dropped += 1;
        continue;
      }
      const outcome = await this.complete(entry, now);
      if (outcome.completed) pass.completed += 1;
      if (outcome.closed) pass.closed += 1;
      if (!outcome.completed && !outcome.closed) pass.dropped += 1;
    }
    if (pass.completed + pass.closed > 0) this.deps.log.info('key rollouts completed', { ...pass });
    return pass;
  }

  /**
   * Completes one rollout whose keys are both still what the roll made them: records the event
   * (once: the record's `rollout.completedAt` guards it), then, with closeWhenQuiet, stops the old
   * key through the revocation path, then drops the entry. A crash between the steps leaves the
   * entry, and the next pass resumes after the step that was done.
   */
  private async complete(entry: RolloutEntry, now: number): Promise<{ completed: boolean; closed: boolean }> {
    const { keys, rollouts } = this.deps;
    const drop = async () => {
      await rollouts.remove(entry.customerSlug, entry.oldKeyId);
      return { completed: false, closed: false };
    };
    let old = await keys.get(entry.customerSlug, entry.oldKeyId);
    const successor = await keys.get(entry.customerSlug, entry.successorId);
    // Revoked, past its end, never rolled (a crash before the roll), or its successor stopped: nothing to complete.
    if (!old || !this.stillRollingOut(old, entry) || successor?.status !== 'active') return drop();
    const at = new Date(now).toISOString();
    const op: Operation = { actor: ROLLOUT_ACTOR, requestId: 'key-rollout' };
    let completed = false;
    if (!old.rollout!.completedAt) {
      const result = await keys.completeRollout(entry.customerSlug, old.id, {
        successorId: entry.successorId,
        completedAt: at,
        audit: this.deps.audit.event({
          customerSlug: entry.customerSlug,
          type: 'key.rotation_completed',
          op,
          keyId: old.id,
          details: {
            // The keys as customers know them (never a secret or a hash), for the webhook it becomes.
            label: old.label,
            application: old.application,
            displayPrefix: old.displayPrefix,
            oldKeyId: old.id,
            newKeyId: entry.successorId,
            newDisplayPrefix: successor.displayPrefix,
            newKeyFirstUsedAt: entry.successorFirstUsedAt,
            // null: not used since the roll (the listing's lastUsedAt has the hour it was last used in).
            oldKeyLastUsedAt: entry.oldLastUsedAt ?? null,
            quietMinutes: entry.quietMinutes,
            closedOldKey: old.rollout!.closeWhenQuiet,
          },
        }),
      });
      if (result.outcome !== 'completed' && result.outcome !== 'already_completed') return drop();
      completed = result.outcome === 'completed';
      old = result.record!;
    }
    let closed = false;
    if (old.rollout!.closeWhenQuiet && old.status === 'active') {
      const stopped = await this.deps.revocation.stopRolledKey(old, op, at);
      closed = stopped?.revokedAt === at;
    }
    await rollouts.remove(entry.customerSlug, entry.oldKeyId);
    return { completed, closed };
  }

  private stillRollingOut(old: ApiKeyRecord, entry: RolloutEntry): boolean {
    return (
      old.status === 'active' &&
      old.rolledTo === entry.successorId &&
      old.rollout !== undefined &&
      !this.deps.revocation.expiry.hasExpired(old)
    );
  }
}
