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
import type { MemoryAuditLog } from './memory-audit-log';
import type { MemoryCustomerRepository } from './memory-customer-repository';

const copy = (endpoint: WebhookEndpoint): WebhookEndpoint => structuredClone(endpoint);

/** Drops the optional fields set to `undefined`, as a stored record has none. */
function tidy(endpoint: WebhookEndpoint): WebhookEndpoint {
  const out = copy(endpoint);
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete (out as unknown as Record<string, unknown>)[k];
  return out;
}

/**
 * In-memory WebhookEndpointRepository for unit tests, with the Table adapter's rules: the cap
 * counts a customer's endpoints not deleted, a deleted endpoint is kept but not listed. Audit
 * events go to the audit log given (as on Table Storage, where they share the customer's
 * partition), or to {@link audit}.
 */
export class MemoryWebhookEndpointRepository implements WebhookEndpointRepository {
  /** By `{slug}/{id}`, in insertion order. */
  readonly endpoints = new Map<string, WebhookEndpoint>();
  readonly audit: AuditEvent[] = [];

  constructor(
    private readonly customers: MemoryCustomerRepository,
    private readonly auditLog?: MemoryAuditLog,
  ) {}

  private record(event: AuditEvent): void {
    if (this.auditLog) this.auditLog.events.push(event);
    else this.audit.push(event);
  }

  private live(customerSlug: string): WebhookEndpoint[] {
    return [...this.endpoints.values()].filter((e) => e.customerSlug === customerSlug && e.status !== 'deleted');
  }

  private found(customerSlug: string, id: string): WebhookEndpoint | undefined {
    const found = this.endpoints.get(`${customerSlug}/${id}`);
    return found && found.status !== 'deleted' ? found : undefined;
  }

  async insert(
    endpoint: WebhookEndpoint,
    options: { limit: (customer: Customer) => number; audit: AuditEvent },
  ): Promise<WebhookEndpointInsertOutcome> {
    const customer = await this.customers.get(endpoint.customerSlug);
    if (!customer) return 'customer_missing';
    if (this.live(endpoint.customerSlug).length >= options.limit(customer)) return 'limit_reached';
    this.endpoints.set(`${endpoint.customerSlug}/${endpoint.id}`, tidy(endpoint));
    this.record(options.audit);
    return 'inserted';
  }

  async update(
    customerSlug: string,
    id: string,
    change: (current: WebhookEndpoint) => WebhookEndpoint | undefined,
    audit: (before: WebhookEndpoint, after: WebhookEndpoint) => AuditEvent,
  ): Promise<{ outcome: WebhookEndpointUpdateOutcome; endpoint?: WebhookEndpoint }> {
    const found = this.found(customerSlug, id);
    if (!found) return { outcome: 'not_found' };
    const before = copy(found);
    const changed = change(copy(found));
    if (!changed) return { outcome: 'unchanged', endpoint: before };
    const after = tidy(changed);
    this.endpoints.set(`${customerSlug}/${id}`, copy(after));
    this.record(audit(before, copy(after)));
    return { outcome: 'updated', endpoint: copy(after) };
  }

  async markDeleted(
    customerSlug: string,
    id: string,
    options: { deletedBy: Actor; deletedAt: string; audit: (endpoint: WebhookEndpoint) => AuditEvent },
  ): Promise<{ outcome: WebhookEndpointDeleteOutcome; endpoint?: WebhookEndpoint }> {
    const found = this.endpoints.get(`${customerSlug}/${id}`);
    if (!found) return { outcome: 'not_found' };
    if (found.status === 'deleted') return { outcome: 'already_deleted', endpoint: copy(found) };
    const event = options.audit(copy(found));
    Object.assign(found, { status: 'deleted', deletedAt: options.deletedAt, deletedBy: options.deletedBy });
    this.record(event);
    return { outcome: 'deleted', endpoint: copy(found) };
  }

  async list(customerSlug: string): Promise<WebhookEndpoint[]> {
    return (
      this.live(customerSlug)
        // Ids sort by creation time as text (ASCII order, as the Table adapter's row keys do).
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map(copy)
    );
  }

  async get(customerSlug: string, id: string): Promise<WebhookEndpoint | undefined> {
    const found = this.endpoints.get(`${customerSlug}/${id}`);
    return found ? copy(found) : undefined;
  }

  async listCustomersWithEndpoints(): Promise<string[]> {
    return [...new Set([...this.endpoints.values()].filter((e) => e.status !== 'deleted').map((e) => e.customerSlug))];
  }

  async recordOutcome(customerSlug: string, id: string, outcome: WebhookDeliveryOutcome): Promise<WebhookEndpoint | undefined> {
    const found = this.found(customerSlug, id);
    if (!found) return undefined;
    const fields = applyOutcome(found, outcome);
    if (fields) this.endpoints.set(`${customerSlug}/${id}`, tidy({ ...found, ...fields }));
    return copy(this.endpoints.get(`${customerSlug}/${id}`)!);
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
  ): Promise<{ outcome: WebhookEndpointDisableOutcome; endpoint?: WebhookEndpoint }> {
    const found = this.found(customerSlug, id);
    if (!found) return { outcome: 'not_found' };
    if (found.status !== 'active' || (options.when && !options.when(copy(found)))) return { outcome: 'unchanged', endpoint: copy(found) };
    const event = options.audit(copy(found));
    Object.assign(found, { status: 'disabled', disabledAt: options.at, disabledReason: options.reason, updatedAt: options.at });
    this.record(event);
    return { outcome: 'disabled', endpoint: copy(found) };
  }
}
