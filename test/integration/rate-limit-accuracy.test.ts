import { TableRateLimitStore } from '../../shared/adapters/table/table-rate-limit-store';
import type { ServiceContext } from '../../app/context';
import { simulateSaturation } from '../support/rate-limits';
import { testServices } from '../support/services';

const LIMIT = 50; // requests per second for the key under test
const BURST = 5;
const SECONDS = 10;
const REQUESTS_PER_SECOND = 1000; // offered load, all instances together: 20 x the limit

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
    const store = new TableRateLimitStore(services.storage);
    const { admitted, refused, allowed } = await simulateSaturation({
      store,
      splits,
      seconds: SECONDS,
      rate: LIMIT,
      burst: BURST,
      requestsPerSecond: REQUESTS_PER_SECOND,
      at,
    });
    const ratio = admitted / allowed;
    console.log(`rate-limit accuracy (${splits.join('/')}): admitted ${admitted} of ${allowed} allowed (ratio ${ratio.toFixed(3)})`);
    expect(refused).toBeGreaterThan(admitted); // saturated
    expect(ratio).toBeGreaterThanOrEqual(0.9);
    expect(ratio).toBeLessThanOrEqual(1.1);
  });
});
