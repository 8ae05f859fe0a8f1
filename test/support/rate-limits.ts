import { ManualClock } from '../../shared/clock';
import { DEFAULT_PLANS } from '../../shared/config';
import type { KeyIdentity, Plan } from '../../shared/domain';
import { silentLogger } from '../../shared/logging';
import type { RateLimitStore } from '../../shared/ports/rate-limit-store';
import { RateLimiter } from '../../shared/services/rate-limiter';

/** An ingest key's identity as the door hands it over, with its plan and its own limit when given. */
export function keyIdentity(
  options: { plan?: Plan; keyId?: string; rateLimit?: { requestsPerSecond: number; burst: number } } = {},
): KeyIdentity {
  return {
    customerId: 'cus_1',
    customerSlug: 'acme',
    plan: options.plan ?? 'pro',
    keyId: options.keyId ?? 'key_1',
    keyLabel: 'ingest',
    application: 'web',
    environment: 'live',
    keyType: 'secondary',
    masterComponent: { componentVersion: 'v1', previousComponentVersion: undefined, graceEndsAt: undefined, requireComponent: false },
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
  };
}

/**
 * Instances' rate limiters sharing demand through `store`, one key limited to `rate` (burst
 * `burst`), saturated for `seconds` of an injected clock starting at `at`: requests are spread
 * over the instances by `splits` (a fixed spread, not random), and the instances sync every
 * 250 ms. Answers what they admitted and what the limit allows (rate x time + burst).
 */
export async function simulateSaturation(options: {
  store: RateLimitStore;
  splits: number[];
  seconds: number;
  rate: number;
  burst: number;
  requestsPerSecond?: number;
  at?: string;
}): Promise<{ admitted: number; refused: number; allowed: number }> {
  const { store, splits, seconds, rate, burst } = options;
  const clock = new ManualClock(options.at ?? '2026-01-01T00:00:00.000Z');
  const start = clock.millis();
  const syncMs = 250;
  const limiters = splits.map(
    () =>
      new RateLimiter({
        store,
        plans: DEFAULT_PLANS,
        clock,
        options: { syncIntervalMs: syncMs, idleSyncIntervalMs: 2000 },
        log: silentLogger,
      }),
  );
  // The instances start and see one another (their heartbeats) before the load, as on start-up.
  for (const limiter of limiters) await limiter.sync();
  for (const limiter of limiters) await limiter.sync();
  const key = keyIdentity({ rateLimit: { requestsPerSecond: rate, burst } });
  const total = splits.reduce((a, b) => a + b, 0);
  const stepMs = 1000 / (options.requestsPerSecond ?? 3000);
  let admitted = 0;
  let refused = 0;
  let nextSync = syncMs;
  for (let n = 0, t = 0; t < seconds * 1000; n++, t = n * stepMs) {
    clock.set(new Date(start + t));
    const pick = (n * 7919) % total;
    let i = 0;
    for (let acc = splits[0]!; pick >= acc; acc += splits[++i]!);
    if (limiters[i]!.decide(key).allowed) admitted++;
    else refused++;
    if (t >= nextSync) {
      await Promise.all(limiters.map((limiter) => limiter.sync()));
      nextSync += syncMs;
    }
  }
  return { admitted, refused, allowed: rate * seconds + burst };
}
