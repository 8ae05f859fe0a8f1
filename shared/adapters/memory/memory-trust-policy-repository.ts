import type { Actor, AuditEvent, Customer, TrustPolicy } from '../../domain';
import { normalizeLabel } from '../../keys/labels';
import type {
  TrustPolicyDeleteOutcome,
  TrustPolicyInsertOutcome,
  TrustPolicyRepository,
  TrustPolicyUpdateOutcome,
} from '../../ports/trust-policy-repository';
import type { MemoryAuditLog } from './memory-audit-log';
import type { MemoryCustomerRepository } from './memory-customer-repository';

const copy = (policy: TrustPolicy): TrustPolicy => structuredClone(policy);

/**
 * In-memory TrustPolicyRepository for unit tests, with the Table adapter's rules: the cap counts a
 * customer's active policies, labels are unique among them as labels compare, a deleted policy is
 * kept but holds neither. Audit events go to the audit log given (as on Table Storage, where they
 * share the customer's partition), or to {@link audit}.
 */
export class MemoryTrustPolicyRepository implements TrustPolicyRepository {
  /** By `{slug}/{id}`, in insertion order. */
  readonly policies = new Map<string, TrustPolicy>();
  readonly audit: AuditEvent[] = [];

  constructor(
    private readonly customers: MemoryCustomerRepository,
    private readonly auditLog?: MemoryAuditLog,
  ) {}

  private record(event: AuditEvent): void {
    if (this.auditLog) this.auditLog.events.push(event);
    else this.audit.push(event);
  }

  private active(customerSlug: string): TrustPolicy[] {
    return [...this.policies.values()].filter((p) => p.customerSlug === customerSlug && p.status === 'active');
  }

  private labelHolder(customerSlug: string, label: string): TrustPolicy | undefined {
    return this.active(customerSlug).find((p) => normalizeLabel(p.label) === normalizeLabel(label));
  }

  async insert(
    policy: TrustPolicy,
    options: { limit: (customer: Customer) => number; audit: AuditEvent },
  ): Promise<TrustPolicyInsertOutcome> {
    const customer = await this.customers.get(policy.customerSlug);
    if (!customer) return 'customer_missing';
    if (this.active(policy.customerSlug).length >= options.limit(customer)) return 'limit_reached';
    if (this.labelHolder(policy.customerSlug, policy.label)) return 'label_taken';
    this.policies.set(`${policy.customerSlug}/${policy.id}`, copy(policy));
    this.record(options.audit);
    return 'inserted';
  }

  async update(
    customerSlug: string,
    id: string,
    change: (current: TrustPolicy) => TrustPolicy | undefined,
    audit: (before: TrustPolicy, after: TrustPolicy) => AuditEvent,
  ): Promise<{ outcome: TrustPolicyUpdateOutcome; policy?: TrustPolicy }> {
    const found = this.policies.get(`${customerSlug}/${id}`);
    if (!found || found.status !== 'active') return { outcome: 'not_found' };
    const before = copy(found);
    const after = change(copy(found));
    if (!after) return { outcome: 'unchanged', policy: before };
    const holder = this.labelHolder(customerSlug, after.label);
    if (holder && holder.id !== id) return { outcome: 'label_taken' };
    this.policies.set(`${customerSlug}/${id}`, copy(after));
    this.record(audit(before, copy(after)));
    return { outcome: 'updated', policy: copy(after) };
  }

  async markDeleted(
    customerSlug: string,
    id: string,
    options: { deletedBy: Actor; deletedAt: string; audit: (policy: TrustPolicy) => AuditEvent },
  ): Promise<{ outcome: TrustPolicyDeleteOutcome; policy?: TrustPolicy }> {
    const found = this.policies.get(`${customerSlug}/${id}`);
    if (!found) return { outcome: 'not_found' };
    if (found.status !== 'active') return { outcome: 'already_deleted', policy: copy(found) };
    const event = options.audit(copy(found));
    Object.assign(found, { status: 'deleted', deletedAt: options.deletedAt, deletedBy: options.deletedBy });
    this.record(event);
    return { outcome: 'deleted', policy: copy(found) };
  }

  async list(customerSlug: string): Promise<TrustPolicy[]> {
    return (
      this.active(customerSlug)
        // Ids sort by creation time as text (ASCII order, as the Table adapter's row keys do).
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map(copy)
    );
  }

  async get(customerSlug: string, id: string): Promise<TrustPolicy | undefined> {
    const found = this.policies.get(`${customerSlug}/${id}`);
    return found ? copy(found) : undefined;
  }

  async touchLastUsed(entries: Array<{ customerSlug: string; trustPolicyId: string; hour: string }>): Promise<void> {
    for (const e of entries) {
      const found = this.policies.get(`${e.customerSlug}/${e.trustPolicyId}`);
      if (found) found.lastUsedAt = e.hour;
    }
  }
}
