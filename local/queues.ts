import type { QueueFunctionDefinition } from '../app/function-contract';
import type { ReceivedMessage, WorkQueue } from '../shared/ports/work-queue';

/**
 * Receives the service's queues for the local host, the way the Functions host's queue trigger
 * does in Azure: messages are received with a visibility timeout, each is handed to its function,
 * and deleted once the function returns; a function that throws leaves its message to come back
 * when the timeout passes. A message received too often (a poison message) is set aside as the
 * trigger does (logged, then deleted) instead of being tried for ever.
 *
 * Up to `concurrency` messages are worked on at once, so one slow endpoint holds one slot, not the
 * poller; an idle queue is polled with a backoff from {@link QueuePollerOptions.minIdleMs} to
 * {@link QueuePollerOptions.maxIdleMs} (what bounds a delivery's wait in a warm queue).
 */
export interface QueuePollerOptions {
  /** Messages worked on at once, per queue. */
  concurrency: number;
  /** How long a received message stays hidden: longer than a function may take. */
  visibilityTimeoutMs: number;
  minIdleMs: number;
  maxIdleMs: number;
  /** Receives after which a message is set aside (the trigger's maxDequeueCount). */
  maxDequeueCount: number;
}

export const DEFAULT_POLLER_OPTIONS: QueuePollerOptions = {
  concurrency: 32,
  visibilityTimeoutMs: 60_000,
  minIdleMs: 50,
  maxIdleMs: 500,
  maxDequeueCount: 5,
};

export type QueueInvoker = (definition: QueueFunctionDefinition, message: ReceivedMessage) => Promise<void>;

export class QueuePoller {
  private stopped = true;
  private readonly loops: Promise<void>[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  /** What ends each pause under way (stop ends them at once). */
  private readonly wakers = new Set<() => void>();

  constructor(
    private readonly definitions: readonly QueueFunctionDefinition[],
    private readonly queueOf: (definition: QueueFunctionDefinition) => WorkQueue | Promise<WorkQueue>,
    private readonly invoke: QueueInvoker,
    private readonly log: (message: string) => void,
    private readonly options: QueuePollerOptions = DEFAULT_POLLER_OPTIONS,
  ) {}

  start(): void {
    this.stopped = false;
    for (const definition of this.definitions) this.loops.push(this.loop(definition));
  }

  /** Stops receiving and waits for the messages being worked on. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const wake of this.wakers) wake();
    await Promise.allSettled(this.loops);
    await Promise.allSettled([...this.inFlight]);
  }

  private async loop(definition: QueueFunctionDefinition): Promise<void> {
    const queue = await this.queueOf(definition);
    const { concurrency, visibilityTimeoutMs, minIdleMs, maxIdleMs } = this.options;
    const mine = new Set<Promise<void>>();
    let idle = minIdleMs;
    while (!this.stopped) {
      if (mine.size >= concurrency) {
        await Promise.race(mine);
        continue;
      }
      let messages: ReceivedMessage[];
      try {
        messages = await queue.receive({ max: Math.min(32, concurrency - mine.size), visibilityTimeoutMs });
      } catch (error) {
        this.log(`${definition.name}: receiving failed (${(error as Error).message}); trying again`);
        await this.pause(maxIdleMs * 4);
        continue;
      }
      if (messages.length === 0) {
        await this.pause(idle);
        idle = Math.min(idle * 2, maxIdleMs);
        continue;
      }
      idle = minIdleMs;
      for (const message of messages) {
        const work = this.work(definition, queue, message).finally(() => {
          mine.delete(work);
          this.inFlight.delete(work);
        });
        mine.add(work);
        this.inFlight.add(work);
      }
    }
  }

  private async work(definition: QueueFunctionDefinition, queue: WorkQueue, message: ReceivedMessage): Promise<void> {
    if (message.dequeueCount > this.options.maxDequeueCount) {
      this.log(`${definition.name}: message ${message.id} failed ${message.dequeueCount - 1} times; set aside`);
      await queue.delete(message).catch(() => undefined);
      return;
    }
    try {
      await this.invoke(definition, message);
    } catch {
      return; // logged by the binding; the message comes back when its visibility timeout passes
    }
    await queue.delete(message).catch((error: unknown) => {
      // Worked on, not deleted: it comes back, and its function finds the work done.
      this.log(`${definition.name}: message ${message.id} not deleted (${(error as Error).message})`);
    });
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }
}
