import type { Clock } from '../clock';
import type { Customer, KeyRequest, MasterComponentStatus, Operation } from '../domain';
import { ApiError } from '../errors';
import { generateComponent } from '../keys/compound-key';
import type { Logger } from '../logging';
import type { GraceSchedule } from '../ports/grace-schedule';
import type { SecretStore } from '../ports/secret-store';
import { dueForRetirement, previousInGrace } from '../keys/grace-policy';
import type { ComponentCache } from '../auth/component-cache';
import type { AuditTrail } from './audit-trail';
import type { CustomerService } from './customer-service';
import type { MasterComponentRotator } from './key-request-service';
import type { KeyService } from './key-service';

const SYSTEM: Operation = { actor: { type: 'system', id: 'tenant-key-grace', name: 'tenant-key-grace timer' }, requestId: 'timer' };

/** What a MasterComponentService is built from. */
export interface MasterComponentServiceDeps {
  customers: CustomerService;
  keys: KeyService;
  secrets: SecretStore;
  cache: ComponentCache;
  schedule: GraceSchedule;
  audit: AuditTrail;
  clock: Clock;
  gracePeriodMs: number;
  log: Logger;
}

/**
 * The customer's master component (the middle segment of every compound key), as staff
 * administer it: rotating it with a grace period, ending a grace early, and retiring rotated-out
 * components when their grace ends. The door's check is ComponentCheck (shared/auth). The
 * customer row holds the authoritative state (current, previous, grace end); each active key's
 * lookup row carries a copy so the door stays one point read.
 */
export class MasterComponentService implements MasterComponentRotator {
  private readonly customers: CustomerService;
  private readonly keys: KeyService;
  private readonly secrets: SecretStore;
  private readonly cache: ComponentCache;
  private readonly schedule: GraceSchedule;
  private readonly audit: AuditTrail;
  private readonly clock: Clock;
  private readonly gracePeriodMs: number;
  private readonly log: Logger;

  constructor(deps: MasterComponentServiceDeps) {
    this.customers = deps.customers;
    this.keys = deps.keys;
    this.secrets = deps.secrets;
    this.cache = deps.cache;
    this.schedule = deps.schedule;
    this.audit = deps.audit;
    this.clock = deps.clock;
    this.gracePeriodMs = deps.gracePeriodMs;
    this.log = deps.log;
  }

  async status(customerSlug: string): Promise<MasterComponentStatus> {
    return this.view(await this.customers.require(customerSlug));
  }

  /** `rotate-tenant-key` requests, executed by staff. */
  async rotate(customerSlug: string, request: KeyRequest, op: Operation, options: { gracePeriodMs?: number } = {}) {
    const { customer } = await this.rotateNow(customerSlug, op, options, request.id);
    return {
      currentVersion: customer.componentVersion,
      previousVersion: customer.previousComponentVersion ?? null,
      graceEndsAt: customer.graceEndsAt ?? null,
    };
  }

