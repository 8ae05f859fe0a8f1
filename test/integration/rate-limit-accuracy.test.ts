import { TableRateLimitStore } from '../../shared/adapters/table/table-rate-limit-store';
import { ManualClock } from '../../shared/clock';
import { DEFAULT_PLANS } from '../../shared/config';
import type { KeyIdentity } from '../../shared/domain';
import { silentLogger } from '../../shared/logging';
import { RateLimiter } from '../../shared/services/rate-limiter';
import type { ServiceContext } from '../../shared/services/context';
import { testServices } from '../support/services';

const LIMIT = 50; // requests per second for the key under test
const BURST = 5;
const SECONDS = 10;
const REQUESTS_PER_SECOND = 1000; // offered load, all instances together: 20 x the limit
const SYNC_MS = 250;

const key: KeyIdentity = {
  customerId: 'cus_accuracy',
  customerSlug: 'accuracy',
  plan: 'pro',
  keyId: 'key_saturated',
  keyLabel: 'saturated',
  application: 'load',
  environment: 'live',
  keyType: 'secondary',
  tenantKey: { componentVersion: 'v1', previousComponentVersion: undefined, graceEndsAt: undefined, requireComponent: false },
  rateLimit: { requestsPerSecond: LIMIT, burst: BURST },
};

/**
 * Three instances' rate limiters sharing their demand through the real table (Azurite), one key
 * limited to LIMIT per second, saturated for 10 s of the injected clock: the admitted count stays
 * within 10% of what the limit allows (rate x time + burst). Time is the test's, so a busy
 * machine changes nothing. The same bound measured with three host processes, real time and HTTP
 * is `npm run bench` figure 5 (a figure, not a test: it depends on the machine's speed).
 */
describe('rate limits hold across instances sharing demand through Table Storage', () => {
  let services: ServiceContext;
  beforeAll(async () => {
    services = testServices();
    await services.storage.ensureTables();
  });
  afterAll(async () => {
    await services?.dispose();
  });

  // Each case an hour apart on the clock: the instances of one case are long gone for the next.
  it.each([
    ['an even split', [1, 1, 1], '2026-06-01T00:00:00.000Z'],
    ['an uneven split (70/20/10)', [7, 2, 1], '2026-06-01T01:00:00.000Z'],
  ])(`admits ${SECONDS} x ${LIMIT} + ${BURST} (within 10%%) through three instances under saturation: %s`, async (_name, splits, at) => {
    const clock = new ManualClock(at);
    const start = clock.millis();
    const store = new TableRateLimitStore(services.storage);
    const options = { syncIntervalMs: SYNC_MS, idleSyncIntervalMs: 2000 };
    const limiters = splits.map(() => new RateLimiter({ store, plans: DEFAULT_PLANS, clock, options, log: silentLogger }));
    // The instances start and see one another (their heartbeats) before the load, as on start-up.
    for (const limiter of limiters) await limiter.sync();
    for (const limiter of limiters) await limiter.sync();

    const total = splits.reduce((a, b) => a + b, 0);
    const stepMs = 1000 / REQUESTS_PER_SECOND;
    let admitted = 0;
    let refused = 0;
    let nextSync = SYNC_MS;
    for (let n = 0, t = 0; t < SECONDS * 1000; n++, t = n * stepMs) {
      clock.set(new Date(start + t));
      // Each request goes to an instance in proportion to its split (a fixed spread, not random).
      const pick = (n * 7919) % total;
      let i = 0;
      for (let acc = splits[0]!; pick >= acc; acc += splits[++i]!);
      if (limiters[i]!.decide(key).allowed) admitted++;
      else refused++;
      if (t >= nextSync) {
        await Promise.all(limiters.map((limiter) => limiter.sync()));
        nextSync += SYNC_MS;
      }
    }
    const allowed = SECONDS * LIMIT + BURST;
    const ratio = admitted / allowed;
    console.log(`rate-limit accuracy (${splits.join('/')}): admitted ${admitted} of ${allowed} allowed (ratio ${ratio.toFixed(3)})`);
    expect(refused).toBeGreaterThan(admitted); // saturated
    expect(ratio).toBeGreaterThanOrEqual(0.9);
    expect(ratio).toBeLessThanOrEqual(1.1);
  });
});
