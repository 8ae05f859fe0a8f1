import { odata, type TransactionAction } from '@azure/data-tables';
import type { Actor, AuditEvent, Customer, TrustPolicy } from '../../domain';
import type {
  TrustPolicyDeleteOutcome,
  TrustPolicyInsertOutcome,
  TrustPolicyRepository,
  TrustPolicyUpdateOutcome,
} from '../../ports/trust-policy-repository';
import { absentIfNotFound } from '../azure-errors';
import { done, withEtagRetry } from './etag-retry';
import { actorToText, auditSteps, groupBy, mergeStep } from './rows';
import { deferredWork } from './storage-operations';
import { PROFILE_ROW, toCustomer, type CustomerEntity } from './table-customer-repository';
import type { TableStorage } from './table-storage';
import {
  POLICY_COUNT_ROW,
  POLICY_ROW_END,
  POLICY_ROW_PREFIX,
  policyEntity,
  policyLabelEntity,
  policyLabelRowKey,
  policyRowKey,
  toTrustPolicy,
  type PolicyCountEntity,
  type PolicyLabelEntity,
  type TrustPolicyEntity,
} from './trust-policy-rows';

type WithEtag<T> = T & { etag: string };
type Updated = { outcome: TrustPolicyUpdateOutcome; policy?: TrustPolicy };
type Deleted = { outcome: TrustPolicyDeleteOutcome; policy?: TrustPolicy };

/**
 * Trust policies in their customer's partition of the customers table (rows: trust-policy-rows.ts).
 * Each change is one entity-group transaction of the policy row, its label reservation, the
 * customer's count of active policies and the audit event, under the ETags just read.
 */
export class TableTrustPolicyRepository implements TrustPolicyRepository {
  constructor(private readonly storage: TableStorage) {}

  private get table() {
    return this.storage.clients.customers;
  }

  async insert(
    policy: TrustPolicy,
    options: { limit: (customer: Customer) => number; audit: AuditEvent },
  ): Promise<TrustPolicyInsertOutcome> {
    await this.storage.step('trustPolicies.insert');
    const pk = policy.customerSlug;
    return withEtagRetry<TrustPolicyInsertOutcome>('trust policy insert: the policy count', async () => {
      const customer = await this.getRow<CustomerEntity>(pk, PROFILE_ROW);
      if (!customer) return done('customer_missing');
      const counter = await this.getRow<PolicyCountEntity>(pk, POLICY_COUNT_ROW);
      const active = counter?.activeCount ?? 0;
      if (active >= options.limit(toCustomer(customer))) return done('limit_reached');
      return {
        write: () =>
          this.transaction([
            // The first policy creates the count row: another writer creating it first conflicts (409), and we read again.
            counter
              ? mergeStep(counter, { activeCount: active + 1 })
              : ['create', { partitionKey: pk, rowKey: POLICY_COUNT_ROW, activeCount: 1 }],
            ['create', policyLabelEntity(pk, policy.label, policy.id)],
            ['create', policyEntity(policy)],
            ...auditSteps(options.audit),
          ]),
        written: () => 'inserted',
        staleOn: counter ? [412] : [409],
        // With the count row read, the policy and audit rows have fresh ids: a conflict can only be the label's row.
        failed: (status) => (status === 409 && counter ? 'label_taken' : undefined),
      };
    });
  }

  async update(
    customerSlug: string,
    id: string,
    change: (current: TrustPolicy) => TrustPolicy | undefined,
    audit: (before: TrustPolicy, after: TrustPolicy) => AuditEvent,
  ): Promise<Updated> {
    await this.storage.step('trustPolicies.update');
    return withEtagRetry<Updated>('trust policy update: the policy', async () => {
      const row = await this.getRow<TrustPolicyEntity>(customerSlug, policyRowKey(id));
      if (!row || row.status !== 'active') return done({ outcome: 'not_found' });
      const before = toTrustPolicy(row);
      const after = change(before);
      if (!after) return done({ outcome: 'unchanged', policy: before });
      const actions: TransactionAction[] = [['update', policyEntity(after), 'Replace', { etag: row.etag }]];
      if (policyLabelRowKey(after.label) !== policyLabelRowKey(before.label)) {
        actions.push(['create', policyLabelEntity(customerSlug, after.label, id)]);
        const held = await this.getRow<PolicyLabelEntity>(customerSlug, policyLabelRowKey(before.label));
        if (held?.policyId === id) actions.push(['delete', { partitionKey: customerSlug, rowKey: held.rowKey }]);
      }
      actions.push(...auditSteps(audit(before, after)));
      return {
        write: () => this.transaction(actions),
        written: () => ({ outcome: 'updated', policy: after }),
        staleOn: [412, 404],
        // The policy row is replaced under its ETag and the audit row is fresh: a conflict can only be the new label's row.
        failed: (status) => (status === 409 ? { outcome: 'label_taken' } : undefined),
      };
    });
  }

