import type { Clock } from '../clock';
import type { PlanLimits } from '../config';
import {
  toKeyView,
  type Actor,
  type ApiKeyView,
  type Customer,
  type IssuedKey,
  type RolledKey,
  DEFAULT_KEY_ENVIRONMENT,
  DEFAULT_KEY_TYPE,
  type Operation,
  type Plan,
  type RateLimitSetting,
  masterComponentState,
} from '../domain';
import { ApiError } from '../errors';
import { isId } from '../ids';
import { loosening, patchedAccess } from '../keys/access-narrowing';
import { mintKey, type KeyShape, type MintedKey } from '../keys/mint';
import type { Logger } from '../logging';
import type { KeyRepository } from '../ports/key-repository';
import type { IssueKeyRequest, PatchKeyRequest, RollKeyRequest } from '../schemas/keys';
import type { ExpirySchedule } from '../ports/expiry-schedule';
import type { ComponentCache } from '../auth/component-cache';
import { keyFacts, type AuditTrail } from './audit-trail';
import type { CustomerService } from './customer-service';
import type { KeyExpiry } from './key-expiry';
import type { KeyRevocation } from './key-revocation';
import { KeyRoll, keyExpired } from './key-roll';

export type { IssuedKey, RolledKey } from '../domain';

/** The furthest ahead a key's expiry may be set. */
const MAX_EXPIRY_AHEAD_MS = 366 * 86_400_000;

export interface ResetResult {
  keys: IssuedKey[];
  replaced: Array<{ oldKeyId: string; newKeyId: string }>;
}

/** What a KeyService is built from. */
export interface KeyServiceDeps {
  keys: KeyRepository;
  customers: CustomerService;
  components: ComponentCache;
  /** The revocation protocol (feed, lookup rows, record) every stop goes through. */
  revocation: KeyRevocation;
  plans: Record<Plan, PlanLimits>;
  audit: AuditTrail;
  /** Keys with an expiry, by when (the expiry timer's index). */
  expiries: ExpirySchedule;
  /** Keys older than this are due for rotation. */
  rotationDueMs: number;
  clock: Clock;
  log: Logger;
}

/**
 * A key to issue, parsed at the edge (issueKeySchema: the HTTP binding, the CLI, a stored key
 * request). The schema fills in type and environment; a caller in code may leave them to the same defaults.
 */
export type NewKey = Omit<IssueKeyRequest, 'type' | 'environment'> & Partial<Pick<IssueKeyRequest, 'type' | 'environment'>>;

/** Issuing, listing, revoking and resetting a customer's keys. */
export class KeyService {
  private readonly keys: KeyRepository;
  private readonly customers: CustomerService;
  private readonly components: ComponentCache;
  private readonly revocation: KeyRevocation;
  private readonly plans: Record<Plan, PlanLimits>;
  private readonly expiries: ExpirySchedule;
  private readonly rotationDueMs: number;
  private readonly audit: AuditTrail;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly expiry: KeyExpiry;
  private readonly rolls: KeyRoll;

  constructor(deps: KeyServiceDeps) {
    this.audit = deps.audit;
    this.keys = deps.keys;
    this.customers = deps.customers;
    this.components = deps.components;
    this.revocation = deps.revocation;
    this.plans = deps.plans;
    this.expiries = deps.expiries;
    this.rotationDueMs = deps.rotationDueMs;
    this.clock = deps.clock;
    this.log = deps.log;
    this.expiry = deps.revocation.expiry;
    this.rolls = new KeyRoll({
      ...deps,
      mint: (customer, shape, createdBy) => this.mint(customer, shape, createdBy),
      takingPlace: (customerSlug, write, full) => this.takingPlace(customerSlug, write, full),
      keyLimit: (customer) => this.keyLimit(customer),
      keyLimitReached: (customer, advice) => this.keyLimitReached(customer, advice),
    });
  }

  /** The customer's cap on active keys: the staff override, else the plan's. */
  keyLimit(customer: Customer): number {
    return customer.keyLimitOverride ?? this.plans[customer.plan].keyLimit;
  }

