import { ApiError } from '../errors';

/**
 * Bounds the memory that ingest requests being decoded and stored may hold at once on this
 * instance. Each request reserves its estimated cost (from its measured shape, before it is
 * decoded) and releases it when done; a request that does not fit waits its turn, first come
 * first served, and is answered 503 `server_busy` with `Retry-After` if its turn does not come
 * within the wait bound. A request costlier than the whole budget runs alone.
 */
export class IngestAdmission {
  private used = 0;
  private readonly waiting: Array<{ cost: number; admit: () => void }> = [];

  constructor(
    private readonly capacityBytes: number,
    private readonly maxWaitMs: number,
  ) {}

  /** Bytes reserved right now (for diagnostics and tests). */
  get reservedBytes(): number {
    return this.used;
  }

  /** Waits for room for `cost` bytes; resolves with the function that gives them back. */
  async admit(cost: number): Promise<() => void> {
    const reserve = Math.min(Math.max(cost, 0), this.capacityBytes);
    if (this.waiting.length === 0 && this.used + reserve <= this.capacityBytes) {
      this.used += reserve;
      return this.releaser(reserve);
    }
    await new Promise<void>((resolve, reject) => {
      const entry = { cost: reserve, admit: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(entry), 1);
        this.drain();
        reject(
          new ApiError('server_busy', 'This instance is busy with other large requests. Retry after the time in Retry-After.', {
            headers: { 'Retry-After': '1' },
          }),
        );
      }, this.maxWaitMs);
      this.waiting.push(entry);
    });
    return this.releaser(reserve);
  }

  private releaser(reserved: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= reserved;
      this.drain();
    };
  }

  /** Admits waiting requests in arrival order while they fit. */
  private drain(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0]!.cost <= this.capacityBytes) {
      const next = this.waiting.shift()!;
      this.used += next.cost;
      next.admit();
    }
  }
}
