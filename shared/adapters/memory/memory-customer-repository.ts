import type { Customer } from '../../domain';
import type { CustomerRepository } from '../../ports/customer-repository';

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
}
