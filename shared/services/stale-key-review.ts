import type { Customer } from '../domain';
import { ApiError } from '../errors';
import { describeError, type Logger } from '../logging';
import type { CustomerRepository } from '../ports/customer-repository';
import type { AuditTrail } from './audit-trail';
import type { KeyService, Operation } from './key-service';
import type { UsageService } from './usage-service';

const SYSTEM: Operation = { actor: { type: 'system', id: 'stale-keys', name: 'stale-keys timer' }, requestId: 'timer' };

/** What a StaleKeyReview is built from. */
export interface StaleKeyReviewDeps {
  customers: CustomerRepository;
  keys: KeyService;
  usage: UsageService;
  audit: AuditTrail;
  log: Logger;
}

/**
 * The daily look at keys nobody uses: for every customer, records its stale active keys as an
 * audit event and, where staff turned the policy on, revokes them (never the last active key:
 * that would lock out whatever is left, however quiet).
 */
export class StaleKeyReview {
  private readonly customers: CustomerRepository;
  private readonly keys: KeyService;
  private readonly usage: UsageService;
  private readonly audit: AuditTrail;
  private readonly log: Logger;

  constructor(deps: StaleKeyReviewDeps) {
    this.customers = deps.customers;
    this.keys = deps.keys;
    this.usage = deps.usage;
    this.audit = deps.audit;
    this.log = deps.log;
  }

  async run(): Promise<{ customers: number; stale: number; revoked: number }> {
    let stale = 0;
    let revoked = 0;
    const customers = await this.customers.list();
    for (const customer of customers) {
      try {
        const result = await this.review(customer);
        stale += result.stale;
        revoked += result.revoked;
      } catch (error) {
        this.log.warn('stale-key review failed for a customer', { customer: customer.slug, ...describeError(error) });
      }
    }
    return { customers: customers.length, stale, revoked };
  }

  private async review(customer: Customer): Promise<{ stale: number; revoked: number }> {
    const keys = await this.keys.list(customer.slug);
    const stale = keys.filter((k) => k.status === 'active' && this.usage.isStale(k));
    if (stale.length === 0) return { stale: 0, revoked: 0 };
    const revokedIds: string[] = [];
    const kept: string[] = [];
    if (customer.autoRevokeStaleKeys) {
      for (const key of stale) {
        try {
          await this.keys.revoke(customer.slug, key.id, SYSTEM);
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
        keys: stale.map((k) => ({ id: k.id, label: k.label, lastUsedAt: k.lastUsedAt ?? null, createdAt: k.createdAt })),
        autoRevoke: customer.autoRevokeStaleKeys,
        revoked: revokedIds,
        keptLastActiveKey: kept,
      },
    });
    return { stale: stale.length, revoked: revokedIds.length };
  }
}
