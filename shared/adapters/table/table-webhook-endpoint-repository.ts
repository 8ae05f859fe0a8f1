import { odata, type TransactionAction } from '@azure/data-tables';
import type { Actor, AuditEvent, Customer, WebhookDisabledReason, WebhookEndpoint } from '../../domain';
import {
  applyOutcome,
  type WebhookDeliveryOutcome,
  type WebhookEndpointDeleteOutcome,
  type WebhookEndpointDisableOutcome,
  type WebhookEndpointInsertOutcome,
  type WebhookEndpointRepository,
  type WebhookEndpointUpdateOutcome,
} from '../../ports/webhook-endpoint-repository';
import { absentIfNotFound, statusOf } from '../azure-errors';
import { done, withEtagRetry } from './etag-retry';
import { actorToText, auditSteps, mergeStep } from './rows';
import { PROFILE_ROW, toCustomer, type CustomerEntity } from './table-customer-repository';
import type { TableStorage } from './table-storage';
import {
  ENDPOINT_COUNT_ROW,
  ENDPOINT_ROW_END,
  ENDPOINT_ROW_PREFIX,
  WEBHOOK_CUSTOMERS_PARTITION,
  endpointEntity,
  endpointRowKey,
  toWebhookEndpoint,
  type EndpointCountEntity,
  type WebhookEndpointEntity,
} from './webhook-endpoint-rows';

type WithEtag<T> = T & { etag: string };
type Updated = { outcome: WebhookEndpointUpdateOutcome; endpoint?: WebhookEndpoint };
type Deleted = { outcome: WebhookEndpointDeleteOutcome; endpoint?: WebhookEndpoint };
type Disabled = { outcome: WebhookEndpointDisableOutcome; endpoint?: WebhookEndpoint };

/**
 * Webhook endpoints in their customer's partition of the customers table (rows:
 * webhook-endpoint-rows.ts). Each change is one entity-group transaction of the endpoint row, the
 * customer's count of endpoints and the audit event, under the ETags just read.
 *
 * The `webhookcustomers` index cannot join that transaction (another table), so it is kept so that
 * it never misses a customer with endpoints: an insert lists the customer before its transaction
 * and again after it; the delete of the last endpoint reads the index row, then the count, and
 * removes the row only if the count is still zero and the row unchanged since read (its ETag). An
 * insert racing that delete either committed before the count was read (the row stays) or lists
 * the customer again after its commit (changing the ETag the removal is conditional on, or
 * re-creating the row after it).
 */
export class TableWebhookEndpointRepository implements WebhookEndpointRepository {
  constructor(private readonly storage: TableStorage) {}

  private get table() {
    return this.storage.clients.customers;
  }

  private get index() {
    return this.storage.clients.webhookCustomers;
  }

  async insert(
    endpoint: WebhookEndpoint,
    options: { limit: (customer: Customer) => number; audit: AuditEvent },
  ): Promise<WebhookEndpointInsertOutcome> {
    await this.storage.step('webhookEndpoints.insert');
    const pk = endpoint.customerSlug;
    return withEtagRetry<WebhookEndpointInsertOutcome>('webhook endpoint insert: the endpoint count', async () => {
      const customer = await this.getRow<CustomerEntity>(pk, PROFILE_ROW);
      if (!customer) return done('customer_missing');
      const counter = await this.getRow<EndpointCountEntity>(pk, ENDPOINT_COUNT_ROW);
      const live = counter?.liveCount ?? 0;
      if (live >= options.limit(toCustomer(customer))) return done('limit_reached');
      return {
        write: async () => {
          await this.listCustomer(pk);
          await this.storage.step('webhookEndpoints.insert.transaction');
          await this.transaction([
            // The first endpoint creates the count row: another writer creating it first conflicts (409), and we read again.
            counter
              ? mergeStep(counter, { liveCount: live + 1 })
              : ['create', { partitionKey: pk, rowKey: ENDPOINT_COUNT_ROW, liveCount: 1 }],
            ['create', endpointEntity(endpoint)],
            ...auditSteps(options.audit),
          ]);
        },
        written: async (): Promise<WebhookEndpointInsertOutcome> => {
          await this.listCustomer(pk);
          return 'inserted';
        },
        staleOn: counter ? [412] : [409],
      };
    });
  }

