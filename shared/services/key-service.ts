import type { Clock } from '../clock';
import type { PlanLimits } from '../config';
import {
  toKeyView,
  type Actor,
  type ApiKeyRecord,
  type ApiKeyView,
  type Customer,
  type Plan,
  type RateLimitSetting,
  tenantKeyState,
} from '../domain';
import { ApiError } from '../errors';
import { isId, newId } from '../ids';
import { displayForm, formatCompoundKey, generateSecret, hashSecret } from '../keys/compound-key';
import type { Logger } from '../logging';
import type { KeyLookupEntry, KeyRepository } from '../ports/key-repository';
import { FEED_RETENTION_MS, type RevocationFeed } from '../ports/revocation-feed';
import { issueKeySchema, type IssueKeyInput } from '../schemas/keys';
import { parseInput } from '../validation';
import type { ComponentCache } from './component-cache';
import type { AuditTrail } from './audit-trail';
import type { CustomerService } from './customer-service';
import type { KeyAuthenticator } from './key-authenticator';

/** A revocation published this long ago whose record still says active was cut short. */
const INTERRUPTED_AFTER_MS = 30_000;
/** Who completes a revocation when the feed entry does not say who started it. */
const REVOCATION_COMPLETER: Actor = { type: 'system', id: 'revocation-completion', name: 'revocation completion' };

/** Who asks for a change, and in which HTTP request (for the audit log). */
export interface Operation {
  actor: Actor;
  requestId: string;
}

/** A key as issued: the full key (this is the only time it exists) and its metadata. */
export interface IssuedKey {
  key: string;
  metadata: ApiKeyView;
}

export interface ResetResult {
  keys: IssuedKey[];
  replaced: Array<{ oldKeyId: string; newKeyId: string }>;
}

/** What a KeyService is built from. */
export interface KeyServiceDeps {
  keys: KeyRepository;
  customers: CustomerService;
  components: ComponentCache;
  authenticator: KeyAuthenticator;
  feed: RevocationFeed;
  plans: Record<Plan, PlanLimits>;
  audit: AuditTrail;
  clock: Clock;
  log: Logger;
}

/** Issuing, listing, revoking and resetting a customer's keys. */
export class KeyService {
  private readonly keys: KeyRepository;
  private readonly customers: CustomerService;
  private readonly components: ComponentCache;
  private readonly authenticator: KeyAuthenticator;
  private readonly feed: RevocationFeed;
  private readonly plans: Record<Plan, PlanLimits>;
  private readonly audit: AuditTrail;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(deps: KeyServiceDeps) {
    this.audit = deps.audit;
    this.keys = deps.keys;
    this.customers = deps.customers;
    this.components = deps.components;
    this.authenticator = deps.authenticator;
    this.feed = deps.feed;
    this.plans = deps.plans;
    this.clock = deps.clock;
    this.log = deps.log;
  }

  /** The customer's cap on active keys: the staff override, else the plan's. */
  keyLimit(customer: Customer): number {
    return customer.keyLimitOverride ?? this.plans[customer.plan].keyLimit;
  }

  async issue(customerSlug: string, input: IssueKeyInput, op: Operation): Promise<IssuedKey> {
    const request = parseInput(issueKeySchema, input);
    if (request.type === 'management' && op.actor.type === 'key') {
      // A leaked management key must not be able to plant a successor that outlives its revocation.
      throw new ApiError('forbidden', 'Only a portal admin can issue management keys; a management key can issue ingest keys.');
    }
    const customer = await this.customers.require(customerSlug);
    const { record, lookup, key } = await this.mint(customer, request, op.actor);
    const outcome = await this.keys.insertRecord(record, {
      keyLimit: (current) => this.keyLimit(current),
      audit: this.audit.event({
        customerSlug: customer.slug,
        type: 'key.issued',
        op,
        keyId: record.id,
        details: {
          label: record.label,
          application: record.application,
          type: record.type,
          environment: record.environment,
        },
      }),
    });
    if (outcome === 'customer_missing') throw new ApiError('not_found', 'No such customer.');
    if (outcome === 'label_taken') {
      throw new ApiError('label_taken', 'An active key of this customer already has that label. Choose another label.', {
        extensions: { label: record.label },
      });
    }
    if (outcome === 'key_limit_reached') {
      const limit = this.keyLimit((await this.customers.get(customer.slug)) ?? customer);
      throw new ApiError(
        'key_limit_reached',
        `This customer may hold at most ${limit} active key(s) on its plan. Revoke a key first, or ask us to raise the limit.`,
        { extensions: { keyLimit: limit } },
      );
    }
    await this.keys.insertLookup(lookup);
    this.log.info('key issued', { customer: customer.slug, keyId: record.id, display: record.displayPrefix });
    return { key, metadata: toKeyView(record) };
  }

  async list(customerSlug: string): Promise<ApiKeyView[]> {
    const customer = await this.customers.require(customerSlug);
    return (await this.keys.list(customer.slug)).map(toKeyView);
  }

