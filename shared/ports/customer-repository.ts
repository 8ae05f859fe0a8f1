import type { Customer } from '../domain';

/** Customers, by slug. */
export interface CustomerRepository {
  /** Creates the customer; `'exists'` when the slug is taken (nothing is changed then). */
  create(customer: Customer): Promise<'created' | 'exists'>;
  get(slug: string): Promise<Customer | undefined>;
}
