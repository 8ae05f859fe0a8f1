import type { Clock } from '../clock';
import { toKeyView, type Actor, type ApiKeyRecord, type AuditEvent, type Customer, type Operation, type RolledKey } from '../domain';
import { ApiError } from '../errors';
import { isId } from '../ids';
import type { KeyShape, MintedKey } from '../keys/mint';
import type { Logger } from '../logging';
import type { ExpirySchedule } from '../ports/expiry-schedule';
import type { KeyRepository } from '../ports/key-repository';
import type { RollKeyRequest } from '../schemas/keys';
import { keyFacts, type AuditTrail } from './audit-trail';
import type { CustomerService } from './customer-service';
import type { KeyExpiry } from './key-expiry';
import type { KeyRevocation } from './key-revocation';

/** What a KeyRoll is built from: the stores, and the key service's steps for a place under the cap. */
export interface KeyRollDeps {
  keys: KeyRepository;
  customers: CustomerService;
  revocation: KeyRevocation;
  audit: AuditTrail;
  expiries: ExpirySchedule;
  clock: Clock;
  log: Logger;
  /** KeyService's: a new key for the customer (shared/keys/mint.ts, with its master component). */
  mint: (customer: Customer, shape: KeyShape, createdBy: Actor) => Promise<MintedKey>;
  /** KeyService's: a write that needs a free place, tried again once expired keys give theirs back. */
  takingPlace: <T>(customerSlug: string, write: () => Promise<T>, full: (outcome: T) => boolean) => Promise<T>;
  /** KeyService's: the customer's cap on active keys. */
  keyLimit: (customer: Customer) => number;
  /** KeyService's: 409 `key_limit_reached`, naming the customer's current cap. */
  keyLimitReached: (customer: Customer, advice?: string) => Promise<ApiError>;
}

/** Rolling a key: a successor now, the old key stopping after an overlap (or at once). */
export class KeyRoll {
  private readonly keys: KeyRepository;
  private readonly customers: CustomerService;
  private readonly revocation: KeyRevocation;
  private readonly audit: AuditTrail;
  private readonly expiries: ExpirySchedule;
  private readonly expiry: KeyExpiry;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly mint: KeyRollDeps['mint'];
  private readonly takingPlace: KeyRollDeps['takingPlace'];
  private readonly keyLimit: KeyRollDeps['keyLimit'];
  private readonly keyLimitReached: KeyRollDeps['keyLimitReached'];

  constructor(deps: KeyRollDeps) {
    this.keys = deps.keys;
    this.customers = deps.customers;
    this.revocation = deps.revocation;
    this.audit = deps.audit;
    this.expiries = deps.expiries;
    this.expiry = deps.revocation.expiry;
    this.clock = deps.clock;
    this.log = deps.log;
    this.mint = deps.mint;
    this.takingPlace = deps.takingPlace;
    this.keyLimit = deps.keyLimit;
    this.keyLimitReached = deps.keyLimitReached;
  }

  /**
   * Rolls a key: a new key with the same label, application, type, environment, rate limit and
   * allowlist (its value returned once), while the old one keeps working for `overlapHours` and
   * then expires (never later than it would have). Both count against the cap until the old one
   * stops, so a roll with an overlap needs a free place (`key_limit_reached`), and a key whose
   * predecessor is still rolling out cannot be rolled (`key_rolling_out`). With no overlap the
   * old key stops first and hands its place to the new one: that roll needs no free place.
   */
  async roll(customerSlug: string, keyId: string, { overlapHours }: RollKeyRequest, op: Operation): Promise<RolledKey> {
    const customer = await this.customers.require(customerSlug);
    const old = isId('key', keyId) ? await this.keys.get(customer.slug, keyId) : undefined;
    if (!old) throw new ApiError('not_found', 'This customer has no such key.');
    if (old.type === 'management' && op.actor.type === 'key') {
      throw new ApiError('forbidden', 'Only a portal admin can roll management keys; a management key can roll ingest keys.');
    }
    if (old.status !== 'active') throw new ApiError('conflict', 'This key is revoked: issue a new key instead.');
    // Past its expiry (the timer has not revoked it yet) a key has nothing left to hand over.
    if (this.expiry.hasExpired(old)) throw keyExpired('issue a new key instead');
    if (old.rolledTo) throw rollingOut(old.rolledTo);
    await this.requirePredecessorStopped(old);
    const { record, lookup, key } = await this.mint(customer, { ...old, expiresAt: undefined }, op.actor);
    record.rolledFrom = old.id;
    const rolledEvent = (oldKeyExpiresAt: string) =>
      this.audit.event({
        customerSlug: customer.slug,
        type: 'key.rolled',
        op,
        keyId: old.id,
        details: { ...keyFacts(old), newKeyId: record.id, newDisplayPrefix: record.displayPrefix, overlapHours, oldKeyExpiresAt },
      });
    const after =
      overlapHours === 0
        ? await this.rollAtOnce(old, record, op, rolledEvent(record.createdAt))
        : await this.rollWithOverlap(customer, old, record, overlapHours, rolledEvent);
    await this.keys.insertLookup(lookup);
    if (overlapHours > 0) {
      await this.keys.syncLookup(after, 'access');
      await this.revocation.invalidate([after], 'changed');
    }
    this.log.info('key rolled', { customer: customer.slug, keyId: old.id, newKeyId: record.id, overlapHours });
    return { key, metadata: toKeyView(record), old: toKeyView(after) };
  }

