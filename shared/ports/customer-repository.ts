import type { Customer, KeyReviewSummary, LeakedKeyPolicy, Plan } from '../domain';

export interface CustomerPatch {
  plan?: Plan;
  /** A number overrides the plan's key cap; `null` removes the override. */
  keyLimitOverride?: number | null;
  requireComponent?: boolean;
  componentVersion?: string;
  /** `null` clears the previous slot. */
  previousComponentVersion?: string | null;
  graceEndsAt?: string | null;
  componentRotatedAt?: string;
  autoRevokeStaleKeys?: boolean;
  leakedKeyPolicy?: LeakedKeyPolicy;
  keyReview?: KeyReviewSummary;
}

/** A customer with a patch applied (`null` clears). */
export function applyPatch(customer: Customer, patch: CustomerPatch): Customer {
  const next: Customer = { ...customer };
  if (patch.plan !== undefined) next.plan = patch.plan;
  if (patch.keyLimitOverride !== undefined) next.keyLimitOverride = patch.keyLimitOverride ?? undefined;
  if (patch.requireComponent !== undefined) next.requireComponent = patch.requireComponent;
  if (patch.componentVersion !== undefined) next.componentVersion = patch.componentVersion;
  if (patch.previousComponentVersion !== undefined) next.previousComponentVersion = patch.previousComponentVersion ?? undefined;
  if (patch.graceEndsAt !== undefined) next.graceEndsAt = patch.graceEndsAt ?? undefined;
  if (patch.componentRotatedAt !== undefined) next.componentRotatedAt = patch.componentRotatedAt;
  if (patch.autoRevokeStaleKeys !== undefined) next.autoRevokeStaleKeys = patch.autoRevokeStaleKeys;
  if (patch.leakedKeyPolicy !== undefined) next.leakedKeyPolicy = patch.leakedKeyPolicy;
  if (patch.keyReview !== undefined) next.keyReview = patch.keyReview;
  return next;
}

/** Customers, by slug. */
export interface CustomerRepository {
  /** Creates the customer; `'exists'` when the slug is taken (nothing is changed then). */
  create(customer: Customer): Promise<'created' | 'exists'>;
  get(slug: string): Promise<Customer | undefined>;
  /** Every customer (for daily jobs; a scan of profile rows). */
  list(): Promise<Customer[]>;
  /**
   * Applies a change computed from the customer's current row, atomically (optimistic
   * concurrency: on a concurrent write `change` runs again on the fresh row). `change` returns
   * `undefined` to leave the row alone. Resolves `undefined` when there is no such customer.
   */
  update(
    slug: string,
    change: (current: Customer) => CustomerPatch | undefined,
  ): Promise<{ before: Customer; after: Customer; changed: boolean } | undefined>;
}
