import type { Actor, AuditEvent, Customer, TrustPolicy } from '../domain';

export type TrustPolicyInsertOutcome = 'inserted' | 'label_taken' | 'limit_reached' | 'customer_missing';
export type TrustPolicyUpdateOutcome = 'updated' | 'unchanged' | 'label_taken' | 'not_found';
export type TrustPolicyDeleteOutcome = 'deleted' | 'already_deleted' | 'not_found';

/**
 * A customer's trust policies (workload identity federation), stored under the customer. Every
 * change is one transaction with its audit event; the cap and label uniqueness hold under any
 * concurrency. Labels are unique among the customer's active policies, compared as
 * shared/keys/labels.ts normalizes them (a key's label does not hold a policy's, nor the reverse).
 * A deleted policy is kept, marked deleted: it holds no label and no place under the cap, is not
 * listed, and a second delete finds it (and can complete what the first one started).
 */
export interface TrustPolicyRepository {
  /**
   * In one transaction: takes a place under the customer's cap (`limit` of the customer's current
   * row: `limit_reached` when its active policies fill it), reserves the label, writes the policy
   * and the audit event. Nothing is written on any other outcome.
   */
  insert(policy: TrustPolicy, options: { limit: (customer: Customer) => number; audit: AuditEvent }): Promise<TrustPolicyInsertOutcome>;
  /**
   * Replaces an active policy with what `change` computes from it (`undefined`: leave it, answered
   * `unchanged`), with the audit event `audit` builds, in one transaction; a new label (as labels
   * compare) moves the reservation, `label_taken` when another active policy holds it. `not_found`
   * for a policy the customer does not have, or has deleted. `change` may run more than once (on a
   * concurrent write, again on the fresh policy).
   */
  update(
    customerSlug: string,
    id: string,
    change: (current: TrustPolicy) => TrustPolicy | undefined,
    audit: (before: TrustPolicy, after: TrustPolicy) => AuditEvent,
  ): Promise<{ outcome: TrustPolicyUpdateOutcome; policy?: TrustPolicy }>;
  /**
   * In one transaction: marks an active policy deleted (who, when), releases its label and its
   * place under the cap, and writes the audit event `audit` builds from the policy as it stood. A
   * deleted policy answers `already_deleted` with its record as the first deletion left it
   * (nothing is written).
   */
  markDeleted(
    customerSlug: string,
    id: string,
    options: { deletedBy: Actor; deletedAt: string; audit: (policy: TrustPolicy) => AuditEvent },
  ): Promise<{ outcome: TrustPolicyDeleteOutcome; policy?: TrustPolicy }>;
  /** The customer's active policies, oldest first (one single-partition query): the order an exchange tries them in. */
  list(customerSlug: string): Promise<TrustPolicy[]>;
  /** One policy of the customer, deleted ones included (`status` says). */
  get(customerSlug: string, id: string): Promise<TrustPolicy | undefined>;
  /**
   * Records the hour a token minted under each policy was last used in (the usage flush's
   * batches, as keys' last use; a deleted policy's row is kept, so it takes the write too).
   */
  touchLastUsed(entries: Array<{ customerSlug: string; trustPolicyId: string; hour: string }>): Promise<void>;
}
