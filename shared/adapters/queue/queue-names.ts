/** The queues the service owns (before the configured prefix). */
export const QUEUE_NAMES = {
  /** One message per webhook delivery attempt due (shared/services/webhook-delivery.ts). */
  webhookDeliveries: 'webhook-deliveries',
} as const;

export type QueueName = keyof typeof QUEUE_NAMES;

/**
 * A queue's name in the account: the tables' prefix (TABLES_PREFIX, letters and digits), lower
 * case as queue names must be, then the name. The queue-triggered function listens on the same.
 */
export function queueName(prefix: string, name: QueueName): string {
  return `${prefix.toLowerCase()}${QUEUE_NAMES[name]}`;
}