  async issue(customerSlug: string, input: NewKey, op: Operation): Promise<IssuedKey> {
    const request = { ...input, type: input.type ?? DEFAULT_KEY_TYPE, environment: input.environment ?? DEFAULT_KEY_ENVIRONMENT };
    if (request.type === 'management' && op.actor.type === 'key') {
      // A leaked management key must not be able to plant a successor that outlives its revocation.
      throw new ApiError('forbidden', 'Only a portal admin can issue management keys; a management key can issue ingest keys.');
    }
    if (request.expiresAt) this.checkExpiry(request.expiresAt);
    const customer = await this.customers.require(customerSlug);
    const { record, lookup, key } = await this.mint(customer, request, op.actor);
    // The schedule first: an entry whose key never came to be is dropped by the timer.
    if (record.expiresAt) await this.expiries.add({ customerSlug: customer.slug, keyId: record.id, expiresAt: record.expiresAt });
    const audit = this.audit.event({
      customerSlug: customer.slug,
      type: 'key.issued',
      op,
      keyId: record.id,
      details: {
        ...keyFacts(record),
        type: record.type,
        environment: record.environment,
        ...(record.expiresAt ? { expiresAt: record.expiresAt } : {}),
        ...(record.allowedIps ? { allowedIps: record.allowedIps } : {}),
      },
    });
    const insert = () => this.keys.insertRecord(record, { keyLimit: (current) => this.keyLimit(current), audit });
    const outcome = await this.takingPlace(customer.slug, insert, (o) => o === 'key_limit_reached' || o === 'label_taken');
    if (outcome === 'customer_missing') throw new ApiError('not_found', 'No such customer.');
    if (outcome === 'label_taken') {
      throw new ApiError('label_taken', 'An active key of this customer already has that label. Choose another label.', {
        extensions: { label: record.label },
      });
    }
    if (outcome === 'key_limit_reached') throw await this.keyLimitReached(customer);
    await this.keys.insertLookup(lookup);
    this.log.info('key issued', { customer: customer.slug, keyId: record.id, display: record.displayPrefix });
    return { key, metadata: toKeyView(record) };
  }

  /**
   * Every key of a customer. Keys past their expiry are retired first (the timer's work, done
   * now), so that the keys listed as active, and the customer's count, are those that authenticate.
   */
  async list(customerSlug: string): Promise<ApiKeyView[]> {
    const customer = await this.customers.require(customerSlug);
    const keys = await this.keys.list(customer.slug);
    if (!keys.some((k) => this.expiry.hasExpired(k))) return keys.map(toKeyView);
    await this.expiry.retireExpired(customer.slug, keys);
    return (await this.keys.list(customer.slug)).map(toKeyView);
  }

  /**
   * Revokes a key at once and for good. Revoking the last active key needs `force` (it would
   * lock out every integration). Revoking a revoked key changes nothing and repeats the
   * revocation's storage steps, which completes one a crash cut short. `reason` goes into the
   * audit event (`exposed`: a secret scanner found the key in public, which the record keeps too;
   * `stale`: the daily review found it unused).
   */
  async revoke(
    customerSlug: string,
    keyId: string,
    op: Operation,
    options: { force?: boolean; reason?: 'exposed' | 'stale' } = {},
  ): Promise<ApiKeyView> {
    const customer = await this.customers.require(customerSlug);
    const record = isId('key', keyId) ? await this.keys.get(customer.slug, keyId) : undefined;
    if (!record) throw new ApiError('not_found', 'This customer has no such key.');
    // Read only when it decides something: a forced revocation (a leak report's) never lists the customer's keys.
    const lastActive = async () => !(await this.keys.list(customer.slug)).some((k) => k.status === 'active' && k.id !== record.id);
    if (record.status === 'active' && !options.force && (await lastActive())) {
      throw new ApiError(
        'last_active_key',
        'This is the last active key: revoking it would stop every integration. Issue a replacement first, or repeat with ?force=true.',
      );
    }
    await this.revocation.stopAuthenticating([record], op);
    if (record.status === 'revoked') return toKeyView(record);
    const result = await this.keys.markRevoked(customer.slug, record.id, {
      revokedBy: op.actor,
      revokedAt: this.clock.now().toISOString(),
      ...(options.reason === 'exposed' ? { reason: options.reason } : {}),
      audit: this.audit.event({
        customerSlug: customer.slug,
        type: 'key.revoked',
        op,
        keyId: record.id,
        details: { ...keyFacts(record), forced: Boolean(options.force), ...(options.reason ? { reason: options.reason } : {}) },
      }),
    });
    if (result.outcome === 'not_found' || !result.record) throw new ApiError('not_found', 'This customer has no such key.');
    if (result.outcome === 'revoked') {
      this.log.info('key revoked', { customer: customer.slug, keyId: record.id, display: record.displayPrefix });
    }
    return toKeyView(result.record);
  }

