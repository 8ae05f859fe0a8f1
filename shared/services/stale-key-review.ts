import type { Clock } from '../clock';
import type { Customer, Operation } from '../domain';
import { ApiError } from '../errors';
import { describeError, type Logger } from '../logging';
import type { CustomerRepository } from '../ports/customer-repository';
import type { AuditTrail } from './audit-trail';
import type { KeyService } from './key-service';
import type { UsageService } from './usage-service';

const SYSTEM: Operation = { actor: { type: 'system', id: 'stale-keys', name: 'stale-keys timer' }, requestId: 'timer' };

/** What a StaleKeyReview is built from. */
export interface StaleKeyReviewDeps {
  customers: CustomerRepository;
  keys: KeyService;
  usage: UsageService;
  audit: AuditTrail;
  clock: Clock;
  log: Logger;
}

/**
 * The daily look at every customer's keys: records its stale active keys (unused) as an audit
 * event and, where staff turned the policy on, revokes them (never the last active key: that
 * would lock out whatever is left, however quiet); records its keys due for rotation (older
 * than the rotation period) as another; and keeps both counts on the customer for staff.
 */
export class StaleKeyReview {
  private readonly customers: CustomerRepository;
  private readonly clock: Clock;
  private readonly keys: KeyService;
  private readonly usage: UsageService;
  private readonly audit: AuditTrail;
  private readonly log: Logger;

  constructor(deps: StaleKeyReviewDeps) {
    this.customers = deps.customers;
    this.clock = deps.clock;
    this.keys = deps.keys;
    this.usage = deps.usage;
    this.audit = deps.audit;
    this.log = deps.log;
  }

  async run(): Promise<{ customers: number; stale: number; revoked: number; rotationDue: number }> {
    let stale = 0;
    let revoked = 0;
    let rotationDue = 0;
    const customers = await this.customers.list();
    for (const customer of customers) {
      try {
        const result = await this.review(customer);
        stale += result.stale;
        revoked += result.revoked;
        rotationDue += result.rotationDue;
      } catch (error) {
        this.log.warn('stale-key review failed for a customer', { customer: customer.slug, ...describeError(error) });
      }
    }
    return { customers: customers.length, stale, revoked, rotationDue };
  }

  private async review(customer: Customer): Promise<{ stale: number; revoked: number; rotationDue: number }> {
    const keys = await this.keys.list(customer.slug);
    const due = keys.filter((k) => this.keys.isRotationDue(k));
    if (due.length > 0) {
      await this.audit.record({
        customerSlug: customer.slug,
        type: 'keys.rotation-due',
        op: SYSTEM,
        details: { keys: due.map((k) => ({ id: k.id, label: k.label, createdAt: k.createdAt })) },
      });
    }
    const stale = keys.filter((k) => k.status === 'active' && this.usage.isStale(k));
    const summary = { at: this.clock.now().toISOString(), stale: stale.length, rotationDue: due.length };
    await this.customers.update(customer.slug, () => ({ keyReview: summary }));
    if (stale.length === 0) return { stale: 0, revoked: 0, rotationDue: due.length };
    const revokedIds: string[] = [];
    const kept: string[] = [];
    if (customer.autoRevokeStaleKeys) {
      for (const key of stale) {
        try {
          await this.keys.revoke(customer.slug, key.id, SYSTEM, { reason: 'stale' });
          revokedIds.push(key.id);
        } catch (error) {
          if (error instanceof ApiError && error.code === 'last_active_key') kept.push(key.id);
          else throw error;
        }
      }
    }
    await this.audit.record({
      customerSlug: customer.slug,
      type: 'keys.stale',
      op: SYSTEM,
      details: {
        keys: stale.map((k) => ({
          id: k.id,
          label: k.label,
          application: k.application,
          displayPrefix: k.displayPrefix,
          lastUsedAt: k.lastUsedAt ?? null,
          createdAt: k.createdAt,
        })),
        autoRevoke: customer.autoRevokeStaleKeys,
        revoked: revokedIds,
        keptLastActiveKey: kept,
      },
    });
    return { stale: stale.length, revoked: revokedIds.length, rotationDue: due.length };
  }
}
