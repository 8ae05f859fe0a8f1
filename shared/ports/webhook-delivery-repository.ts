import type { WebhookDelivery } from '../domain';
import type { Page } from './audit-log';

/**
 * Webhook deliveries, by endpoint, and the dispatcher's checkpoint per customer. A delivery is
 * created once (its id comes from its event's: a second dispatch of the event finds it), then
 * changed under optimistic concurrency as its attempts are made.
 */
export interface WebhookDeliveryRepository {
  /** Stores the delivery unless its endpoint has one with its id; answers the stored one either way, and whether this call made it. */
  create(delivery: WebhookDelivery): Promise<{ created: boolean; delivery: WebhookDelivery }>;
  get(customerSlug: string, endpointId: string, deliveryId: string): Promise<WebhookDelivery | undefined>;
  /**
   * Replaces a delivery with what `change` computes from it (`undefined`: leave it), unless it
   * changed since it was read: then `change` runs again on the fresh one. Answers the delivery as
   * it then stands; `undefined` when there is none.
   */
  update(
    customerSlug: string,
    endpointId: string,
    deliveryId: string,
    change: (current: WebhookDelivery) => WebhookDelivery | undefined,
  ): Promise<WebhookDelivery | undefined>;
  /**
   * An endpoint's deliveries, newest event first, at most `limit`; the cursor of a page gives the
   * next (deliveries made meanwhile shift nothing). A cursor this repository did not give, or gave
   * for another endpoint, is refused (`validation_failed`).
   */
  list(customerSlug: string, endpointId: string, page: { limit: number; cursor?: string }): Promise<Page<WebhookDelivery>>;
  /** How far the customer's audit log has been dispatched: the time of the newest event dispatched. */
  checkpoint(customerSlug: string): Promise<string | undefined>;
  /** Moves the checkpoint to `at`, unless it is there or later already (it never moves back). */
  advanceCheckpoint(customerSlug: string, at: string): Promise<void>;
}

/** A delivery's id from its event's (`evt_…` -> `dlv_…`, the same characters). */
export const deliveryIdOf = (eventId: string): string => `dlv_${eventId.slice(eventId.indexOf('_') + 1)}`;
