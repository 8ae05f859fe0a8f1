import type { Customer } from '../../domain';
import { applyPatch, type CustomerPatch, type CustomerRepository } from '../../ports/customer-repository';

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

  async list(): Promise<Customer[]> {
    return [...this.customers.values()].map((c) => ({ ...c }));
  }

  async update(slug: string, change: (current: Customer) => CustomerPatch | undefined) {
    const found = this.customers.get(slug);
    if (!found) return undefined;
    const before = { ...found };
    const patch = change(before);
    if (!patch) return { before, after: before, changed: false };
    const after = applyPatch(before, patch);
    this.customers.set(slug, after);
    return { before, after: { ...after }, changed: true };
  }
}
