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
