/**
 * The per-key limit, held as token buckets spread over the instances that serve the key.
 *
 * Every instance keeps, for each key it serves, a token bucket sized to its *share* of the
 * key's limit: rate x share tokens per second, burst x share capacity. Deciding a request is
 * local arithmetic, with no I/O. The shares come from {@link allocateShares}: every instance
 * publishes how many requests it saw per key, reads what the others saw, and takes a part of
 * the limit proportional to its own demand. When every instance computes its share from the
 * same picture the shares sum to one, so the instances together admit the key's limit.
 */

export interface KeyLimits {
  /** Sustained requests per second. */
  rate: number;
  /** Bucket capacity: requests that may go at once above the sustained rate. */
  burst: number;
}

export interface Decision {
  allowed: boolean;
  /** Estimated requests left for the key across instances right now. */
  remaining: number;
  /** Seconds until the key's quota is whole again. */
  resetSeconds: number;
  /** Seconds a refused client should wait (whole, at least 1). */
  retryAfterSeconds: number;
}

/** A decision with the limits it was made under (what the RateLimit fields and a 429 state). */
export type LimitedDecision = Decision & { limits: KeyLimits };

interface Bucket {
  limits: KeyLimits;
  share: number;
  tokens: number;
  refilledAt: number;
  /** Requests seen (admitted or not) since the last share computation. */
  demand: number;
  lastSeenAt: number;
}

/** Demand every instance is assumed to have, so an instance that sees none still gets a sliver. */
export const DEMAND_SMOOTHING = 0.5;

/**
 * The shares of one key among live instances, proportional to demand (requests per second),
 * smoothed so that an instance with no recent demand keeps a small part. Sums to one.
 */
export function allocateShares(demandByInstance: Map<string, number>): Map<string, number> {
  const total = [...demandByInstance.values()].reduce((a, b) => a + b, 0) + DEMAND_SMOOTHING * demandByInstance.size;
  return new Map([...demandByInstance].map(([instance, demand]) => [instance, (demand + DEMAND_SMOOTHING) / total]));
}

export class SharedTokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  /** Live instances serving this app, as of the last read of the shared state (this one included). */
  private liveInstances = 1;

  constructor(private readonly now: () => number) {}

  /** Decides one request for a key. Pure arithmetic on this instance's share. `now`: the clock's time, when already read. */
  take(keyId: string, limits: KeyLimits, now = this.now()): LimitedDecision {
    const bucket = this.bucket(keyId, limits, now);
    this.refill(bucket, now);
    bucket.demand += 1;
    bucket.lastSeenAt = now;
    const localRate = bucket.limits.rate * bucket.share;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    const capacity = capacityOf(bucket);
    return {
      allowed,
      remaining: Math.max(0, Math.floor(bucket.tokens / bucket.share)),
      resetSeconds: Math.max(0, Math.ceil((capacity - bucket.tokens) / localRate)),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - bucket.tokens) / localRate)),
      limits,
    };
  }

  /**
   * Decides `units` at once for a bucket (the batches of one ingest request): admitted when the
   * bucket holds them, or, for more than it can ever hold, when it is full. The bucket may then
   * go below zero, a debt refilled at the sustained rate before anything else is admitted, so
   * over any time the admitted units stay within rate x time + burst + one request's units.
   * Demand counts the units, so shares across instances follow them.
   */
  takeUnits(bucketId: string, limits: KeyLimits, units: number): LimitedDecision {
    const now = this.now();
    const bucket = this.bucket(bucketId, limits, now);
    this.refill(bucket, now);
    bucket.demand += units;
    bucket.lastSeenAt = now;
    const localRate = bucket.limits.rate * bucket.share;
    const capacity = capacityOf(bucket);
    const needed = Math.min(units, capacity);
    const allowed = bucket.tokens >= needed;
    if (allowed) bucket.tokens -= units;
    return {
      allowed,
      remaining: Math.max(0, Math.floor(bucket.tokens / bucket.share)),
      resetSeconds: Math.max(0, Math.ceil((capacity - bucket.tokens) / localRate)),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((needed - bucket.tokens) / localRate)),
      limits,
    };
  }

  /**
   * Takes `units` the bucket owes for work already done (never refused): the bucket may go below
   * zero, and admits nothing more until it has refilled past the debt.
   */
  charge(bucketId: string, limits: KeyLimits, units: number): void {
    const now = this.now();
    const bucket = this.bucket(bucketId, limits, now);
    this.refill(bucket, now);
    bucket.demand += units;
    bucket.lastSeenAt = now;
    bucket.tokens -= units;
  }

  /**
   * Hands over this window's demand per key (requests per second since `since`) and starts a
   * new window. Keys not seen for `idleMs` are forgotten (their state is rebuilt on next use).
   */
  drainDemand(windowMs: number, idleMs: number): Map<string, number> {
    const now = this.now();
    const out = new Map<string, number>();
    for (const [keyId, bucket] of this.buckets) {
      if (now - bucket.lastSeenAt > idleMs) {
        this.buckets.delete(keyId);
        continue;
      }
      out.set(keyId, bucket.demand / Math.max(windowMs / 1000, 0.001));
      bucket.demand = 0;
    }
    return out;
  }

  /** Applies new shares (from the shared picture) and the current count of live instances. */
  applyShares(shares: Map<string, number>, liveInstances: number): void {
    this.liveInstances = Math.max(1, liveInstances);
    const now = this.now();
    for (const [keyId, share] of shares) {
      const bucket = this.buckets.get(keyId);
      if (!bucket || share <= 0) continue;
      this.refill(bucket, now);
      // Keep the fill level: a bucket that was half full stays half full of its new size.
      const level = bucket.tokens / capacityOf(bucket);
      bucket.share = share;
      bucket.tokens = level * capacityOf(bucket);
    }
  }

  /** Whether any key used at least `fraction` of its share's rate in the window (the limit matters now). */
  underPressure(demand: Map<string, number>, fraction = 0.5): boolean {
    for (const [keyId, perSecond] of demand) {
      const bucket = this.buckets.get(keyId);
      if (bucket && perSecond >= fraction * bucket.limits.rate * bucket.share) return true;
    }
    return false;
  }

  get size(): number {
    return this.buckets.size;
  }

  private bucket(keyId: string, limits: KeyLimits, now: number): Bucket {
    let bucket = this.buckets.get(keyId);
    if (!bucket) {
      // A key this instance has not served yet: assume an equal share among live instances.
      const share = 1 / this.liveInstances;
      bucket = { limits, share, tokens: Math.max(1, limits.burst * share), refilledAt: now, demand: 0, lastSeenAt: now };
      this.buckets.set(keyId, bucket);
    } else if (bucket.limits.rate !== limits.rate || bucket.limits.burst !== limits.burst) {
      bucket.limits = limits;
      bucket.tokens = Math.min(bucket.tokens, capacityOf(bucket));
    }
    return bucket;
  }

  private refill(bucket: Bucket, now: number): void {
    const elapsed = Math.max(0, now - bucket.refilledAt) / 1000;
    bucket.tokens = Math.min(capacityOf(bucket), bucket.tokens + elapsed * bucket.limits.rate * bucket.share);
    bucket.refilledAt = now;
  }
}

/** An instance's part of the burst, but never below one token, or a small share could never admit. */
const capacityOf = (bucket: Bucket): number => Math.max(1, bucket.limits.burst * bucket.share);
