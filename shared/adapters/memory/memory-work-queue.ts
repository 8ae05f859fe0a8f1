import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock';
import type { ReceivedMessage, WorkQueue } from '../../ports/work-queue';

interface Held {
  id: string;
  body: string;
  visibleAt: number;
  popReceipt: string;
  dequeueCount: number;
  /** Order of sending, to keep messages visible at the same instant in order. */
  seq: number;
}

/** In-memory WorkQueue for unit tests: visibility runs on the injected clock. */
export class MemoryWorkQueue implements WorkQueue {
  private readonly messages = new Map<string, Held>();
  private seq = 0;
  /** Called after every send (tests wait on it instead of polling). */
  onSend: (() => void) | undefined;

  constructor(private readonly clock: Clock) {}

  send(body: string, options: { delayMs?: number } = {}): Promise<void> {
    const id = randomUUID();
    this.messages.set(id, {
      id,
      body,
      visibleAt: this.clock.millis() + (options.delayMs ?? 0),
      popReceipt: '',
      dequeueCount: 0,
      seq: this.seq++,
    });
    this.onSend?.();
    return Promise.resolve();
  }

  receive({ max, visibilityTimeoutMs }: { max: number; visibilityTimeoutMs: number }): Promise<ReceivedMessage[]> {
    const now = this.clock.millis();
    const visible = [...this.messages.values()]
      .filter((m) => m.visibleAt <= now)
      .sort((a, b) => a.visibleAt - b.visibleAt || a.seq - b.seq)
      .slice(0, max);
    for (const m of visible) {
      m.visibleAt = now + visibilityTimeoutMs;
      m.popReceipt = randomUUID();
      m.dequeueCount += 1;
    }
    return Promise.resolve(visible.map(({ id, popReceipt, body, dequeueCount }) => ({ id, popReceipt, body, dequeueCount })));
  }

  delete(message: Pick<ReceivedMessage, 'id' | 'popReceipt'>): Promise<void> {
    if (this.messages.get(message.id)?.popReceipt === message.popReceipt) this.messages.delete(message.id);
    return Promise.resolve();
  }

  release(message: ReceivedMessage, delayMs: number): Promise<ReceivedMessage | undefined> {
    const held = this.messages.get(message.id);
    if (!held || held.popReceipt !== message.popReceipt) return Promise.resolve(undefined);
    held.visibleAt = this.clock.millis() + delayMs;
    held.popReceipt = randomUUID();
    return Promise.resolve({ ...message, popReceipt: held.popReceipt });
  }

  /** Messages held (visible or not): what tests count. */
  get size(): number {
    return this.messages.size;
  }
}