  async update(
    customerSlug: string,
    id: string,
    change: (current: WebhookEndpoint) => WebhookEndpoint | undefined,
    audit: (before: WebhookEndpoint, after: WebhookEndpoint) => AuditEvent,
  ): Promise<Updated> {
    await this.storage.step('webhookEndpoints.update');
    return withEtagRetry<Updated>('webhook endpoint update: the endpoint', async () => {
      const row = await this.getRow<WebhookEndpointEntity>(customerSlug, endpointRowKey(id));
      if (!row || row.status === 'deleted') return done({ outcome: 'not_found' });
      const before = toWebhookEndpoint(row);
      const changed = change(before);
      if (!changed) return done({ outcome: 'unchanged', endpoint: before });
      const entity = endpointEntity(changed);
      const after = toWebhookEndpoint(entity);
      return {
        write: () => this.transaction([['update', entity, 'Replace', { etag: row.etag }], ...auditSteps(audit(before, after))]),
        written: () => ({ outcome: 'updated', endpoint: after }),
        staleOn: [412, 404],
      };
    });
  }

  async markDeleted(
    customerSlug: string,
    id: string,
    options: { deletedBy: Actor; deletedAt: string; audit: (endpoint: WebhookEndpoint) => AuditEvent },
  ): Promise<Deleted> {
    await this.storage.step('webhookEndpoints.markDeleted');
    const deleted = await withEtagRetry<Deleted & { last?: boolean }>('webhook endpoint delete: the endpoint', async () => {
      const row = await this.getRow<WebhookEndpointEntity>(customerSlug, endpointRowKey(id));
      if (!row) return done({ outcome: 'not_found' });
      if (row.status === 'deleted') return done({ outcome: 'already_deleted', endpoint: toWebhookEndpoint(row) });
      const counter = await this.getRow<EndpointCountEntity>(customerSlug, ENDPOINT_COUNT_ROW);
      const left = Math.max(0, (counter?.liveCount ?? 1) - 1);
      const actions: TransactionAction[] = [
        mergeStep(row, { status: 'deleted', deletedAt: options.deletedAt, deletedBy: actorToText(options.deletedBy) }),
        ...auditSteps(options.audit(toWebhookEndpoint(row))),
      ];
      if (counter) actions.push(mergeStep(counter, { liveCount: left }));
      return {
        write: () => this.transaction(actions),
        written: () => ({
          outcome: 'deleted',
          endpoint: { ...toWebhookEndpoint(row), status: 'deleted', deletedAt: options.deletedAt, deletedBy: options.deletedBy },
          last: left === 0,
        }),
        staleOn: [412, 404],
      };
    });
    const { last, ...answer } = deleted;
    if (last) await this.forgetCustomerIfEmpty(customerSlug);
    return answer;
  }

  async list(customerSlug: string): Promise<WebhookEndpoint[]> {
    return this.storage.call(async (o) => {
      const endpoints: WebhookEndpoint[] = [];
      const query = this.table.listEntities<WebhookEndpointEntity>({
        queryOptions: {
          filter: odata`PartitionKey eq ${customerSlug} and RowKey ge ${ENDPOINT_ROW_PREFIX} and RowKey lt ${ENDPOINT_ROW_END} and status ne ${'deleted'}`,
        },
        abortSignal: o.abortSignal,
      });
      for await (const row of query) endpoints.push(toWebhookEndpoint(row));
      return endpoints;
    });
  }

  async get(customerSlug: string, id: string): Promise<WebhookEndpoint | undefined> {
    const row = await this.getRow<WebhookEndpointEntity>(customerSlug, endpointRowKey(id));
    return row ? toWebhookEndpoint(row) : undefined;
  }