  /** The old key gets its end and a link to the successor, which takes a place of its own under the cap. */
  private async rollWithOverlap(
    customer: Customer,
    old: ApiKeyRecord,
    successor: ApiKeyRecord,
    overlapHours: number,
    rolledEvent: (oldKeyExpiresAt: string) => AuditEvent,
  ): Promise<ApiKeyRecord> {
    const end = this.clock.millis() + overlapHours * 3_600_000;
    const ends = (current: ApiKeyRecord) => new Date(current.expiresAt ? Math.min(end, Date.parse(current.expiresAt)) : end).toISOString();
    const oldEnd = ends(old);
    // The schedule first: an entry whose roll never happened is dropped by the timer.
    await this.expiries.add({ customerSlug: customer.slug, keyId: old.id, expiresAt: oldEnd });
    const audit = rolledEvent(oldEnd);
    const roll = () =>
      this.keys.rollRecord(customer.slug, old.id, successor, { oldExpiresAt: ends, keyLimit: (c) => this.keyLimit(c), audit });
    const result = await this.takingPlace(customer.slug, roll, (r) => r.outcome === 'key_limit_reached');
    if (result.outcome === 'not_found') throw new ApiError('not_found', 'This customer has no such key.');
    if (result.outcome === 'not_active') throw new ApiError('conflict', 'This key is revoked: issue a new key instead.');
    if (result.outcome === 'rolling_out') throw rollingOut(result.old?.rolledTo);
    if (result.outcome === 'key_limit_reached') {
      throw await this.keyLimitReached(
        customer,
        'A roll with an overlap keeps the old key working beside the new one, and both count until the old one stops. Roll with overlapHours 0 (the old key stops at once), revoke a key first, or ask us to raise the limit.',
      );
    }
    const rolled = result.old!;
    if (rolled.expiresAt !== oldEnd) await this.expiries.add({ customerSlug: customer.slug, keyId: old.id, expiresAt: rolled.expiresAt! });
    return rolled;
  }

  /**
   * No overlap: the old key stops first, through the revocation path (every instance within a
   * poll), then hands its label and place to the successor in one transaction, so the two never
   * authenticate together. A crash between the two leaves the old key stopped and no successor
   * (as a crash in a reset does): the completion timer marks it revoked, freeing its place for an issue.
   */
  private async rollAtOnce(old: ApiKeyRecord, successor: ApiKeyRecord, op: Operation, rolled: AuditEvent): Promise<ApiKeyRecord> {
    await this.revocation.stopAuthenticating([old], op);
    const outcome = await this.keys.replaceRecord(old.customerSlug, old.id, successor, {
      revokedBy: op.actor,
      rolled: true,
      audit: [
        rolled,
        this.audit.event({
          customerSlug: old.customerSlug,
          type: 'key.revoked',
          op,
          keyId: old.id,
          details: { ...keyFacts(old), reason: 'rolled' },
        }),
      ],
    });
    if (outcome === 'not_active') throw new ApiError('conflict', 'This key is revoked: issue a new key instead.');
    if (outcome === 'rolling_out') throw rollingOut(undefined);
    return {
      ...old,
      status: 'revoked',
      revokedAt: successor.createdAt,
      revokedBy: op.actor,
      revokedReason: 'rolled',
      rolledTo: successor.id,
    };
  }

  /**
   * A successor cannot be rolled while its predecessor is rolling out (the chain would keep a
   * key working per roll). A predecessor past its end has stopped: it is retired here, so its
   * place is free for this roll without waiting for the timer.
   */
  private async requirePredecessorStopped(key: ApiKeyRecord): Promise<void> {
    const predecessor = key.rolledFrom && isId('key', key.rolledFrom) ? await this.keys.get(key.customerSlug, key.rolledFrom) : undefined;
    if (!predecessor || predecessor.status !== 'active') return;
    if (this.expiry.hasExpired(predecessor)) {
      await this.expiry.retire(predecessor);
      return;
    }
    throw new ApiError(
      'key_rolling_out',
      'The key this one replaced is still rolling out: roll this key after its overlap ends, or revoke that key first.',
      { extensions: { rolledFrom: predecessor.id, ...(predecessor.expiresAt ? { rollingOutUntil: predecessor.expiresAt } : {}) } },
    );
  }
}

/** 409 `key_expired`: past its expiry a key has nothing left to change or hand over. */
export function keyExpired(advice: string): ApiError {
  return new ApiError('key_expired', `This key has expired: nothing about it can change any more; ${advice}.`);
}

function rollingOut(successor: string | undefined): ApiError {
  return new ApiError('key_rolling_out', 'This key is already rolling out: roll its successor instead.', {
    extensions: successor ? { rolledTo: successor } : {},
  });
}
