import type { Clock } from '../clock';
import { EXPIRY_WARNINGS, type Actor, type ApiKeyRecord, type ExpiryWarningWindow, type Operation } from '../domain';
import { isId } from '../ids';
import type { Logger } from '../logging';
import type { ExpirySchedule } from '../ports/expiry-schedule';
import type { KeyRepository } from '../ports/key-repository';
import { keyFacts, type AuditTrail } from './audit-trail';

/** Who revokes a key whose expiry passed, and warns of one coming. */
const EXPIRY_ACTOR: Actor = { type: 'system', id: 'key-expiry', name: 'key expiry' };
/** The earliest warning: how far ahead the schedule is read for keys to warn of. */
const WARN_AHEAD_MS = Math.max(...EXPIRY_WARNINGS.map((w) => w.beforeMs));
/** Warnings this process knows are recorded (each is recorded once in storage; this saves the reads). */
const MAX_REMEMBERED_WARNINGS = 50_000;

/** What a KeyExpiry is built from (KeyRevocation hands over its own revocation path as `stop`). */
export interface KeyExpiryDeps {
  keys: KeyRepository;
  expiries: ExpirySchedule;
  audit: AuditTrail;
  clock: Clock;
  log: Logger;
  /** The first steps of every revocation (feed, then lookup rows): KeyRevocation's. */
  stop: (records: ApiKeyRecord[], op: Operation) => Promise<void>;
}

/**
 * Retiring keys whose expiry passed: revoked (reason `expired`, at their expiry) through the
 * revocation path, which frees their labels and places under the cap. The door refuses an
 * expired key from its identity on its own; this makes the records, the count and the listing
 * agree with it. The `key-expiry` timer does it every minute; the key service does it at once
 * for one customer where a stopped key would otherwise still count (a listing, a full cap).
 */
export class KeyExpiry {
  /** `{slug}/{keyId}/{expiry ms}/{window}` of warnings known recorded (or moot), so each costs one read per process. */
  private readonly warned = new Set<string>();

  constructor(private readonly deps: KeyExpiryDeps) {}

  /** Whether an active key's expiry has passed (the door refuses it from that instant). */
  hasExpired(key: Pick<ApiKeyRecord, 'status' | 'expiresAt'>): boolean {
    return key.status === 'active' && key.expiresAt !== undefined && Date.parse(key.expiresAt) <= this.deps.clock.millis();
  }

  /** Revokes a key whose expiry passed; whether this call revoked it. */
  async retire(record: ApiKeyRecord): Promise<boolean> {
    const op: Operation = { actor: EXPIRY_ACTOR, requestId: 'key-expiry' };
    await this.deps.stop([record], op);
    const result = await this.deps.keys.markRevoked(record.customerSlug, record.id, {
      revokedBy: EXPIRY_ACTOR,
      revokedAt: record.expiresAt!,
      reason: 'expired',
      audit: this.deps.audit.event({
        customerSlug: record.customerSlug,
        type: 'key.revoked',
        op,
        keyId: record.id,
        details: {
          ...keyFacts(record),
          reason: 'expired',
          expiredAt: record.expiresAt,
          ...(record.rolledTo ? { rolledTo: record.rolledTo } : {}),
        },
      }),
    });
    return result.outcome === 'revoked';
  }

  /** Retires one customer's keys past their expiry (from `keys`, or as listed now); how many it revoked. */
  async retireExpired(customerSlug: string, keys?: ApiKeyRecord[]): Promise<number> {
    let revoked = 0;
    for (const key of keys ?? (await this.deps.keys.list(customerSlug))) {
      if (this.hasExpired(key) && (await this.retire(key))) revoked += 1;
    }
    return revoked;
  }

  /**
   * The `key.expiring` warnings (an audit event, and so a webhook): one 7 days before a key's
   * expiry and one a day before, each recorded once per expiry (the key's record remembers them,
   * in the same transaction as the event). A key given an expiry less than a day ahead gets the
   * day's warning only; keys rolling out (their expiry is their roll's overlap) get none. The
   * `key-expiry` timer runs it every minute after {@link expireDue}. Returns how many it recorded.
   */
  async warnExpiring(): Promise<number> {
    const now = this.deps.clock.millis();
    let recorded = 0;
    for (const entry of await this.deps.expiries.due(new Date(now + WARN_AHEAD_MS))) {
      const expiresAt = Date.parse(entry.expiresAt);
      if (expiresAt <= now) continue;
      // The nearest warning due: a key a day from its expiry gets that one (the week's is moot then).
      const windows = EXPIRY_WARNINGS.filter((w) => expiresAt - now <= w.beforeMs).map((w) => w.window);
      const window = windows.at(-1);
      if (!window) continue;
      const memo = `${entry.customerSlug}/${entry.keyId}/${expiresAt}/${window}`;
      if (this.warned.has(memo)) continue;
      if (await this.warn(entry.customerSlug, entry.keyId, entry.expiresAt, window, windows)) recorded += 1;
      if (this.warned.size >= MAX_REMEMBERED_WARNINGS) this.warned.clear();
      this.warned.add(memo);
    }
    if (recorded > 0) this.deps.log.info('key expiry warnings recorded', { count: recorded });
    return recorded;
  }

  private async warn(
    customerSlug: string,
    keyId: string,
    expiresAt: string,
    window: ExpiryWarningWindow,
    windows: ExpiryWarningWindow[],
  ): Promise<boolean> {
    const record = isId('key', keyId) ? await this.deps.keys.get(customerSlug, keyId) : undefined;
    if (!record || record.status !== 'active' || record.rolledTo || !record.expiresAt) return false;
    if (Date.parse(record.expiresAt) !== Date.parse(expiresAt)) return false;
    const result = await this.deps.keys.recordExpiryWarning(customerSlug, keyId, {
      expiresAt: record.expiresAt,
      windows,
      audit: this.deps.audit.event({
        customerSlug,
        type: 'key.expiring',
        op: { actor: EXPIRY_ACTOR, requestId: 'key-expiry' },
        keyId,
        details: { ...keyFacts(record), expiresAt: record.expiresAt, window },
      }),
    });
    return result.outcome === 'recorded';
  }

  /**
   * The timer's pass: every key due in the schedule (by instant) is retired. Idempotent; the
   * door does not depend on it. Returns how many it revoked.
   */
  async expireDue(): Promise<number> {
    let revoked = 0;
    for (const entry of await this.deps.expiries.due(this.deps.clock.now())) {
      const record = isId('key', entry.keyId) ? await this.deps.keys.get(entry.customerSlug, entry.keyId) : undefined;
      const due = record !== undefined && this.hasExpired(record);
      if (due && (await this.retire(record))) revoked += 1;
      // Done with, or stale (the key's expiry moved or went, or the key never came to be).
      const current = record?.status === 'active' && record.expiresAt && Date.parse(record.expiresAt) === Date.parse(entry.expiresAt);
      if (!current || due) await this.deps.expiries.remove(entry);
    }
    if (revoked > 0) this.deps.log.info('expired keys revoked', { count: revoked });
    return revoked;
  }
}
