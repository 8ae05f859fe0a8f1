/**
 * Figures 2a and 2b of `npm run bench`: authentication with the auth cache off. 2a: storage reads
 * per authentication (exactly one point read); 2b: the p50 latency of a cold lookup among 100,000
 * keys over that among 100.
 */
import { randomBytes } from 'node:crypto';
import { diagnostics, load, cycling, median, seedKeys, sequentialLatencyMicros, sleep } from './measure';
import type { BenchContext } from './modules';

export async function coldLookupFigures(ctx: BenchContext): Promise<void> {
  const prefixSmall = `b${randomBytes(4).toString('hex')}`;
  const prefixLarge = `b${randomBytes(4).toString('hex')}`;
  const coldEnv = { AUTH_CACHE_TTL_SECONDS: '0', HEALTH_PROBE_INTERVAL_MS: '300000', USAGE_FLUSH_INTERVAL_MS: '600000' };
  const smallSecrets = await seedKeys(ctx.seeder(prefixSmall), 'small', 100);
  const largeCount = ctx.quick ? 20_000 : 100_000;
  const seedStarted = Date.now();
  const largeSecrets = await seedKeys(ctx.seeder(prefixLarge), 'large', largeCount);
  console.log(`     seeded ${largeCount} keys in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);
  const small = await ctx.host(prefixSmall, coldEnv);
  const large = await ctx.host(prefixLarge, coldEnv);
  await sleep(1500);
  const before = await diagnostics(small);
  const sample = 1000;
  await load({
    url: `${small.url}/v1/whoami`,
    amount: sample,
    connections: 10,
    requests: cycling(smallSecrets, (r, s) => (r.headers = { 'x-api-key': s })),
  });
  const after = await diagnostics(small);
  const readsPerAuth = (after.storageOperations.read! - before.storageOperations.read!) / sample;
  ctx.record({
    id: '2a',
    name: 'storage reads per authentication, cache off',
    value: readsPerAuth,
    unit: 'point reads',
    target: 'exactly 1',
    pass: Math.abs(readsPerAuth - 1) < 1e-9,
    detail: { before: before.storageOperations, after: after.storageOperations },
  });
  // Small blocks of each, interleaved, so drift on a shared machine (GC, neighbours) hits both alike.
  const latency = { small: [] as number[], large: [] as number[] };
  const shuffled = [...largeSecrets].sort(() => Math.random() - 0.5);
  for (let block = 0; block < (ctx.quick ? 20 : 40); block++) {
    latency.small.push(
      await sequentialLatencyMicros(
        `${small.url}/v1/whoami`,
        (i) => ({ 'x-api-key': smallSecrets[(block * 50 + i) % smallSecrets.length]! }),
        50,
      ),
    );
    latency.large.push(
      await sequentialLatencyMicros(`${large.url}/v1/whoami`, (i) => ({ 'x-api-key': shuffled[(block * 50 + i) % shuffled.length]! }), 50),
    );
  }
  const latencyRatio = median(latency.large) / median(latency.small);
  ctx.record({
    id: '2b',
    name: `cold lookup p50 latency, ${largeCount} keys (${median(latency.large).toFixed(0)} us) / 100 keys (${median(latency.small).toFixed(0)} us)`,
    value: latencyRatio,
    unit: '',
    target: '<= 1.2',
    pass: latencyRatio <= 1.2,
    detail: { p50Micros: latency },
  });
}
