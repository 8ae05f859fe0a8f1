import type { WebhookDelivery } from '../../domain';
import { ApiError } from '../../errors';
import { idTime } from '../../ids';
import type { Page } from '../../ports/audit-log';
import type { WebhookDeliveryRepository } from '../../ports/webhook-delivery-repository';

const copy = (d: WebhookDelivery): WebhookDelivery => ({ ...d, attempts: d.attempts.map((a) => ({ ...a })) });
/** Newest event first, then by id: the Table adapter's row-key order. */
const newestFirst = (a: WebhookDelivery, b: WebhookDelivery): number => idTime(b.id) - idTime(a.id) || a.id.localeCompare(b.id);

/** In-memory WebhookDeliveryRepository for unit tests. */
export class MemoryWebhookDeliveryRepository implements WebhookDeliveryRepository {
  readonly deliveries = new Map<string, WebhookDelivery>();
  private readonly checkpoints = new Map<string, string>();

  private key(customerSlug: string, endpointId: string, id: string): string {
    return `${customerSlug}/${endpointId}/${id}`;
  }

  async create(delivery: WebhookDelivery): Promise<{ created: boolean; delivery: WebhookDelivery }> {
    const key = this.key(delivery.customerSlug, delivery.endpointId, delivery.id);
    const found = this.deliveries.get(key);
    if (found) return { created: false, delivery: copy(found) };
    this.deliveries.set(key, copy(delivery));
    return { created: true, delivery: copy(delivery) };
  }

  async get(customerSlug: string, endpointId: string, deliveryId: string): Promise<WebhookDelivery | undefined> {
    const found = this.deliveries.get(this.key(customerSlug, endpointId, deliveryId));
    return found ? copy(found) : undefined;
  }

  async update(
    customerSlug: string,
    endpointId: string,
    deliveryId: string,
    change: (current: WebhookDelivery) => WebhookDelivery | undefined,
  ): Promise<WebhookDelivery | undefined> {
    const key = this.key(customerSlug, endpointId, deliveryId);
    const found = this.deliveries.get(key);
    if (!found) return undefined;
    const next = change(copy(found));
    if (next) this.deliveries.set(key, copy(next));
    return copy(next ?? found);
  }

  async list(customerSlug: string, endpointId: string, page: { limit: number; cursor?: string }): Promise<Page<WebhookDelivery>> {
    const partition = `${customerSlug}/${endpointId}`;
    let after: string | undefined;
    if (page.cursor) {
      const position = readPosition(page.cursor);
      if (!position || position.p !== partition || typeof position.id !== 'string')
        throw new ApiError('validation_failed', 'The cursor is not valid here: pass back the cursor of the previous page unchanged.');
      after = position.id;
    }
    const mine = [...this.deliveries.values()]
      .filter((d) => d.customerSlug === customerSlug && d.endpointId === endpointId)
      .sort(newestFirst);
    const start = after === undefined ? 0 : mine.findIndex((d) => newestFirst(d, { id: after } as WebhookDelivery) > 0);
    const rest = start < 0 ? [] : mine.slice(start);
    const items = rest.slice(0, page.limit).map(copy);
    const last = items.at(-1);
    return {
      items,
      cursor:
        last && rest.length > items.length ? Buffer.from(JSON.stringify({ p: partition, id: last.id })).toString('base64url') : undefined,
    };
  }

  async checkpoint(customerSlug: string): Promise<string | undefined> {
    return this.checkpoints.get(customerSlug);
  }

  async advanceCheckpoint(customerSlug: string, at: string): Promise<void> {
    const current = this.checkpoints.get(customerSlug);
    if (current === undefined || Date.parse(current) < Date.parse(at)) this.checkpoints.set(customerSlug, at);
  }
}

function readPosition(cursor: string): { p?: unknown; id?: unknown } | null {
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { p?: unknown; id?: unknown } | null;
  } catch {
    return null;
  }
}
