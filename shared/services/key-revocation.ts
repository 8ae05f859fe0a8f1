import type { Clock } from '../clock';
import type { Actor, ApiKeyRecord, Operation } from '../domain';
import { isId } from '../ids';
import type { Logger } from '../logging';
import type { ExpirySchedule } from '../ports/expiry-schedule';
import type { KeyRepository } from '../ports/key-repository';
import { FEED_RETENTION_MS, type RevocationFeed } from '../ports/revocation-feed';
import type { KeyAuthenticator } from '../auth/key-authenticator';
import { keyFacts, type AuditTrail } from './audit-trail';
import { KeyExpiry } from './key-expiry';

/** A revocation published this long ago whose record still says active was cut short. */
const INTERRUPTED_AFTER_MS = 30_000;
/** Who completes a revocation when the feed entry does not say who started it. */
const REVOCATION_COMPLETER: Actor = { type: 'system', id: 'revocation-completion', name: 'revocation completion' };

/** What a KeyRevocation is built from. */
export interface KeyRevocationDeps {
  keys: KeyRepository;
  authenticator: KeyAuthenticator;
  feed: RevocationFeed;
  audit: AuditTrail;
  /** Keys with an expiry, by when (the expiry timer's index). */
  expiries: ExpirySchedule;
  clock: Clock;
  log: Logger;
}

/**
 * The crash-ordered revocation protocol (feed first, then lookup rows, then the record) and the
 * timers that finish its work: the expiry of keys past their end, the completion of revocations
 * a crash cut short, and the pruning of the feed. KeyService revokes through it; the timers
 * (functions/key-expiry.ts, revocation-completion.ts, revocation-feed-prune.ts) call it directly.
 */
export class KeyRevocation {
  private readonly keys: KeyRepository;
  private readonly authenticator: KeyAuthenticator;
  private readonly feed: RevocationFeed;
  private readonly audit: AuditTrail;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** Retiring keys whose expiry passed, through {@link stopAuthenticating}. */
  readonly expiry: KeyExpiry;

  constructor(deps: KeyRevocationDeps) {
    this.keys = deps.keys;
    this.authenticator = deps.authenticator;
    this.feed = deps.feed;
    this.audit = deps.audit;
    this.clock = deps.clock;
    this.log = deps.log;
    this.expiry = new KeyExpiry({ ...deps, stop: (records, op) => this.stopAuthenticating(records, op) });
  }

  /**
   * The first steps of every revocation, in the order that survives a crash at any point:
   * 1. the revocation feed: from here on this instance refuses the keys, every other one within
   *    a poll (about a second), and one that starts later reads it at start, even though the
   *    lookup rows still exist;
   * 2. the lookup rows go, so no instance can read the keys as active again.
   * The caller then marks the records revoked. A crash after step 1 leaves keys that no instance
   * accepts and that still list as active: {@link completeInterruptedRevocations} (a timer,
   * every minute and at start) finishes them with the original who and when.
   */
  async stopAuthenticating(records: ApiKeyRecord[], op: Operation): Promise<void> {
    await this.feed.publish(
      records.map((r) => ({
        secretHash: r.secretHash,
        keyId: r.id,
        customerSlug: r.customerSlug,
        reason: 'revoked' as const,
        actor: op.actor,
        requestId: op.requestId,
      })),
    );
    for (const record of records) this.authenticator.revoke(record.secretHash, record.customerSlug);
    for (const record of records) await this.keys.deleteLookup(record.secretHash);
  }

  /** Drops cached copies of the keys on this instance now and on every other within a feed poll. */
  async invalidate(records: ApiKeyRecord[], reason: 'revoked' | 'changed'): Promise<void> {
    for (const record of records) this.authenticator.evict(record.secretHash);
    await this.feed.publish(records.map((r) => ({ secretHash: r.secretHash, keyId: r.id, customerSlug: r.customerSlug, reason })));
  }

  /**
   * Revokes a key rolling out (its successor holds a place of its own), through the revocation
   * path. `cause` is what the audit event gives as its reason: the roll, or a reset that stopped it early.
   */
  async stopRolledKey(
    record: ApiKeyRecord,
    op: Operation,
    at: string,
    cause: 'rolled' | 'reset' = 'rolled',
  ): Promise<ApiKeyRecord | undefined> {
    await this.stopAuthenticating([record], op);
    const result = await this.keys.markRevoked(record.customerSlug, record.id, {
      revokedBy: op.actor,
      revokedAt: at,
      reason: 'rolled',
      audit: this.audit.event({
        customerSlug: record.customerSlug,
        type: 'key.revoked',
        op,
        keyId: record.id,
        details: { ...keyFacts(record), reason: cause },
      }),
    });
    return result.record;
  }

  /**
   * The expiry timer's work: every key whose expiry passed is revoked (reason `expired`), which
   * frees its label and its place under the cap, with its audit event. Idempotent; the door does
   * not depend on it (an expired key is refused from its identity). Returns how many it revoked.
   */
  expireDue(): Promise<number> {
    return this.expiry.expireDue();
  }

  /**
   * Finishes revocations a crash cut short: a key the feed says was revoked (more than a few
   * seconds ago, so revocations under way are left alone) whose record still says active loses
   * its lookup row and is marked revoked by whoever revoked it, when they did. Idempotent.
   * Returns how many it finished.
   */
  async completeInterruptedRevocations(): Promise<number> {
    const now = this.clock.millis();
    const entries = await this.feed.readSince(new Date(now - FEED_RETENTION_MS));
    let completed = 0;
    const done = new Set<string>();
    for (const entry of entries) {
      if (entry.reason !== 'revoked' || done.has(entry.keyId) || now - Date.parse(entry.at) < INTERRUPTED_AFTER_MS) continue;
      done.add(entry.keyId);
      const record = isId('key', entry.keyId) ? await this.keys.get(entry.customerSlug, entry.keyId) : undefined;
      if (!record || record.status !== 'active' || record.secretHash !== entry.secretHash) continue;
      const op: Operation = { actor: entry.actor ?? REVOCATION_COMPLETER, requestId: entry.requestId ?? 'revocation-completion' };
      await this.keys.deleteLookup(record.secretHash);
      const result = await this.keys.markRevoked(record.customerSlug, record.id, {
        revokedBy: op.actor,
        revokedAt: entry.at,
        audit: this.audit.event({
          customerSlug: record.customerSlug,
          type: 'key.revoked',
          op,
          keyId: record.id,
          details: { ...keyFacts(record), completedAfterInterruption: true },
        }),
      });
      if (result.outcome === 'revoked') {
        completed += 1;
        this.log.warn('interrupted revocation completed', {
          customer: record.customerSlug,
          keyId: record.id,
          display: record.displayPrefix,
        });
      }
    }
    return completed;
  }

  /** Deletes revocation-feed entries older than the feed keeps (every instance has read them by then). */
  pruneRevocationFeed(): Promise<number> {
    return this.feed.prune(new Date(this.clock.millis() - FEED_RETENTION_MS));
  }
}
