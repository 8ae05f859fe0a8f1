/** A message as a receiver holds it: the body, and what deleting or releasing it takes. */
export interface ReceivedMessage {
  /** The queue's id of the message (the same on every receive). */
  id: string;
  /** This receive's claim on the message: deleting or releasing it needs the latest one. */
  popReceipt: string;
  body: string;
  /** How many times the message has been received, this time included. */
  dequeueCount: number;
}

/**
 * A durable work queue (Azure Storage Queues; Azurite's queue service locally and in tests): a
 * message sent is kept until a receiver deletes it. A receive hides the messages it hands out for
 * a visibility timeout; a receiver that dies without deleting one (a crash) lets it reappear then,
 * so work is done at least once, never lost. Messages come in roughly the order they became visible.
 */
export interface WorkQueue {
  /** Adds a message, visible to receivers after `delayMs` (0: at once). */
  send(body: string, options?: { delayMs?: number }): Promise<void>;
  /** Up to `max` visible messages, each hidden from other receives for `visibilityTimeoutMs`. */
  receive(options: { max: number; visibilityTimeoutMs: number }): Promise<ReceivedMessage[]>;
  /** Deletes a received message. A message already deleted, or received again by someone since, is left as it is. */
  delete(message: Pick<ReceivedMessage, 'id' | 'popReceipt'>): Promise<void>;
  /**
   * Hides a received message for `delayMs` from now (0: visible at once): a receiver that gives
   * a message back, or needs longer. Returns the message with its new pop receipt; `undefined`
   * when the message is gone or no longer this receiver's.
   */
  release(message: ReceivedMessage, delayMs: number): Promise<ReceivedMessage | undefined>;
}
