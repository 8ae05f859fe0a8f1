import { BoundedCache } from '../cache/bounded-cache';
import type { Clock } from '../clock';

/** Client addresses remembered (a bounded LRU: the throttle's memory bound). */
const TRACKED_ADDRESSES = 10_000;

/**
 * Failed authentications per client address, held in memory: each address has a bucket of
 * `perMinute` failures that refills at `perMinute` a minute. While its bucket is empty, an
 * address's keys that would need a storage read are refused with 429 before the read; keys this
 * instance already knows as valid keep working, so one bad client behind a shared address does
 * not lock out the others. A flood of made-up secrets thus costs storage at most `perMinute`
 * reads a minute per address and instance.
 */
export class FailedAuthThrottle {
  private readonly buckets: BoundedCache<string, { tokens: number; at: number }>;

  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock,
  ) {
    this.buckets = new BoundedCache(TRACKED_ADDRESSES, 10 * 60_000, () => clock.millis());
  }

  /** Seconds until the address may try an unknown key again; 0 when it may now. */
  retryAfterSeconds(address: string | undefined): number {
    if (!address) return 0;
    const bucket = this.refilled(address);
    return bucket.tokens >= 1 ? 0 : Math.max(1, Math.ceil(((1 - bucket.tokens) * 60) / this.perMinute));
  }

  /** Counts one failed authentication from the address. */
  recordFailure(address: string | undefined): void {
    if (!address) return;
    const bucket = this.refilled(address);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    this.buckets.set(address, bucket);
  }

  private refilled(address: string): { tokens: number; at: number } {
    const now = this.clock.millis();
    const bucket = this.buckets.get(address) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + ((now - bucket.at) / 60_000) * this.perMinute);
    bucket.at = now;
    return bucket;
  }
}