  /**
   * Creates a new component. The old one stays valid for the grace period (configuration, 7
   * days by default; 0 retires it at once). Keys issued from now on carry the new component.
   * Rotating while an earlier rotation is in grace retires that earlier component now.
   */
  async rotateNow(
    customerSlug: string,
    op: Operation,
    options: { gracePeriodMs?: number } = {},
    keyRequestId?: string,
  ): Promise<MasterComponentStatus> {
    const gracePeriodMs = options.gracePeriodMs ?? this.gracePeriodMs;
    const customer = await this.customers.require(customerSlug);
    const component = await this.secrets.putComponent(customer.slug, generateComponent());
    this.cache.prime(customer.slug, component.version, component.value);
    const now = this.clock.now();
    const graceEndsAt = gracePeriodMs > 0 ? new Date(now.getTime() + gracePeriodMs).toISOString() : undefined;
    const { before, after } = await this.customers.update(customer.slug, (current) => ({
      componentVersion: component.version,
      previousComponentVersion: graceEndsAt ? current.componentVersion : null,
      graceEndsAt: graceEndsAt ?? null,
      componentRotatedAt: now.toISOString(),
    }));
    if (after.previousComponentVersion && after.graceEndsAt) {
      await this.schedule.add({ customerSlug: after.slug, version: after.previousComponentVersion, endsAt: after.graceEndsAt });
    }
    await this.keys.refreshLookups(after);
    const retired = [before.previousComponentVersion, graceEndsAt ? undefined : before.componentVersion].filter(
      (v): v is string => Boolean(v) && v !== after.previousComponentVersion && v !== after.componentVersion,
    );
    for (const version of retired) await this.retireVersion(after.slug, version);
    if (before.previousComponentVersion && before.graceEndsAt) {
      await this.schedule.remove({ customerSlug: after.slug, version: before.previousComponentVersion, endsAt: before.graceEndsAt });
    }
    await this.audit.record({
      customerSlug: after.slug,
      type: 'tenant-key.rotated',
      op,
      details: {
        currentVersion: after.componentVersion,
        previousVersion: after.previousComponentVersion ?? null,
        graceEndsAt: after.graceEndsAt ?? null,
        retiredVersions: retired,
        ...(keyRequestId ? { keyRequestId } : {}),
      },
    });
    this.log.info('tenant key rotated', { customer: after.slug, graceEndsAt: after.graceEndsAt ?? null, retired: retired.length });
    return this.view(after);
  }

  /** Ends a grace period now (suspected compromise): the previous component stops at once. */
  async endGrace(customerSlug: string, op: Operation): Promise<MasterComponentStatus> {
    const { before, after, changed } = await this.customers.update(customerSlug, (current) =>
      current.previousComponentVersion ? { previousComponentVersion: null, graceEndsAt: null } : undefined,
    );
    if (changed && before.previousComponentVersion) {
      await this.keys.refreshLookups(after);
      await this.retireVersion(after.slug, before.previousComponentVersion);
      if (before.graceEndsAt)
        await this.schedule.remove({ customerSlug: after.slug, version: before.previousComponentVersion, endsAt: before.graceEndsAt });
      await this.audit.record({
        customerSlug: after.slug,
        type: 'tenant-key.grace-ended',
        op,
        details: { retiredVersion: before.previousComponentVersion, early: true },
      });
    }
    return this.view(after);
  }

  /**
   * The `tenant-key-grace` timer: retires every component whose grace has ended (disables its
   * Key Vault version, clears the previous slot, writes an audit event). Idempotent and safe to
   * run twice at once (the customer row changes under its ETag; disabling is idempotent); it
   * also completes a retirement or rotation a crash cut short. Past-due entries are all found.
   */
  async retireDue(): Promise<{ retired: number; checked: number }> {
    const now = this.clock.now();
    const due = await this.schedule.due(now);
    let retired = 0;
    for (const entry of due) {
      const result = await this.customers
        .update(entry.customerSlug, (current) =>
          current.previousComponentVersion === entry.version && dueForRetirement(current, now)
            ? { previousComponentVersion: null, graceEndsAt: null }
            : undefined,
        )
        .catch((error: unknown) => {
          if (error instanceof ApiError && error.code === 'not_found') return undefined;
          throw error;
        });
      if (result) {
        const { after, changed } = result;
        // The copies in the lookup rows are rewritten every time: that repairs a state a crash left stale.
        await this.keys.refreshLookups(after);
        const stillInUse =
          entry.version === after.componentVersion || (entry.version === after.previousComponentVersion && previousInGrace(after, now));
        if (!stillInUse) await this.retireVersion(after.slug, entry.version);
        if (changed) {
          retired += 1;
          await this.audit.record({
            customerSlug: after.slug,
            type: 'tenant-key.grace-ended',
            op: SYSTEM,
            details: { retiredVersion: entry.version, graceEndedAt: entry.endsAt },
          });
        }
      }
      await this.schedule.remove(entry);
    }
    return { retired, checked: due.length };
  }

  private async retireVersion(customerSlug: string, version: string): Promise<void> {
    await this.secrets.disableComponent(customerSlug, version);
    this.cache.evict(customerSlug, version);
  }

  private view(customer: Customer): MasterComponentStatus {
    return { customer, inGrace: previousInGrace(customer, this.clock.now()) };
  }
}
