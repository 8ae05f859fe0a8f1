/**
 * What a queue message of `webhook-deliveries` says: which delivery (customer, endpoint,
 * delivery) and which attempt it asks for (the delivery's attempt count when it was sent). A
 * message for an attempt already made is stale and does nothing, so a message delivered twice,
 * or sent twice around a crash, makes one attempt.
 */
export interface DeliveryMessage {
  /** Customer slug. */
  c: string;
  /** Endpoint id. */
  e: string;
  /** Delivery id. */
  d: string;
  /** Attempt number (0 for the first). */
  a: number;
}

export const encodeDeliveryMessage = (m: DeliveryMessage): string => JSON.stringify({ c: m.c, e: m.e, d: m.d, a: m.a });

/**
 * A message as a receiver has it: text (the local host's poller) or the object the Functions
 * queue trigger made of its JSON. `undefined` for anything that is not one of ours.
 */
export function parseDeliveryMessage(raw: unknown): DeliveryMessage | undefined {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw) as unknown;
    } catch {
      return undefined;
    }
  }
  if (!value || typeof value !== 'object') return undefined;
  const { c, e, d, a } = value as Record<string, unknown>;
  if (typeof c !== 'string' || typeof e !== 'string' || typeof d !== 'string' || typeof a !== 'number' || !Number.isInteger(a) || a < 0)
    return undefined;
  return { c, e, d, a };
}
