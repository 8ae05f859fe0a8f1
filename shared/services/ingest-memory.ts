import type { Clock } from '../clock';
import { IngestAdmission, type Reservation } from './ingest-admission';

/**
 * What an instance's ingest requests may hold at once, whatever the number in flight: at most
 * `budgetBytes` (INGEST_MEMORY_BUDGET_MB) for requests being decoded and stored, by their
 * estimates, plus at most `intakeBytes` (8 x INGEST_MAX_BODY_BYTES, 32 MiB by default) for bodies
 * being read, inflated or waiting for their turn to be decoded. A request reserves before it
 * holds anything:
 *
 * 1. **intake**, before a byte of its body is read: its read bound (the declared length, else
 *    the body bound). A request waiting here holds nothing: its body stays in the connection.
 *    Once read, the reservation shrinks to the bytes read; a gzip body then reserves again, from
 *    the same pool, twice the inflated bound (zlib collects its output, then joins it) before it
 *    is inflated, and keeps only the inflated body once done. A slow upload thus holds its read
 *    bound alone, never the inflate bound of a body it has not sent yet;
 * 2. **processing**, once its shape is measured: its estimate (shared/otlp/limits.ts
 *    `requestMemoryCost`, which counts its body), from the budget; once granted, the intake
 *    reservation is given back.
 *
 * Each pool is first come first served, and a request costlier than a whole pool runs alone in
 * it. No deadlock: a request waiting for processing holds only intake memory, and requests
 * holding processing memory wait for nothing (they decode and store, then give it back), so the
 * waits never form a cycle. A gzip body waiting to inflate holds only its compressed bytes; the
 * pool (8 bodies of the largest size) always has room for one such body's inflate bound (3 of
 * them) once the others give theirs back, and the deadline ends any wait. One deadline covers both waits, from the request's arrival (8 to 10 s:
 * {@link IngestMemoryOptions.maxWaitMs}, a fifth of it spread at random); past it the request is answered 503 `server_busy` with
 * Retry-After, having read nothing if it never left the intake queue.
 *
 * Bound: intake + budget, plus the few KiB per connection the host buffers before a body is read
 * (not reserved: it is the connection's, whatever the route) and a request costlier than the
 * budget on its own (at most REQUEST_HEAP_BOUND_BYTES). Measured in bench figure 3e and
 * test/integration/hostile-ingest-concurrency.test.ts.
 */
export interface IngestMemoryOptions {
  budgetBytes: number;
  intakeBytes: number;
  /**
   * How long a request may wait, in all, for its reservations: a fifth of it is spread at
   * random, so requests that arrived together are not all answered 503 in the same instant.
   */
  maxWaitMs: number;
  clock: Clock;
  /** In [0, 1): the spread of each request's wait (Math.random by default). */
  random?: () => number;
}

/** The part of the wait spread at random (see {@link IngestMemoryOptions.maxWaitMs}). */
const WAIT_SPREAD = 0.2;

/** The intake pool, in bodies of the largest size: room for a few to be read and inflated at once. */
export const INTAKE_BODIES = 8;

export class IngestMemory {
  readonly intake: IngestAdmission;
  readonly processing: IngestAdmission;

  constructor(private readonly options: IngestMemoryOptions) {
    this.intake = new IngestAdmission(options.intakeBytes, options.maxWaitMs);
    this.processing = new IngestAdmission(options.budgetBytes, options.maxWaitMs);
  }

  /** Waits for room to read (and inflate) a body of at most `bytes`; from here the request has its wait for both reservations. */
  async enter(bytes: number): Promise<IngestTicket> {
    const wait = this.options.maxWaitMs * (1 - WAIT_SPREAD * (this.options.random ?? Math.random)());
    const deadline = this.options.clock.millis() + wait;
    const intake = await this.intake.reserve(bytes, wait);
    return new IngestTicket(intake, this.intake, this.processing, deadline, this.options.clock);
  }

  /** Bytes reserved now, in both pools (diagnostics). */
  get reservedBytes(): { intake: number; processing: number } {
    return { intake: this.intake.reservedBytes, processing: this.processing.reservedBytes };
  }
}

/** One request's hold on ingest memory, from before its body is read until it is stored. */
export class IngestTicket {
  private inflating: Reservation | undefined;
  private processing: Reservation | undefined;
  private released = false;

  constructor(
    private readonly intake: Reservation,
    private readonly intakePool: IngestAdmission,
    private readonly pool: IngestAdmission,
    private readonly deadline: number,
    private readonly clock: Clock,
  ) {}

  /** The body now holds at most `bytes`: what the request holds of the intake pool shrinks to it. */
  holding(bytes: number): void {
    if (this.processing) return;
    if (this.inflating) {
      // Inflated: the compressed bytes are gone, the inflated body is what is kept.
      this.inflating.shrinkTo(bytes);
      this.intake.release();
    } else {
      this.intake.shrinkTo(bytes);
    }
  }

  /** Waits, within what is left of the deadline, for room to inflate into `bytes` (on top of the compressed body held). */
  async beforeInflating(bytes: number): Promise<void> {
    if (this.released || this.processing || this.inflating) throw new Error('IngestTicket.beforeInflating: out of order');
    const granted = await this.intakePool.reserve(bytes, Math.max(0, this.deadline - this.clock.millis()));
    if (this.released) return granted.release();
    this.inflating = granted;
  }

  /** Waits, within what is left of the deadline, for `cost` bytes of the budget; then gives the intake back. */
  async admit(cost: number): Promise<void> {
    if (this.released || this.processing) throw new Error('IngestTicket.admit: released or admitted already');
    const granted = await this.pool.reserve(cost, Math.max(0, this.deadline - this.clock.millis()));
    if (this.released) return granted.release(); // released while it waited (the request failed meanwhile)
    this.processing = granted;
    this.intake.release();
    this.inflating?.release();
  }

  /** Gives back everything the request holds. */
  release(): void {
    this.released = true;
    this.intake.release();
    this.inflating?.release();
    this.processing?.release();
  }
}
