import {
  WEBHOOK_EVENT_TYPES,
  type WebhookDisabledReason,
  type WebhookEndpoint,
  type WebhookEventSelection,
  type WebhookSecret,
} from '../../domain';
import { CorruptRowError, actorFromText, actorToText, withoutUndefined } from './rows';

/**
 * The rows of webhook endpoints (the repository is table-webhook-endpoint-repository.ts), and how
 * each maps to and from the domain. In the customer's partition of the `customers` table, so that
 * a change and its audit event are one entity-group transaction:
 *
 * - `webhookendpoint_{endpoint id}`   the endpoint (WebhookEndpointEntity), deleted ones too
 * - `webhookendpoints`                how many endpoints not deleted the customer has (what the cap is held to)
 *
 * and, in the one partition of the `webhookcustomers` table, a row per customer that has endpoints
 * (row key: its slug), the index the delivery sweeper reads.
 */

export const ENDPOINT_ROW_PREFIX = 'webhookendpoint_';
/** The first character after `webhookendpoint_` in ASCII order: the exclusive upper bound of an endpoint-row range query. */
export const ENDPOINT_ROW_END = 'webhookendpoint`';
/** The customer's count of endpoints not deleted. */
export const ENDPOINT_COUNT_ROW = 'webhookendpoints';
/** The partition of the `webhookcustomers` table. */
export const WEBHOOK_CUSTOMERS_PARTITION = 'customers';

export const endpointRowKey = (id: string): string => `${ENDPOINT_ROW_PREFIX}${id}`;

export type WebhookEndpointEntity = {
  partitionKey: string;
  rowKey: string;
  id: string;
  url: string;
  /** A JSON array: event types, or `["*"]`. */
  events: string;
  description?: string;
  status: string;
  /** A JSON array of {@link WebhookSecret} (encrypted secrets only). */
  secrets: string;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  disabledAt?: string;
  disabledReason?: string;
  failingSince?: string;
  lastSuccessAt?: string;
  deletedAt?: string;
  deletedBy?: string;
};

export type EndpointCountEntity = { partitionKey: string; rowKey: string; liveCount: number };

export function endpointEntity(endpoint: WebhookEndpoint): WebhookEndpointEntity {
  return withoutUndefined({
    partitionKey: endpoint.customerSlug,
    rowKey: endpointRowKey(endpoint.id),
    id: endpoint.id,
    url: endpoint.url,
    events: JSON.stringify(endpoint.events),
    description: endpoint.description,
    status: endpoint.status,
    secrets: JSON.stringify(
      endpoint.secrets.map((s) => withoutUndefined({ encrypted: s.encrypted, createdAt: s.createdAt, expiresAt: s.expiresAt })),
    ),
    createdAt: endpoint.createdAt,
    createdBy: actorToText(endpoint.createdBy),
    updatedAt: endpoint.updatedAt,
    disabledAt: endpoint.disabledAt,
    disabledReason: endpoint.disabledReason,
    failingSince: endpoint.failingSince,
    lastSuccessAt: endpoint.lastSuccessAt,
    deletedAt: endpoint.deletedAt,
    deletedBy: endpoint.deletedBy ? actorToText(endpoint.deletedBy) : undefined,
  });
}

function parsed(row: WebhookEndpointEntity, column: 'events' | 'secrets'): unknown {
  try {
    return JSON.parse(row[column]);
  } catch {
    throw new CorruptRowError(`the ${column} of webhook endpoint ${row.id} are not JSON`);
  }
}

function eventsOf(row: WebhookEndpointEntity): WebhookEventSelection {
  const events = parsed(row, 'events');
  const known = (v: unknown) => v === '*' || (WEBHOOK_EVENT_TYPES as readonly unknown[]).includes(v);
  // An event type this code does not know (a row written by a newer version) is a fault, not a guess.
  if (!Array.isArray(events) || events.length === 0 || !events.every(known))
    throw new CorruptRowError(`the events of webhook endpoint ${row.id} are not a list of event types`);
  return events as WebhookEventSelection;
}

function secretsOf(row: WebhookEndpointEntity): WebhookSecret[] {
  const secrets = parsed(row, 'secrets');
  const isSecret = (s: unknown): s is WebhookSecret =>
    !!s &&
    typeof s === 'object' &&
    typeof (s as WebhookSecret).encrypted === 'string' &&
    typeof (s as WebhookSecret).createdAt === 'string' &&
    ['string', 'undefined'].includes(typeof (s as WebhookSecret).expiresAt);
  if (!Array.isArray(secrets) || secrets.length === 0 || !secrets.every(isSecret))
    throw new CorruptRowError(`the secrets of webhook endpoint ${row.id} are not a list of secrets`);
  return secrets.map((s) => withoutUndefined({ encrypted: s.encrypted, createdAt: s.createdAt, expiresAt: s.expiresAt }));
}

const STATUSES = ['active', 'disabled', 'deleted'] as const;
const DISABLED_REASONS: readonly string[] = ['failing', 'customer'] satisfies WebhookDisabledReason[];

export function toWebhookEndpoint(row: WebhookEndpointEntity): WebhookEndpoint {
  const status = STATUSES.find((s) => s === row.status);
  if (!status) throw new CorruptRowError(`webhook endpoint ${row.id} has no status`);
  if (row.disabledReason && !DISABLED_REASONS.includes(row.disabledReason))
    throw new CorruptRowError(`webhook endpoint ${row.id} has an unknown disabledReason`);
  return withoutUndefined({
    id: row.id,
    customerSlug: row.partitionKey,
    url: row.url,
    events: eventsOf(row),
    description: row.description || undefined,
    status,
    secrets: secretsOf(row),
    createdAt: row.createdAt,
    createdBy: actorFromText(row.createdBy),
    updatedAt: row.updatedAt,
    disabledAt: row.disabledAt || undefined,
    disabledReason: (row.disabledReason || undefined) as WebhookDisabledReason | undefined,
    failingSince: row.failingSince || undefined,
    lastSuccessAt: row.lastSuccessAt || undefined,
    deletedAt: row.deletedAt || undefined,
    deletedBy: row.deletedBy ? actorFromText(row.deletedBy) : undefined,
  });
}