  async markDeleted(
    customerSlug: string,
    id: string,
    options: { deletedBy: Actor; deletedAt: string; audit: (policy: TrustPolicy) => AuditEvent },
  ): Promise<Deleted> {
    await this.storage.step('trustPolicies.markDeleted');
    return withEtagRetry<Deleted>('trust policy delete: the policy', async () => {
      const row = await this.getRow<TrustPolicyEntity>(customerSlug, policyRowKey(id));
      if (!row) return done({ outcome: 'not_found' });
      if (row.status !== 'active') return done({ outcome: 'already_deleted', policy: toTrustPolicy(row) });
      const counter = await this.getRow<PolicyCountEntity>(customerSlug, POLICY_COUNT_ROW);
      const label = await this.getRow<PolicyLabelEntity>(customerSlug, policyLabelRowKey(row.label));
      const actions: TransactionAction[] = [
        mergeStep(row, { status: 'deleted', deletedAt: options.deletedAt, deletedBy: actorToText(options.deletedBy) }),
        ...auditSteps(options.audit(toTrustPolicy(row))),
      ];
      if (counter) actions.push(mergeStep(counter, { activeCount: Math.max(0, counter.activeCount - 1) }));
      if (label?.policyId === id) actions.push(['delete', { partitionKey: customerSlug, rowKey: label.rowKey }]);
      return {
        write: () => this.transaction(actions),
        written: () => ({
          outcome: 'deleted',
          policy: { ...toTrustPolicy(row), status: 'deleted', deletedAt: options.deletedAt, deletedBy: options.deletedBy },
        }),
        staleOn: [412, 404],
      };
    });
  }

  async list(customerSlug: string): Promise<TrustPolicy[]> {
    return this.storage.call(async (o) => {
      const policies: TrustPolicy[] = [];
      const query = this.table.listEntities<TrustPolicyEntity>({
        queryOptions: {
          filter: odata`PartitionKey eq ${customerSlug} and RowKey ge ${POLICY_ROW_PREFIX} and RowKey lt ${POLICY_ROW_END} and status eq ${'active'}`,
        },
        abortSignal: o.abortSignal,
      });
      for await (const row of query) policies.push(toTrustPolicy(row));
      return policies;
    });
  }

  async get(customerSlug: string, id: string): Promise<TrustPolicy | undefined> {
    const row = await this.getRow<TrustPolicyEntity>(customerSlug, policyRowKey(id));
    return row ? toTrustPolicy(row) : undefined;
  }

  async touchLastUsed(entries: Array<{ customerSlug: string; trustPolicyId: string; hour: string }>): Promise<void> {
    for (const [customerSlug, policies] of groupBy(entries, (e) => e.customerSlug)) {
      for (let i = 0; i < policies.length; i += 100) {
        const actions: TransactionAction[] = policies
          .slice(i, i + 100)
          .map((p) => [
            'update',
            { partitionKey: customerSlug, rowKey: policyRowKey(p.trustPolicyId), lastUsedAt: p.hour },
            'Merge',
            { etag: '*' },
          ]);
        // Policy rows are never deleted (a deleted policy is marked so). Deferred: the usage flush writes it.
        await absentIfNotFound(this.storage.call((o) => this.table.submitTransaction(actions, deferredWork(o))));
      }
    }
  }

  /** One entity-group transaction in the customer's partition. */
  private transaction(actions: TransactionAction[]): Promise<unknown> {
    return this.storage.call((o) => this.table.submitTransaction(actions, o));
  }

  private getRow<T extends object>(pk: string, rk: string): Promise<WithEtag<T> | undefined> {
    return absentIfNotFound(this.storage.call((o) => this.table.getEntity<T>(pk, rk, o)));
  }
}