  /**
   * Revokes a key at once and for good. Revoking the last active key needs `force` (it would
   * lock out every integration). Revoking a revoked key changes nothing and repeats the
   * revocation's storage steps, which completes one a crash cut short. `reason` goes into the
   * audit event (`exposed`: a secret scanner found the key in public).
   */
  async revoke(
    customerSlug: string,
    keyId: string,
    op: Operation,
    options: { force?: boolean; reason?: 'exposed' } = {},
  ): Promise<ApiKeyView> {
    const customer = await this.customers.require(customerSlug);
    const record = isId('key', keyId) ? await this.keys.get(customer.slug, keyId) : undefined;
    if (!record) throw new ApiError('not_found', 'This customer has no such key.');
    const othersActive = (await this.keys.list(customer.slug)).some((k) => k.status === 'active' && k.id !== record.id);
    if (record.status === 'active' && !options.force && !othersActive) {
      throw new ApiError(
        'last_active_key',
        'This is the last active key: revoking it would stop every integration. Issue a replacement first, or repeat with ?force=true.',
      );
    }
    await this.stopAuthenticating([record], op);
    if (record.status === 'revoked') return toKeyView(record);
    const result = await this.keys.markRevoked(customer.slug, record.id, {
      revokedBy: op.actor,
      revokedAt: this.clock.now().toISOString(),
      audit: this.audit.event({
        customerSlug: customer.slug,
        type: 'key.revoked',
        op,
        keyId: record.id,
        details: { label: record.label, forced: Boolean(options.force), ...(options.reason ? { reason: options.reason } : {}) },
      }),
    });
    if (result.outcome === 'not_found' || !result.record) throw new ApiError('not_found', 'This customer has no such key.');
    if (result.outcome === 'revoked') {
      this.log.info('key revoked', { customer: customer.slug, keyId: record.id, display: record.displayPrefix });
    }
    return toKeyView(result.record);
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
    await this.invalidate([record], 'changed');
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
    for (const old of active) {
      const { record, lookup, key } = await this.mint(customer, old, op.actor);
      await this.stopAuthenticating([old], op);
      const outcome = await this.keys.replaceRecord(customer.slug, old.id, record, {
        revokedBy: op.actor,
        audit: this.audit.event({
          customerSlug: customer.slug,
          type: 'key.reset',
          op,
          keyId: record.id,
          details: { replacedKeyId: old.id, label: old.label },
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
      { plan: customer.plan, tenantKey: tenantKeyState(customer) },
    );
    await this.invalidate(active, 'changed');
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
  private async stopAuthenticating(records: ApiKeyRecord[], op: Operation): Promise<void> {
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
    for (const record of records) this.authenticator.revoke(record.secretHash);
    for (const record of records) await this.keys.deleteLookup(record.secretHash);
  }

  /** Deletes revocation-feed entries older than the feed keeps (every instance has read them by then). */
  pruneRevocationFeed(): Promise<number> {
    return this.feed.prune(new Date(this.clock.millis() - FEED_RETENTION_MS));
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
          details: { label: record.label, completedAfterInterruption: true },
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

  private async invalidate(records: ApiKeyRecord[], reason: 'revoked' | 'changed'): Promise<void> {
    for (const record of records) this.authenticator.evict(record.secretHash);
    await this.feed.publish(records.map((r) => ({ secretHash: r.secretHash, keyId: r.id, customerSlug: r.customerSlug, reason })));
  }

  /** A new key for a customer: its record, its lookup row and its full value. */
  private async mint(
    customer: Customer,
    shape: Pick<ApiKeyRecord, 'label' | 'application' | 'type' | 'environment' | 'rateLimit'>,
    createdBy: Actor,
  ): Promise<{ record: ApiKeyRecord; lookup: KeyLookupEntry; key: string }> {
    const component = await this.components.value(customer.slug, customer.componentVersion);
    if (component === undefined) throw new Error(`customer ${customer.slug} has no master component version ${customer.componentVersion}`);
    const secret = generateSecret();
    const secretHash = hashSecret(secret);
    const now = this.clock.now();
    const record: ApiKeyRecord = {
      id: newId('key', now),
      customerId: customer.id,
      customerSlug: customer.slug,
      label: shape.label,
      application: shape.application,
      type: shape.type,
      environment: shape.environment,
      displayPrefix: displayForm(customer.slug, secret),
      secretHash,
      status: 'active',
      createdAt: now.toISOString(),
      createdBy,
      ...(shape.rateLimit ? { rateLimit: shape.rateLimit } : {}),
    };
    return {
      record,
      lookup: {
        secretHash,
        status: 'active',
        customerId: customer.id,
        customerSlug: customer.slug,
        plan: customer.plan,
        keyId: record.id,
        keyLabel: record.label,
        application: record.application,
        environment: record.environment,
        keyType: record.type,
        tenantKey: tenantKeyState(customer),
        ...(shape.rateLimit ? { rateLimit: shape.rateLimit } : {}),
      },
      key: formatCompoundKey({ slug: customer.slug, component, secret }),
    };
  }
}
