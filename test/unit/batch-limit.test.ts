import { MemoryRateLimitStore } from '../../shared/adapters/memory/memory-rate-limit-store';
import { ManualClock } from '../../shared/clock';
import { DEFAULT_PLANS, type PlanLimits } from '../../shared/config';
import type { KeyIdentity, Plan } from '../../shared/domain';
import { silentLogger } from '../../shared/logging';
import { addRateLimitFields } from '../../shared/rate-limit/batch-limit';
import { SharedTokenBuckets } from '../../shared/rate-limit/shared-token-bucket';
import { RateLimiter } from '../../shared/services/rate-limiter';
import { keyIdentity } from '../support/rate-limits';

const identity = (plan: Plan = 'pro', rateLimit?: { requestsPerSecond: number; burst: number }): KeyIdentity =>
  keyIdentity({ plan, ...(rateLimit ? { rateLimit } : {}) });

const limiter = (clock: ManualClock, store = new MemoryRateLimitStore(), plans: Record<Plan, PlanLimits> = DEFAULT_PLANS) =>
  new RateLimiter({ store, plans, clock, options: { syncIntervalMs: 250, idleSyncIntervalMs: 2000 }, log: silentLogger });

describe('the batch meter: units of a request taken at once', () => {
  it('admits units while the bucket holds them, refuses past it, and says when the units needed are back', () => {
    const clock = new ManualClock();
    const buckets = new SharedTokenBuckets(() => clock.millis());
    const limits = { rate: 10, burst: 20 };
    expect(buckets.takeUnits('k', limits, 15)).toMatchObject({ allowed: true, remaining: 5 });
    expect(buckets.takeUnits('k', limits, 8)).toMatchObject({ allowed: false, remaining: 5, retryAfterSeconds: 1 });
    expect(buckets.takeUnits('k', limits, 5)).toMatchObject({ allowed: true, remaining: 0 });
    expect(buckets.takeUnits('k', limits, 0)).toMatchObject({ allowed: true });
    expect(buckets.takeUnits('k', limits, 20)).toMatchObject({ allowed: false, retryAfterSeconds: 2 });
  });

  it('lets a request of more units than the bucket holds go only when it is full, then refuses until the debt is paid', () => {
    const clock = new ManualClock();
    const buckets = new SharedTokenBuckets(() => clock.millis());
    const limits = { rate: 10, burst: 20 };
    buckets.takeUnits('k', limits, 1);
    expect(buckets.takeUnits('k', limits, 1000)).toMatchObject({ allowed: false }); // not full
    clock.advance(100);
    expect(buckets.takeUnits('k', limits, 1000)).toMatchObject({ allowed: true, remaining: 0 });
    expect(buckets.takeUnits('k', limits, 1)).toMatchObject({ allowed: false, retryAfterSeconds: 99 }); // 980 of debt and one
    clock.advance(98_000);
    expect(buckets.takeUnits('k', limits, 1).allowed).toBe(false);
    clock.advance(1_000);
    expect(buckets.takeUnits('k', limits, 1).allowed).toBe(true);
  });

  it('charges units owed for work already done without refusing, and admits nothing until they are paid', () => {
    const clock = new ManualClock();
    const buckets = new SharedTokenBuckets(() => clock.millis());
    const limits = { rate: 10, burst: 20 };
    expect(buckets.takeUnits('k', limits, 1).allowed).toBe(true);
    buckets.charge('k', limits, 29); // 19 left, 29 owed: 10 of debt
    expect(buckets.takeUnits('k', limits, 1)).toMatchObject({ allowed: false, retryAfterSeconds: 2 });
    clock.advance(1_100);
    expect(buckets.takeUnits('k', limits, 1).allowed).toBe(true);
  });

  it('admits at most rate x time + burst + one request, whatever the request sizes', () => {
    const clock = new ManualClock();
    const buckets = new SharedTokenBuckets(() => clock.millis());
    const limits = { rate: 10, burst: 20 };
    const sizes = [1, 1000, 3, 50, 19, 20, 21, 400, 1, 7];
    let admitted = 0;
    for (let ms = 0; ms < 600_000; ms += 50) {
      clock.advance(50);
      const units = sizes[(ms / 50) % sizes.length]!;
      if (buckets.takeUnits('k', limits, units).allowed) admitted += units;
    }
    expect(admitted).toBeLessThanOrEqual(10 * 600 + 20 + 1000);
    expect(admitted).toBeGreaterThan(0.9 * 10 * 600);
  });
});

describe('RateLimiter: the batch limit beside the request limit', () => {
  it("takes the plan's batch limit, its request limit when unset, and a key's own limit for both", () => {
    const clock = new ManualClock();
    const plans = { ...DEFAULT_PLANS, pro: { ...DEFAULT_PLANS.pro, batchesPerSecond: 40, batchBurst: 80 } };
    const l = limiter(clock, undefined, plans);
    expect(l.batchLimitsFor(identity('pro'))).toEqual({ rate: 40, burst: 80 });
    expect(l.batchLimitsFor(identity('starter'))).toEqual({ rate: 10, burst: 20 });
    expect(l.batchLimitsFor(identity('pro', { requestsPerSecond: 3, burst: 4 }))).toEqual({ rate: 3, burst: 4 });
  });

  it("keeps a key's batches and requests in buckets of their own", () => {
    const l = limiter(new ManualClock());
    const key = identity('starter');
    expect(l.decideBatches(key, 20).allowed).toBe(true);
    expect(l.decideBatches(key, 1).allowed).toBe(false);
    expect(l.decide(key)).toMatchObject({ allowed: true, remaining: 19 });
  });

  it('shares the batch limit across instances, as the request limit is shared', async () => {
    const clock = new ManualClock();
    const store = new MemoryRateLimitStore();
    const limiters = [limiter(clock, store), limiter(clock, store), limiter(clock, store)];
    for (const l of limiters) await l.sync();
    for (const l of limiters) await l.sync();
    const key = identity('pro', { requestsPerSecond: 50, burst: 5 });
    let admitted = 0;
    const start = clock.millis();
    for (let step = 0; step < 10_000; step++) {
      clock.set(new Date(start + step)); // a request every millisecond, 10 s in all
      const units = 1 + (step % 4);
      if (limiters[step % 3]!.decideBatches(key, units).allowed) admitted += units;
      if (step % 250 === 0) await Promise.all(limiters.map((l) => l.sync()));
    }
    const allowed = 50 * 10 + 5;
    expect(admitted / allowed).toBeGreaterThan(0.9);
    expect(admitted / allowed).toBeLessThan(1.1);
  });
});

describe('RateLimit fields of both policies', () => {
  it('adds a policy to the list a response already carries, whatever the case of its names', () => {
    const headers: Record<string, string> = { 'RateLimit-Policy': '"per-key";q=20;w=2', RateLimit: '"per-key";r=19;t=1' };
    addRateLimitFields(headers, 'batches', {
      allowed: true,
      remaining: 7,
      resetSeconds: 2,
      retryAfterSeconds: 0,
      limits: { rate: 10, burst: 20 },
    });
    expect(headers).toEqual({
      'RateLimit-Policy': '"per-key";q=20;w=2, "batches";q=20;w=2',
      RateLimit: '"per-key";r=19;t=1, "batches";r=7;t=2',
    });
  });
});
