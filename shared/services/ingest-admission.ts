import { ApiError } from '../errors';

/** Bytes held under an {@link IngestAdmission}, given back once (by `release`) or in part (by `shrinkTo`). */
export interface Reservation {
  /** Bytes reserved right now. */
  readonly bytes: number;
  /** Gives back what is above `bytes` (never grows the reservation). */
  shrinkTo(bytes: number): void;
  /** Gives everything back; a second call does nothing. */
  release(): void;
}

/** The 503 a request gets when its turn does not come within its wait. */
export const serverBusy = (): ApiError =>
  new ApiError('server_busy', 'This instance is busy with other large requests. Retry after the time in Retry-After.', {
    headers: { 'Retry-After': '1' },
  });

/**
 * A pool of memory that requests reserve from, first come first served. A request reserves its
 * bound and gives it back when done; one that does not fit waits its turn, and is answered 503
 * `server_busy` with `Retry-After` if its turn does not come within its wait. A request costlier
 * than the whole pool runs alone (it reserves the whole pool). Waiting holds nothing: the
 * reservation exists only once granted. shared/services/ingest-memory.ts puts two of these
 * together for ingest (reading bodies, then decoding and storing them).
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

  /** Requests waiting for their turn right now. */
  get waitingRequests(): number {
    return this.waiting.length;
  }

  /** Waits for room for `cost` bytes; resolves with the function that gives them back. */
  async admit(cost: number, waitMs = this.maxWaitMs): Promise<() => void> {
    const reservation = await this.reserve(cost, waitMs);
    return () => reservation.release();
  }

  /** Waits (at most `waitMs`) for room for `cost` bytes, then holds them until released. */
  async reserve(cost: number, waitMs = this.maxWaitMs): Promise<Reservation> {
    const reserve = Math.min(Math.max(cost, 0), this.capacityBytes);
    if (this.waiting.length === 0 && this.used + reserve <= this.capacityBytes) {
      this.used += reserve;
      return this.reservation(reserve);
    }
    if (waitMs <= 0) throw serverBusy();
    await new Promise<void>((resolve, reject) => {
      const entry = { cost: reserve, admit: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(entry), 1);
        this.drain();
        reject(serverBusy());
      }, waitMs);
      this.waiting.push(entry);
    });
    return this.reservation(reserve);
  }

  private reservation(reserved: number): Reservation {
    let held = reserved;
    const shrinkTo = (bytes: number) => {
      const target = Math.max(0, Math.min(held, bytes));
      if (target === held) return;
      this.used -= held - target;
      held = target;
      this.drain();
    };
    return {
      get bytes() {
        return held;
      },
      shrinkTo,
      release: () => shrinkTo(0),
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
