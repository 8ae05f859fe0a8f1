import type { Customer, Plan } from '../domain';

export interface CustomerPatch {
  plan?: Plan;
  /** A number overrides the plan's key cap; `null` removes the override. */
  keyLimitOverride?: number | null;
}

/** Customers, by slug. */
export interface CustomerRepository {
  /** Creates the customer; `'exists'` when the slug is taken (nothing is changed then). */
  create(customer: Customer): Promise<'created' | 'exists'>;
  get(slug: string): Promise<Customer | undefined>;
  /** Applies a staff change; `undefined` when there is no such customer. */
  update(slug: string, patch: CustomerPatch): Promise<Customer | undefined>;
}
