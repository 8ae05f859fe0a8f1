import { QueueClient, QueueServiceClient, type StoragePipelineOptions } from '@azure/storage-queue';
import type { TokenCredential } from '@azure/identity';
import type { Config } from '../../config';
import type { ReceivedMessage, WorkQueue } from '../../ports/work-queue';
import { classifyAzureError, toDependencyError } from '../azure-errors';

/** What a queue operation is, for counting (the benchmark's operations per event). */
export type QueueOperationKind = 'create' | 'send' | 'receive' | 'delete' | 'update';

/** Operations made on the service's queues, by kind (shared by every queue of a process). */
export class QueueOperationCounter {
  readonly counts: Record<QueueOperationKind, number> = { create: 0, send: 0, receive: 0, delete: 0, update: 0 };
  count(kind: QueueOperationKind): void {
    this.counts[kind] += 1;
  }
  get total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }
}

/** Retries inside the call's time bound, as the Table clients do (shared/adapters/table/table-storage.ts). */
const RETRY_OPTIONS = { maxTries: 10, retryDelayInMs: 50, maxRetryDelayInMs: 1000 };
/** Azure Storage Queues' longest visibility delay. */
const MAX_DELAY_SECONDS = 7 * 86_400;
/** The most messages one receive may ask for. */
const MAX_RECEIVE = 32;

/**
 * A WorkQueue on an Azure Storage queue (Azurite's queue service locally). Bodies travel base64
 * encoded, which is what the Functions queue trigger decodes by default, so a message this adapter
 * sends is what the queue-triggered function receives. Visibility works in whole seconds (delays
 * are rounded up). Messages never expire on their own: only a delete removes one.
 */
export class StorageWorkQueue implements WorkQueue {
  readonly client: QueueClient;
  private ready: Promise<void> | undefined;

  constructor(
    config: Config['queues'],
    name: string,
    private readonly options: { credential?: TokenCredential; operations?: QueueOperationCounter } = {},
    private readonly timeoutMs = config.timeoutMs,
  ) {
    const pipeline: StoragePipelineOptions = { retryOptions: RETRY_OPTIONS };
    if (config.connectionString) {
      this.client = QueueServiceClient.fromConnectionString(config.connectionString, pipeline).getQueueClient(name);
    } else {
      if (!config.endpoint || !options.credential)
        throw new Error('StorageWorkQueue needs a connection string, or an endpoint and a credential');
      this.client = new QueueClient(`${config.endpoint.replace(/\/+$/, '')}/${name}`, options.credential, pipeline);
    }
  }

  /** Creates the queue once per process (idempotent); a failure is retried on the next call. */
  ensureQueue(): Promise<void> {
    if (!this.ready) {
      this.count('create');
      this.ready = this.client.createIfNotExists({ abortSignal: AbortSignal.timeout(this.timeoutMs) }).then(
        () => undefined,
        (error: unknown) => {
          this.ready = undefined;
          throw toDependencyError('queue storage', error);
        },
      );
    }
    return this.ready;
  }

  async send(body: string, options: { delayMs?: number } = {}): Promise<void> {
    await this.call('send', (abortSignal) =>
      this.client.sendMessage(Buffer.from(body, 'utf8').toString('base64'), {
        visibilityTimeout: seconds(options.delayMs ?? 0),
        messageTimeToLive: -1,
        abortSignal,
      }),
    );
  }

  async receive({ max, visibilityTimeoutMs }: { max: number; visibilityTimeoutMs: number }): Promise<ReceivedMessage[]> {
    const response = await this.call('receive', (abortSignal) =>
      this.client.receiveMessages({
        numberOfMessages: Math.min(Math.max(1, max), MAX_RECEIVE),
        visibilityTimeout: Math.max(1, seconds(visibilityTimeoutMs)),
        abortSignal,
      }),
    );
    return response.receivedMessageItems.map((m) => ({
      id: m.messageId,
      popReceipt: m.popReceipt,
      body: Buffer.from(m.messageText, 'base64').toString('utf8'),
      dequeueCount: m.dequeueCount,
    }));
  }

  async delete(message: Pick<ReceivedMessage, 'id' | 'popReceipt'>): Promise<void> {
    try {
      await this.call('delete', (abortSignal) => this.client.deleteMessage(message.id, message.popReceipt, { abortSignal }));
    } catch (error) {
      if (!gone(error)) throw error;
    }
  }

  async release(message: ReceivedMessage, delayMs: number): Promise<ReceivedMessage | undefined> {
    try {
      const response = await this.call('update', (abortSignal) =>
        this.client.updateMessage(message.id, message.popReceipt, undefined, seconds(delayMs), { abortSignal }),
      );
      return { ...message, popReceipt: response.popReceipt ?? message.popReceipt };
    } catch (error) {
      if (gone(error)) return undefined;
      throw error;
    }
  }

  private async call<T>(kind: QueueOperationKind, operation: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    await this.ensureQueue();
    this.count(kind);
    try {
      return await operation(AbortSignal.timeout(this.timeoutMs));
    } catch (error) {
      throw toDependencyError('queue storage', error);
    }
  }

  private count(kind: QueueOperationKind): void {
    this.options.operations?.count(kind);
  }
}

const seconds = (ms: number): number => Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil(ms / 1000)));

/**
 * The message is no longer this receiver's: deleted (404), or received again since, which gave it
 * another pop receipt (400 PopReceiptMismatch).
 */
function gone(error: unknown): boolean {
  if (classifyAzureError(error) === 'absent') return true;
  const code = (error as { code?: unknown; details?: { errorCode?: unknown } }).details?.errorCode ?? (error as { code?: unknown }).code;
  return code === 'PopReceiptMismatch';
}