  /** Whether an active key is older than the rotation period (and not already being rolled). */
  isRotationDue(key: Pick<ApiKeyView, 'status' | 'createdAt' | 'rolledTo'>): boolean {
    return key.status === 'active' && !key.rolledTo && this.clock.millis() - Date.parse(key.createdAt) >= this.rotationDueMs;
  }

  /**
   * Sets or clears (`null`) an active key's expiry and IP allowlist. Every instance applies the
   * change within a feed poll (about a second): a narrowed allowlist or a nearer expiry is not
   * left to cached copies.
   */
  async updateAccess(customerSlug: string, keyId: string, patch: PatchKeyRequest, op: Operation): Promise<ApiKeyView> {
    if (patch.expiresAt) this.checkExpiry(patch.expiresAt);
    const customer = await this.customers.require(customerSlug);
    const current = isId('key', keyId) ? await this.keys.get(customer.slug, keyId) : undefined;
    if (!current) throw new ApiError('not_found', 'This customer has no such key.');
    // Past its expiry a key stays expired (the timer revokes it): nothing brings it back.
    if (this.expiry.hasExpired(current)) throw keyExpired('issue a new key instead');
    if (current.rolledTo && patch.expiresAt !== undefined) {
      throw new ApiError('key_rolling_out', 'This key is rolling out: its expiry is the end of its overlap. Revoke it to stop it sooner.');
    }
    if (patch.expiresAt) await this.expiries.add({ customerSlug: customer.slug, keyId, expiresAt: patch.expiresAt });
    const result = await this.keys.updateAccess(
      customer.slug,
      keyId,
      (record) => {
        const next = patchedAccess(record, patch);
        if (!next) return undefined;
        // A leaked management key must not lift its own limits or another's: a portal admin may; a key may only narrow them.
        const loosens = op.actor.type === 'key' && record.type === 'management' ? loosening(record, next) : undefined;
        if (loosens) {
          throw new ApiError(
            'forbidden',
            `This change ${loosens}: a management key may only narrow a management key's expiry and allowlist. A portal admin can loosen them.`,
          );
        }
        return next;
      },
      (before, after) =>
        this.audit.event({
          customerSlug: customer.slug,
          type: 'key.updated',
          op,
          keyId,
          details: {
            ...keyFacts(before),
            before: { expiresAt: before.expiresAt ?? null, allowedIps: before.allowedIps ?? [] },
            after: { expiresAt: after.expiresAt ?? null, allowedIps: after.allowedIps ?? [] },
          },
        }),
    );
    if (result.outcome === 'not_found' || !result.record) throw new ApiError('not_found', 'This customer has no such key.');
    if (result.outcome === 'not_active') throw new ApiError('conflict', 'This key is revoked: nothing about it can change any more.');
    if (result.outcome === 'updated') {
      if (current.expiresAt && current.expiresAt !== result.record.expiresAt) {
        await this.expiries.remove({ customerSlug: customer.slug, keyId, expiresAt: current.expiresAt });
      }
      await this.revocation.invalidate([result.record], 'changed');
    }
    return toKeyView(result.record);
  }

  /** Rolls a key (./key-roll.ts): a new key, while the old one keeps working for `overlapHours`. */
  roll(customerSlug: string, keyId: string, input: RollKeyRequest, op: Operation): Promise<RolledKey> {
    return this.rolls.roll(customerSlug, keyId, input, op);
  }

  /**
   * A write that needs a free place (and label) under the cap: when it finds none, the
   * customer's keys past their expiry, which no longer authenticate, give theirs back first
   * (the timer's work, done now) and the write is tried once more.
   */
  private async takingPlace<T>(customerSlug: string, write: () => Promise<T>, full: (outcome: T) => boolean): Promise<T> {
    const outcome = await write();
    if (!full(outcome) || (await this.expiry.retireExpired(customerSlug)) === 0) return outcome;
    return write();
  }

  /** 409 `key_limit_reached`, naming the customer's current cap. */
  private async keyLimitReached(customer: Customer, advice = 'Revoke a key first, or ask us to raise the limit.'): Promise<ApiError> {
    const limit = this.keyLimit((await this.customers.get(customer.slug)) ?? customer);
    return new ApiError('key_limit_reached', `This customer may hold at most ${limit} active key(s) on its plan. ${advice}`, {
      extensions: { keyLimit: limit },
    });
  }

