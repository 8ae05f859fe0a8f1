/** The time source every service and policy takes, so tests can move time by hand. */
export interface Clock {
  now(): Date;
  /** The same instant in milliseconds since the epoch, without allocating a Date (the hot path's form). */
  millis(): number;
}

export const systemClock: Clock = { now: () => new Date(), millis: () => Date.now() };

/** A clock that only moves when told to; for tests of expiry and scheduling. */
export class ManualClock implements Clock {
  private current: number;
  constructor(start: Date | string = '2026-01-01T00:00:00.000Z') {
    this.current = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.current);
  }
  millis(): number {
    return this.current;
  }
  set(at: Date | string): void {
    this.current = new Date(at).getTime();
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

/**
 * An ISO 8601 time, whatever its UTC offset, as the same instant in UTC with milliseconds
 * (`2026-01-01T00:00:00.000Z`): the one form every time is stored in, so stored times compare
 * and sort as text in the order of their instants. Throws on text that is not a time.
 */
export function utcInstant(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RangeError(`not an ISO 8601 time: ${JSON.stringify(iso.slice(0, 40))}`);
  return new Date(ms).toISOString();
}
