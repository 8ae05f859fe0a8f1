/**
 * Runs work one at a time per key (a client address), and at most `atOnce` at a time for all
 * keys together, each in the order it arrived. Nothing is ever turned away: a caller waits only
 * for the work queued before it under its key, then for a free place. A waiting caller holds a
 * promise and its closure; a key is forgotten as soon as its queue is empty.
 */
export class LookupQueue {
  /** The last work queued under each key, settled either way (what the next one waits for). */
  private readonly tails = new Map<string, Promise<void>>();
  /** Callers holding a place; a freed place goes straight to the first waiter. */
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly atOnce: number) {
    if (!(atOnce >= 1)) throw new RangeError('atOnce must be at least 1');
  }

  /** Runs `work` after the work queued before it under `key`, within the overall bound; its result, or its error. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    const result = (previous ?? Promise.resolve()).then(() => this.withPlace(work));
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with work queued or running (for tests and the memory bound). */
  get keys(): number {
    return this.tails.size;
  }

  private async withPlace<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.atOnce) this.running += 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
