import type { Clock } from '../../shared/clock';

/**
 * Real time moved forward by hand (never back: rate limits and throttles, like the platform's
 * clocks, only see time go forward): steps over an overlap or an expiry without waiting for it.
 */
export class SteppingClock implements Clock {
  private offset = 0;
  now = () => new Date(Date.now() + this.offset);
  millis = () => Date.now() + this.offset;
  /** Moves to `iso` plus `ms`. */
  moveTo(iso: string, ms = 0): void {
    this.forward(Date.parse(iso) + ms - this.millis());
  }
  forward(ms: number): void {
    if (ms < 0) throw new Error('this clock only moves forward');
    this.offset += ms;
  }
}
