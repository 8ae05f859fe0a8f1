import { odata, type TableClient } from '@azure/data-tables';
import { WEBHOOK_EVENT_TYPES, type WebhookAttempt, type WebhookDelivery, type WebhookEventType } from '../../domain';
import { idTime } from '../../ids';
import type { Page } from '../../ports/audit-log';
import type { WebhookDeliveryRepository } from '../../ports/webhook-delivery-repository';
import { absentIfNotFound, statusOf } from '../azure-errors';
import { done, withEtagRetry } from './etag-retry';
import { CorruptRowError, INVALID_CURSOR, decodeCursor, encodeCursor, invertedTime, withoutUndefined } from './rows';
import type { TableStorage } from './table-storage';

/**
 * Deliveries in the `webhookdeliveries` table: a partition per endpoint (`{slug}~{endpoint id}`),
 * rows `d_{inverted event time}_{delivery id}` (newest event first, found from the id alone, as
 * the id carries its event's time); the dispatcher's checkpoint in the customer's partition
 * (`{slug}`, row `checkpoint`). A body longer than a string column holds is split over several.
 */
type WithEtag<T> = T & { etag: string };

/** Characters per body column: a string property holds 64 KiB, UTF-16. */
const BODY_CHUNK = 30_000;
const MAX_BODY_CHUNKS = 8;
const CHECKPOINT_ROW = 'checkpoint';

type DeliveryEntity = {
  partitionKey: string;
  rowKey: string;
  id: string;
  eventId: string;
  eventType: string;
  createdAt: string;
  status: string;
  attempts: string;
  attemptCount: number;
  nextAttemptAt?: string;
  queuedAttempt: number;
  autoRetry: boolean;
  bodyChunks: number;
} & Record<`body${number}`, string>;

type CheckpointEntity = { partitionKey: string; rowKey: string; at: string };

const partitionOf = (customerSlug: string, endpointId: string): string => `${customerSlug}~${endpointId}`;

/** The row of a delivery, from its id (the time of its event is in it). */
export function deliveryRowKey(deliveryId: string): string {
  const time = idTime(deliveryId);
  if (Number.isNaN(time)) throw new CorruptRowError(`not a delivery id: ${deliveryId.slice(0, 40)}`);
  return `d_${invertedTime(new Date(time).toISOString())}_${deliveryId}`;
}

function toEntity(d: WebhookDelivery): DeliveryEntity {
  const chunks: string[] = [];
  for (let i = 0; i < d.body.length; i += BODY_CHUNK) chunks.push(d.body.slice(i, i + BODY_CHUNK));
  if (chunks.length > MAX_BODY_CHUNKS) throw new Error(`a webhook body of ${d.body.length} characters is too long to store`);
  return withoutUndefined({
    partitionKey: partitionOf(d.customerSlug, d.endpointId),
    rowKey: deliveryRowKey(d.id),
    id: d.id,
    eventId: d.eventId,
    eventType: d.eventType,
    createdAt: d.createdAt,
    status: d.status,
    attempts: JSON.stringify(d.attempts),
    attemptCount: d.attemptCount,
    // '' once cleared: a replace writes every column anyway, but a blank reads as none.
    nextAttemptAt: d.nextAttemptAt ?? '',
    queuedAttempt: d.queuedAttempt,
    autoRetry: d.autoRetry,
    bodyChunks: chunks.length,
    ...Object.fromEntries(chunks.map((c, i) => [`body${i}`, c])),
  });
}

function toDelivery(row: DeliveryEntity): WebhookDelivery {
  const [customerSlug, endpointId] = splitPartition(row.partitionKey);
  let attempts: unknown;
  try {
    attempts = JSON.parse(row.attempts);
  } catch {
    // Reported below.
  }
  if (!Array.isArray(attempts)) throw new CorruptRowError(`the attempts of delivery ${row.id} are not a list`);
  if (!(WEBHOOK_EVENT_TYPES as readonly string[]).includes(row.eventType))
    throw new CorruptRowError(`delivery ${row.id} has an unknown event type`);
  let body = '';
  for (let i = 0; i < row.bodyChunks; i++) {
    const chunk = row[`body${i}`];
    if (typeof chunk !== 'string') throw new CorruptRowError(`delivery ${row.id} lacks part ${i} of its body`);
    body += chunk;
  }
  return withoutUndefined({
    id: row.id,
    customerSlug,
    endpointId,
    eventId: row.eventId,
    eventType: row.eventType as WebhookEventType,
    body,
    createdAt: row.createdAt,
    status: row.status as WebhookDelivery['status'],
    attempts: attempts as WebhookAttempt[],
    attemptCount: row.attemptCount,
    nextAttemptAt: row.nextAttemptAt || undefined,
    queuedAttempt: row.queuedAttempt,
    autoRetry: row.autoRetry,
  });
}