  async listCustomersWithEndpoints(): Promise<string[]> {
    return this.storage.call(async (o) => {
      const slugs: string[] = [];
      const query = this.index.listEntities<{ rowKey: string }>({
        queryOptions: { filter: odata`PartitionKey eq ${WEBHOOK_CUSTOMERS_PARTITION}`, select: ['RowKey'] },
        abortSignal: o.abortSignal,
      });
      for await (const row of query) slugs.push(row.rowKey);
      return slugs;
    });
  }

  async recordOutcome(customerSlug: string, id: string, outcome: WebhookDeliveryOutcome): Promise<WebhookEndpoint | undefined> {
    return withEtagRetry<WebhookEndpoint | undefined>('webhook endpoint delivery outcome: the endpoint', async () => {
      const row = await this.getRow<WebhookEndpointEntity>(customerSlug, endpointRowKey(id));
      if (!row || row.status === 'deleted') return done(undefined);
      const current = toWebhookEndpoint(row);
      const fields = applyOutcome(current, outcome);
      if (!fields) return done(current);
      // Replace, not merge: a field cleared (failingSince on a success) must leave the row.
      const entity = endpointEntity({ ...current, ...fields });
      return {
        write: () => this.storage.call((o) => this.table.updateEntity(entity, 'Replace', { ...o, etag: row.etag })),
        written: () => toWebhookEndpoint(entity),
        staleOn: [412, 404],
      };
    });
  }

  async disable(
    customerSlug: string,
    id: string,
    options: {
      at: string;
      reason: WebhookDisabledReason;
      audit: (endpoint: WebhookEndpoint) => AuditEvent;
      when?: (current: WebhookEndpoint) => boolean;
    },
  ): Promise<Disabled> {
    await this.storage.step('webhookEndpoints.disable');
    return withEtagRetry<Disabled>('webhook endpoint disable: the endpoint', async () => {
      const row = await this.getRow<WebhookEndpointEntity>(customerSlug, endpointRowKey(id));
      if (!row || row.status === 'deleted') return done({ outcome: 'not_found' });
      const current = toWebhookEndpoint(row);
      if (current.status !== 'active' || (options.when && !options.when(current))) return done({ outcome: 'unchanged', endpoint: current });
      const columns = { status: 'disabled', disabledAt: options.at, disabledReason: options.reason, updatedAt: options.at };
      return {
        write: () => this.transaction([mergeStep(row, columns), ...auditSteps(options.audit(current))]),
        written: () => ({ outcome: 'disabled', endpoint: toWebhookEndpoint({ ...row, ...columns }) }),
        staleOn: [412, 404],
      };
    });
  }

  /** Lists the customer in the index (an upsert: a new ETag each time, which a concurrent removal is conditional on). */
  private async listCustomer(customerSlug: string): Promise<void> {
    await this.storage.call((o) =>
      this.index.upsertEntity({ partitionKey: WEBHOOK_CUSTOMERS_PARTITION, rowKey: customerSlug }, 'Replace', o),
    );
  }

  /** Removes the customer from the index if it has no endpoint left (see the class comment for the order). */
  private async forgetCustomerIfEmpty(customerSlug: string): Promise<void> {
    await this.storage.step('webhookEndpoints.forgetCustomer');
    const listed = await absentIfNotFound(this.storage.call((o) => this.index.getEntity(WEBHOOK_CUSTOMERS_PARTITION, customerSlug, o)));
    if (!listed) return;
    const counter = await this.getRow<EndpointCountEntity>(customerSlug, ENDPOINT_COUNT_ROW);
    if ((counter?.liveCount ?? 0) > 0) return;
    try {
      await this.storage.call((o) => this.index.deleteEntity(WEBHOOK_CUSTOMERS_PARTITION, customerSlug, { ...o, etag: listed.etag }));
    } catch (error) {
      // Listed again meanwhile (412) or removed by another delete (404): either way the index is right.
      if (![404, 412].includes(statusOf(error) ?? 0)) throw error;
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