  /** A key's expiry when it is set: ahead of now, and at most a year ahead. */
  private checkExpiry(expiresAt: string): void {
    const at = Date.parse(expiresAt);
    const now = this.clock.millis();
    if (at <= now || at - now > MAX_EXPIRY_AHEAD_MS) {
      const message = at <= now ? 'must be in the future' : 'must be at most one year ahead';
      throw new ApiError('validation_failed', `The request is not valid: expiresAt: ${message}`, {
        extensions: { errors: [{ path: 'expiresAt', message }] },
      });
    }
  }

  /** Staff: gives a key its own rate limit (or, with `undefined`, returns it to the plan's). */
  async setRateLimit(customerSlug: string, keyId: string, setting: RateLimitSetting | undefined, op: Operation): Promise<ApiKeyView> {
    const customer = await this.customers.require(customerSlug);
    const record = isId('key', keyId)
      ? await this.keys.setRateLimit(
          customer.slug,
          keyId,
          setting,
          this.audit.event({
            customerSlug: customer.slug,
            type: 'key.rate-limit-changed',
            op,
            keyId,
            details: { rateLimit: setting ?? null },
          }),
        )
      : undefined;
    if (!record) throw new ApiError('not_found', 'This customer has no such key.');
    await this.revocation.invalidate([record], 'changed');
    return toKeyView(record);
  }

  /**
   * Replaces every active key with a new one of the same label, application, type and
   * environment. The old keys stop at once; the new values are returned once. Called with a
   * management key, it replaces the ingest keys only: management keys are issued and replaced by
   * portal admins alone.
   */
  async reset(customerSlug: string, op: Operation): Promise<ResetResult> {
    const customer = await this.customers.require(customerSlug);
    const active = (await this.keys.list(customer.slug)).filter(
      (k) => k.status === 'active' && !(op.actor.type === 'key' && k.type === 'management'),
    );
    const result: ResetResult = { keys: [], replaced: [] };
    // A key rolling out already has its successor (replaced below): it stops, and is not replaced twice.
    for (const old of active.filter((k) => k.rolledTo)) {
      await this.revocation.stopRolledKey(old, op, this.clock.now().toISOString(), 'reset');
    }
    for (const old of active.filter((k) => !k.rolledTo)) {
      // The replacement keeps the old key's expiry and allowlist.
      const { record, lookup, key } = await this.mint(customer, old, op.actor);
      if (record.expiresAt) await this.expiries.add({ customerSlug: customer.slug, keyId: record.id, expiresAt: record.expiresAt });
      await this.revocation.stopAuthenticating([old], op);
      const outcome = await this.keys.replaceRecord(customer.slug, old.id, record, {
        revokedBy: op.actor,
        audit: this.audit.event({
          customerSlug: customer.slug,
          type: 'key.reset',
          op,
          keyId: record.id,
          details: { ...keyFacts(record), replacedKeyId: old.id, replacedDisplayPrefix: old.displayPrefix },
        }),
      });
      if (outcome !== 'replaced') continue; // revoked meanwhile: nothing to replace
      await this.keys.insertLookup(lookup);
      result.keys.push({ key, metadata: toKeyView(record) });
      result.replaced.push({ oldKeyId: old.id, newKeyId: record.id });
    }
    this.log.info('keys reset', { customer: customer.slug, count: result.replaced.length });
    return result;
  }

  /**
   * Copies the customer's plan and master-component state (the customer row is authoritative)
   * into the lookup rows of its active keys, and drops cached copies on every instance.
   * Idempotent: running it again writes the same state.
   */
  async refreshLookups(customer: Customer): Promise<void> {
    const active = (await this.keys.list(customer.slug)).filter((k) => k.status === 'active');
    await this.keys.refreshLookups(
      active.map((k) => k.secretHash),
      { plan: customer.plan, masterComponent: masterComponentState(customer) },
    );
    await this.revocation.invalidate(active, 'changed');
  }

  /** A new key for a customer: its record, its lookup row and its full value (shared/keys/mint.ts). */
  private async mint(customer: Customer, shape: KeyShape, createdBy: Actor): Promise<MintedKey> {
    const component = await this.components.value(customer.slug, customer.componentVersion);
    if (component === undefined) throw new Error(`customer ${customer.slug} has no master component version ${customer.componentVersion}`);
    return mintKey({ customer, component, shape, createdBy, now: this.clock.now() });
  }
}