function splitPartition(partition: string): [string, string] {
  const at = partition.lastIndexOf('~');
  if (at <= 0) throw new CorruptRowError(`not a delivery partition: ${partition.slice(0, 80)}`);
  return [partition.slice(0, at), partition.slice(at + 1)];
}

export class TableWebhookDeliveryRepository implements WebhookDeliveryRepository {
  private readonly table: TableClient;

  constructor(private readonly storage: TableStorage) {
    this.table = storage.clients.webhookDeliveries;
  }

  async create(delivery: WebhookDelivery): Promise<{ created: boolean; delivery: WebhookDelivery }> {
    await this.storage.step('webhookDeliveries.create');
    try {
      await this.storage.call((o) => this.table.createEntity(toEntity(delivery), o));
      return { created: true, delivery };
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
    }
    const stored = await this.get(delivery.customerSlug, delivery.endpointId, delivery.id);
    if (!stored) throw new Error(`delivery ${delivery.id} exists and cannot be read`);
    return { created: false, delivery: stored };
  }

  async get(customerSlug: string, endpointId: string, deliveryId: string): Promise<WebhookDelivery | undefined> {
    const row = await this.getRow(customerSlug, endpointId, deliveryId);
    return row ? toDelivery(row) : undefined;
  }

  async update(
    customerSlug: string,
    endpointId: string,
    deliveryId: string,
    change: (current: WebhookDelivery) => WebhookDelivery | undefined,
  ): Promise<WebhookDelivery | undefined> {
    await this.storage.step('webhookDeliveries.update');
    return withEtagRetry<WebhookDelivery | undefined>('webhook delivery: the delivery', async () => {
      const row = await this.getRow(customerSlug, endpointId, deliveryId);
      if (!row) return done(undefined);
      const current = toDelivery(row);
      const next = change(current);
      if (!next) return done(current);
      return {
        write: () => this.storage.call((o) => this.table.updateEntity(toEntity(next), 'Replace', { ...o, etag: row.etag })),
        written: () => next,
      };
    });
  }

  async list(customerSlug: string, endpointId: string, page: { limit: number; cursor?: string }): Promise<Page<WebhookDelivery>> {
    const partition = partitionOf(customerSlug, endpointId);
    return this.storage.call(async (o) => {
      const pages = this.table
        .listEntities<DeliveryEntity>({
          queryOptions: { filter: odata`PartitionKey eq ${partition} and RowKey ge ${'d_'} and RowKey lt ${'d`'}` },
          abortSignal: o.abortSignal,
        })
        .byPage({ maxPageSize: page.limit, continuationToken: decodeCursor(page.cursor, partition) });
      const first = await pages.next().catch((error: unknown) => {
        throw page.cursor && statusOf(error) === 400 ? INVALID_CURSOR() : error;
      });
      if (first.done) return { items: [], cursor: undefined };
      return { items: first.value.map(toDelivery), cursor: encodeCursor(first.value.continuationToken, partition) };
    });
  }

  async checkpoint(customerSlug: string): Promise<string | undefined> {
    const row = await absentIfNotFound(this.storage.call((o) => this.table.getEntity<CheckpointEntity>(customerSlug, CHECKPOINT_ROW, o)));
    return row?.at;
  }

  async advanceCheckpoint(customerSlug: string, at: string): Promise<void> {
    await withEtagRetry<void>('webhook dispatch checkpoint', async () => {
      const row = await absentIfNotFound(this.storage.call((o) => this.table.getEntity<CheckpointEntity>(customerSlug, CHECKPOINT_ROW, o)));
      if (row && Date.parse(row.at) >= Date.parse(at)) return done(undefined);
      const entity: CheckpointEntity = { partitionKey: customerSlug, rowKey: CHECKPOINT_ROW, at };
      return {
        write: () =>
          this.storage.call((o) =>
            row ? this.table.updateEntity(entity, 'Replace', { ...o, etag: row.etag }) : this.table.createEntity(entity, o),
          ),
        written: () => undefined,
        staleOn: [409, 412],
      };
    });
  }

  private getRow(customerSlug: string, endpointId: string, deliveryId: string): Promise<WithEtag<DeliveryEntity> | undefined> {
    let rowKey: string;
    try {
      rowKey = deliveryRowKey(deliveryId);
    } catch {
      return Promise.resolve(undefined);
    }
    return absentIfNotFound(
      this.storage.call((o) => this.table.getEntity<DeliveryEntity>(partitionOf(customerSlug, endpointId), rowKey, o)),
    );
  }
}
