import { MemoryRateLimitStore } from '../../shared/adapters/memory/memory-rate-limit-store';
import { ManualClock } from '../../shared/clock';
import { DEFAULT_PLANS } from '../../shared/config';
import type { KeyIdentity } from '../../shared/domain';
import { silentLogger } from '../../shared/logging';
import { SharedTokenBuckets, allocateShares } from '../../shared/rate-limit/shared-token-bucket';
import { RateLimiter } from '../../shared/services/rate-limiter';
import { keyIdentity, simulateSaturation } from '../support/rate-limits';

const identity = (rateLimit?: { requestsPerSecond: number; burst: number }, keyId = 'key_1'): KeyIdentity =>
  keyIdentity({ keyId, ...(rateLimit ? { rateLimit } : {}) });

describe('SharedTokenBuckets (one instance)', () => {
  it('admits the burst, then the rate, and says when to retry', () => {
    const clock = new ManualClock();
    const buckets = new SharedTokenBuckets(() => clock.now().getTime());
    const limits = { rate: 10, burst: 20 };
    let admitted = 0;
    for (let i = 0; i < 25; i++) if (buckets.take('k', limits).allowed) admitted++;
    expect(admitted).toBe(20);
    const refused = buckets.take('k', limits);
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
    // 10 s of saturation at 1,000 requests per second: the rate times the time, plus the burst already spent.
    for (let ms = 0; ms < 10_000; ms++) {
      clock.advance(1);
      if (buckets.take('k', limits).allowed) admitted++;
    }
    expect(admitted).toBe(20 + 100);
  });

  it('allocates shares proportional to demand, summing to one', () => {
    const shares = allocateShares(
      new Map([
        ['a', 300],
        ['b', 100],
        ['c', 0],
      ]),
    );
    expect([...shares.values()].reduce((x, y) => x + y, 0)).toBeCloseTo(1, 10);
    expect(shares.get('a')! / shares.get('b')!).toBeCloseTo(3, 1);
    expect(shares.get('c')!).toBeLessThan(0.01);
  });
});

describe('RateLimiter (instances sharing one store)', () => {
  async function simulate(splits: number[], seconds: number, rate: number, burst: number, requestsPerSecond = 3000) {
    const store = new MemoryRateLimitStore();
    const result = await simulateSaturation({ store, splits, seconds, rate, burst, requestsPerSecond });
    return { ...result, storeOperations: store.operations };
  }

  it.each([
    ['an even split over 3 instances', [1, 1, 1]],
    ['an uneven split (70/20/10)', [7, 2, 1]],
    ['one busy instance and two quiet', [10, 1, 1]],
  ])('admits the limit across instances under saturation: %s', async (_name, splits) => {
    const { admitted, allowed } = await simulate(splits, 10, 50, 5);
    expect(admitted / allowed).toBeGreaterThan(0.9);
    expect(admitted / allowed).toBeLessThan(1.1);
  });

  it("holds a portal subject's limit across instances the way it holds a key's", async () => {
    const clock = new ManualClock();
    const store = new MemoryRateLimitStore();
    const options = { syncIntervalMs: 250, idleSyncIntervalMs: 2000 };
    const limiters = [0, 1].map(() => new RateLimiter({ store, plans: DEFAULT_PLANS, clock, options, log: silentLogger }));
    for (let round = 0; round < 2; round++) for (const l of limiters) await l.sync();
    const limits = { rate: 5, burst: 20 };
    let admitted = 0;
    for (let ms = 0; ms < 30_000; ms += 5) {
      clock.advance(5);
      if (limiters[(ms / 5) % 2]!.decideSubject('portal-user:ada', limits).allowed) admitted++;
      if (ms % 250 === 0) await Promise.all(limiters.map((l) => l.sync()));
    }
    const allowed = 5 * 30 + 20;
    expect(admitted / allowed).toBeGreaterThan(0.9);
    expect(admitted / allowed).toBeLessThan(1.1);
    // Its demand is shared under the subject's id, as a key's is under the key's.
    expect(JSON.stringify(await store.readAll())).toContain('portal-user:ada');
  });

  it('costs two store operations per sync, whatever the number of keys', async () => {
    const clock = new ManualClock();
    const store = new MemoryRateLimitStore();
    const limiter = new RateLimiter({
      store: store,
      plans: DEFAULT_PLANS,
      clock,
      options: { syncIntervalMs: 250, idleSyncIntervalMs: 2000 },
      log: silentLogger,
    });
    for (let k = 0; k < 500; k++) limiter.decide(identity(undefined, `key_${k}`));
    const before = store.operations;
    await limiter.sync();
    expect(store.operations - before).toBe(2);
  });

  it('keeps deciding on its last shares when the store is unreachable', async () => {
    const clock = new ManualClock();
    const store = new MemoryRateLimitStore();
    const limiter = new RateLimiter({
      store: store,
      plans: DEFAULT_PLANS,
      clock,
      options: { syncIntervalMs: 250, idleSyncIntervalMs: 2000 },
      log: silentLogger,
    });
    store.failWith = new Error('down');
    await limiter.sync();
    expect(limiter.decide(identity()).allowed).toBe(true);
  });

  it('uses the plan limits unless the key has its own', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({
      store: new MemoryRateLimitStore(),
      plans: DEFAULT_PLANS,
      clock,
      options: { syncIntervalMs: 250, idleSyncIntervalMs: 2000 },
      log: silentLogger,
    });
    expect(limiter.limitsFor(identity())).toEqual({ rate: 100, burst: 200 });
    expect(limiter.limitsFor({ ...identity(), plan: 'starter' })).toEqual({ rate: 10, burst: 20 });
    expect(limiter.limitsFor(identity({ requestsPerSecond: 3, burst: 4 }))).toEqual({ rate: 3, burst: 4 });
  });
});
