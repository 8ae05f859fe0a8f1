import type { Customer, Operation } from '../domain';
import type { CustomerPatch } from '../ports/customer-repository';
import type { CreateCustomerInput, UpdateCustomerRequest } from '../schemas/keys';
import type { AuditTrail } from './audit-trail';
import type { CustomerService } from './customer-service';
import type { KeyService } from './key-service';

/** What staff do to customers: create them, change their plan or key cap. */
export class StaffService {
  constructor(
    private readonly customers: CustomerService,
    private readonly keys: KeyService,
    private readonly audit: AuditTrail,
  ) {}

  createCustomer(input: CreateCustomerInput): Promise<Customer> {
    return this.customers.create(input);
  }

  listCustomers(): Promise<Customer[]> {
    return this.customers.list();
  }

  getCustomer(slug: string): Promise<Customer> {
    return this.customers.require(slug);
  }

  async updateCustomer(slug: string, body: UpdateCustomerRequest, op: Operation): Promise<Customer> {
    const before = await this.customers.require(slug);
    const patch: CustomerPatch = {};
    if (body.plan !== undefined) patch.plan = body.plan;
    if (body.keyLimit !== undefined) patch.keyLimitOverride = body.keyLimit;
    if (body.requireComponent !== undefined) patch.requireComponent = body.requireComponent;
    if (body.autoRevokeStaleKeys !== undefined) patch.autoRevokeStaleKeys = body.autoRevokeStaleKeys;
    const { after } = await this.customers.update(before.slug, () => patch);
    if (after.plan !== before.plan || after.requireComponent !== before.requireComponent) await this.keys.refreshLookups(after);
    await this.audit.record({
      customerSlug: after.slug,
      type: 'customer.updated',
      op,
      details: {
        before: {
          plan: before.plan,
          keyLimitOverride: before.keyLimitOverride ?? null,
          requireComponent: before.requireComponent,
          autoRevokeStaleKeys: before.autoRevokeStaleKeys,
        },
        after: {
          plan: after.plan,
          keyLimitOverride: after.keyLimitOverride ?? null,
          requireComponent: after.requireComponent,
          autoRevokeStaleKeys: after.autoRevokeStaleKeys,
        },
      },
    });
    return after;
  }
}
