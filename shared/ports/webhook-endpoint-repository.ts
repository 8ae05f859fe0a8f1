import type { Actor, AuditEvent, Customer, WebhookDisabledReason, WebhookEndpoint } from '../domain';

export type WebhookEndpointInsertOutcome = 'inserted' | 'limit_reached' | 'customer_missing';
export type WebhookEndpointUpdateOutcome = 'updated' | 'unchanged' | 'not_found';
export type WebhookEndpointDeleteOutcome = 'deleted' | 'already_deleted' | 'not_found';
export type WebhookEndpointDisableOutcome = 'disabled' | 'unchanged' | 'not_found';

/** What one delivery attempt to an endpoint came to, and when it was made. */
export interface WebhookDeliveryOutcome {
  success: boolean;
  at: string;
}

/**
 * A customer's webhook endpoints, stored under the customer. Every change made by the customer or
 * the service is one transaction with its audit event; the cap holds under any concurrency and
 * counts every endpoint not deleted (a disabled one keeps its place, so re-enabling it never fails
 * on the cap). A deleted endpoint is kept, marked deleted: it holds no place under the cap, is not
 * listed, and a second delete finds it. The repository also keeps an index of the customers that
 * have endpoints, for the delivery sweeper, which must not read every customer.
 */
export interface WebhookEndpointRepository {
  /**
   * In one transaction: takes a place under the customer's cap (`limit` of the customer's current
   * row: `limit_reached` when its endpoints not deleted fill it), writes the endpoint and the audit
   * event, and lists the customer in {@link listCustomersWithEndpoints}. Nothing is written on any
   * other outcome (the index may list the customer regardless: its readers tolerate that).
   */
  insert(
    endpoint: WebhookEndpoint,
    options: { limit: (customer: Customer) => number; audit: AuditEvent },
  ): Promise<WebhookEndpointInsertOutcome>;
  /**
   * Replaces an endpoint that is not deleted (active or disabled) with what `change` computes from
   * it (`undefined`: leave it, answered `unchanged`), with the audit event `audit` builds, in one
   * transaction. `not_found` for an endpoint the customer does not have, or has deleted. `change`
   * may run more than once (on a concurrent write, again on the fresh endpoint); it must keep
   * `id`, `customerSlug` and a status other than `deleted`.
   */
  update(
    customerSlug: string,
    id: string,
    change: (current: WebhookEndpoint) => WebhookEndpoint | undefined,
    audit: (before: WebhookEndpoint, after: WebhookEndpoint) => AuditEvent,
  ): Promise<{ outcome: WebhookEndpointUpdateOutcome; endpoint?: WebhookEndpoint }>;
  /**
   * In one transaction: marks an endpoint deleted (who, when), releases its place under the cap,
   * and writes the audit event `audit` builds from the endpoint as it stood. A deleted endpoint
   * answers `already_deleted` with its record as the first deletion left it (nothing is written).
   * Once the customer has no endpoint left, it leaves {@link listCustomersWithEndpoints}.
   */
  markDeleted(
    customerSlug: string,
    id: string,
    options: { deletedBy: Actor; deletedAt: string; audit: (endpoint: WebhookEndpoint) => AuditEvent },
  ): Promise<{ outcome: WebhookEndpointDeleteOutcome; endpoint?: WebhookEndpoint }>;
  /**
   * The customer's endpoints that are not deleted (active and disabled: `status` says), oldest
   * first, in one single-partition query. What the API lists, and what dispatch filters to the
   * active ones subscribed to an event.
   */
  list(customerSlug: string): Promise<WebhookEndpoint[]>;
  /** One endpoint of the customer, deleted ones included (`status` says). */
  get(customerSlug: string, id: string): Promise<WebhookEndpoint | undefined>;
  /**
   * The slugs of the customers that have at least one endpoint not deleted, read from an index
   * (never a scan of every customer), in no promised order. It may also name a customer whose
   * last endpoint was deleted a moment ago; it never misses one that has an endpoint.
   */
  listCustomersWithEndpoints(): Promise<string[]>;
  /**
   * Records a delivery attempt's outcome on the endpoint (disabled ones too; not an audited
   * change, `updatedAt` is kept): a success sets `lastSuccessAt` and clears `failingSince`; a
   * failure sets `failingSince` unless an earlier failure set it. Outcomes may arrive out of order:
   * one is ignored where it would undo a later one (a failure before the last success does not
   * start failing; a success before `failingSince` does not clear it). Answers
   * the endpoint as it then stands, `undefined` for one the customer does not have or has deleted.
   */
  recordOutcome(customerSlug: string, id: string, outcome: WebhookDeliveryOutcome): Promise<WebhookEndpoint | undefined>;
  /**
   * Disables an active endpoint (`disabledAt`, `disabledReason`, `updatedAt`), with the audit event `audit`
   * builds from the endpoint as it stood, in one transaction; `when`, if given, is asked on the
   * endpoint as it stands at the write (e.g. "still failing for 3 days") and `false` leaves it.
   * `unchanged` for an endpoint already disabled or that `when` spares, `not_found` for one the
   * customer does not have or has deleted.
   */
  disable(
    customerSlug: string,
    id: string,
    options: {
      at: string;
      reason: WebhookDisabledReason;
      audit: (endpoint: WebhookEndpoint) => AuditEvent;
      when?: (current: WebhookEndpoint) => boolean;
    },
  ): Promise<{ outcome: WebhookEndpointDisableOutcome; endpoint?: WebhookEndpoint }>;
}

/**
 * The delivery outcome rules of {@link WebhookEndpointRepository.recordOutcome}, shared by its
 * adapters: the endpoint's `failingSince` / `lastSuccessAt` after `outcome`, `undefined` when
 * nothing changes.
 */
export function applyOutcome(
  endpoint: Pick<WebhookEndpoint, 'failingSince' | 'lastSuccessAt'>,
  outcome: WebhookDeliveryOutcome,
): { failingSince?: string; lastSuccessAt?: string } | undefined {
  const at = Date.parse(outcome.at);
  const time = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso));
  const failing = time(endpoint.failingSince);
  const success = time(endpoint.lastSuccessAt);
  if (outcome.success) {
    const lastSuccessAt = success !== undefined && success >= at ? endpoint.lastSuccessAt : outcome.at;
    const failingSince = failing !== undefined && failing > at ? endpoint.failingSince : undefined;
    if (lastSuccessAt === endpoint.lastSuccessAt && failingSince === endpoint.failingSince) return undefined;
    return { failingSince, lastSuccessAt };
  }
  if ((failing !== undefined && failing <= at) || (success !== undefined && success >= at)) return undefined;
  return { failingSince: outcome.at, lastSuccessAt: endpoint.lastSuccessAt };
}
