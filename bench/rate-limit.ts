/**
 * Figure 5 of `npm run bench`: one key limited to 50/s (burst 5), saturated through three hosts
 * on the main tables at once; what they admitted over what the limit allows.
 */
import { BENCH_OP as op, load, sleep } from './measure';
import type { BenchContext } from './modules';

export async function rateLimitFigure(ctx: BenchContext): Promise<void> {
  const { prefix: prefixA, services: seedA } = await ctx.main();
  const a = await ctx.mainHost();
  const b = await ctx.host(prefixA, { USAGE_FLUSH_INTERVAL_MS: '2000' });
  const c = await ctx.host(prefixA, { USAGE_FLUSH_INTERVAL_MS: '2000' });
  const limited = await seedA.useCases.keys.issue('bench', { label: 'limited', application: 'bench' }, op);
  await seedA.useCases.keys.setRateLimit('bench', limited.metadata.id, { requestsPerSecond: 50, burst: 5 }, op);
  for (const h of [a, b, c]) await fetch(`${h.url}/v1/whoami`, { headers: { 'x-api-key': limited.key } });
  await sleep(3000);
  const duration = ctx.seconds(10);
  const t0 = performance.now();
  const runs = await Promise.all(
    [a, b, c].map((h) => load({ url: `${h.url}/v1/whoami`, duration, connections: 8, headers: { 'x-api-key': limited.key } })),
  );
  // What the limit allows over the time the load actually ran (a run overshoots its nominal duration).
  const elapsed = (performance.now() - t0) / 1000;
  const admitted = runs.reduce((sum, r) => sum + r['2xx'], 0);
  const allowed = Math.round(50 * elapsed + 5);
  const accuracy = admitted / allowed;
  ctx.record({
    id: '5',
    name: `rate limit: admitted ${admitted} / allowed ${allowed} (50/s, burst 5, ${elapsed.toFixed(1)} s, 3 hosts)`,
    value: accuracy,
    unit: '',
    target: '0.9 to 1.1',
    pass: accuracy >= 0.9 && accuracy <= 1.1,
    detail: { admitted, allowed, elapsedSeconds: elapsed, offered: runs.reduce((s, r) => s + r.requests.total, 0) },
  });
}
