import { BoundedCache } from '../cache/bounded-cache';
import type { Clock } from '../clock';
import { LookupQueue } from './lookup-queue';

/** Client addresses remembered (a bounded LRU: the throttle's memory bound). */
const TRACKED_ADDRESSES = 10_000;
/** Keys remembered as having authenticated on this instance, and for how long. */
const RECENT_KEYS = 20_000;
const RECENT_MS = 24 * 3_600_000;
/**
 * A hash's name in the recent set: its first 52 bits as a number (a fraction of the memory of
 * its 64 characters). Two keys sharing it only means one more skips the queue; never a verdict.
 */
const recentName = (secretHash: string): number => Number.parseInt(secretHash.slice(0, 13), 16);
/** Lookups of over-budget addresses running at once on an instance, all addresses together. */
export const OVER_BUDGET_LOOKUPS_AT_ONCE = 8;

/** How a lookup runs: at once on its own (a recent key, no address), at once on a token of its address's budget, or queued. */
export type LookupAdmission = 'now' | 'budget' | 'queued';

/**
 * Failed authentications per client address, and what they may cost storage.
 *
 * Nothing tells a made-up key from a real one before its lookup (the checksum is public), so
 * this throttle never refuses a key: it decides when the lookup of a key the cache cannot answer
 * runs. Each address has a budget of `perMinute` lookups that fail, refilling at `perMinute` a
 * minute; a lookup takes one when it starts and gives it back when the key authenticates (so a
 * burst of concurrent made-up keys cannot overdraw it). A key's lookup runs:
 *
 * - at once when the key authenticated on this instance within the last day (a bounded set of
 *   hashes of its own, apart from the identity cache, so a warm key whose cache entry expired
 *   never waits), or when its address has a token left;
 * - otherwise queued: an address past its budget has its lookups run one at a time, and all such
 *   addresses together at most {@link OVER_BUDGET_LOOKUPS_AT_ONCE} at a time per instance, in the
 *   order they came. A real key from that address (a new key, or any key on a new instance) is
 *   looked up after the lookups queued before it, one point read each, and is then served.
 *
 * A flood of made-up keys from one address thus reads storage `perMinute` times a minute, then
 * one key at a time; its requests wait instead of multiplying reads. A waiting request holds a
 * promise, on top of the connection the host holds for it anyway.
 */
export class FailedAuthThrottle {
  private readonly buckets: BoundedCache<string, { tokens: number; at: number }>;
  private readonly recent: BoundedCache<number, true>;
  private readonly queue: LookupQueue;

  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock,
    options: { lookupsAtOnce?: number } = {},
  ) {
    const now = () => clock.millis();
    this.buckets = new BoundedCache(TRACKED_ADDRESSES, 10 * 60_000, now);
    this.recent = new BoundedCache(RECENT_KEYS, RECENT_MS, now);
    this.queue = new LookupQueue(options.lookupsAtOnce ?? OVER_BUDGET_LOOKUPS_AT_ONCE);
  }

  /**
   * Runs the storage lookup of a key the cache could not answer, now or in its turn (never
   * refused); `authenticated` tells from its result whether the key was good.
   */
  async lookup<T>(
    address: string | undefined,
    secretHash: string,
    read: () => Promise<T>,
    authenticated: (result: T) => boolean,
  ): Promise<T> {
    const admission = this.admit(address, secretHash);
    const result = admission === 'queued' ? await this.queue.run(address!, read) : await this.settled(address, admission, read);
    if (authenticated(result)) {
      this.recent.set(recentName(secretHash), true);
      if (admission === 'budget') this.refund(address!);
    } else if (admission !== 'budget') {
      // The budget's token was taken when the lookup started; the others count now.
      this.recordFailure(address);
    }
    return result;
  }

  /** Counts one failed authentication from the address that needed no lookup (a key known as unknown or revoked). */
  recordFailure(address: string | undefined): void {
    if (!address) return;
    const bucket = this.refilled(address);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    this.buckets.set(address, bucket);
  }

  /** Addresses with lookups queued or running past their budget (for tests). */
  get queuedAddresses(): number {
    return this.queue.keys;
  }

  /** The rule: how this key's lookup from this address runs. Takes the address's token when it says `budget`. */
  private admit(address: string | undefined, secretHash: string): LookupAdmission {
    if (!address || this.recent.get(recentName(secretHash))) return 'now';
    const bucket = this.refilled(address);
    if (bucket.tokens < 1) return 'queued';
    bucket.tokens -= 1;
    this.buckets.set(address, bucket);
    return 'budget';
  }

  /** A lookup run at once; a token it took comes back if storage failed (an outage is not a failed authentication). */
  private async settled<T>(address: string | undefined, admission: LookupAdmission, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (admission === 'budget') this.refund(address!);
      throw error;
    }
  }

  private refund(address: string): void {
    const bucket = this.refilled(address);
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + 1);
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
