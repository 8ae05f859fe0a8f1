import type { Customer } from '../../domain';
import type { CustomerPatch, CustomerRepository } from '../../ports/customer-repository';

/** In-memory CustomerRepository for unit tests. */
export class MemoryCustomerRepository implements CustomerRepository {
  readonly customers = new Map<string, Customer>();

  async create(customer: Customer): Promise<'created' | 'exists'> {
    if (this.customers.has(customer.slug)) return 'exists';
    this.customers.set(customer.slug, { ...customer });
    return 'created';
  }

  async get(slug: string): Promise<Customer | undefined> {
    const found = this.customers.get(slug);
    return found ? { ...found } : undefined;
  }

  async update(slug: string, patch: CustomerPatch): Promise<Customer | undefined> {
    const found = this.customers.get(slug);
    if (!found) return undefined;
    if (patch.plan !== undefined) found.plan = patch.plan;
    if (patch.keyLimitOverride !== undefined) found.keyLimitOverride = patch.keyLimitOverride ?? undefined;
    return { ...found };
  }
}
