/**
 * Figure 7 of `npm run bench`: a host's resident memory after 100,000 requests over 10,000 keys,
 * with the heap after the load and after a forced collection.
 */
import { randomBytes } from 'node:crypto';
import { cycling, diagnostics, load, seedKeys } from './measure';
import type { BenchContext } from './modules';

export async function keyMemoryFigure(ctx: BenchContext): Promise<void> {
  const prefixMemory = `b${randomBytes(4).toString('hex')}`;
  const memorySecrets = await seedKeys(ctx.seeder(prefixMemory), 'memory', 10_000);
  const m = await ctx.host(prefixMemory, { USAGE_FLUSH_INTERVAL_MS: '5000', NODE_OPTIONS: '--expose-gc' });
  const rssBefore = (await diagnostics(m)).rssBytes;
  await load({
    url: `${m.url}/v1/whoami`,
    amount: ctx.quick ? 30_000 : 100_000,
    connections: 20,
    requests: cycling(memorySecrets, (r, s) => (r.headers = { 'x-api-key': s })),
  });
  const afterLoad = await diagnostics(m);
  const memory = (await (await fetch(`${m.url}/_local/diagnostics?gc=1`)).json()) as typeof afterLoad;
  ctx.record({
    id: '7',
    name: `resident memory after ${ctx.quick ? 30_000 : 100_000} requests over 10,000 keys (heap retained ${(memory.heapUsedBytes / 1024 / 1024).toFixed(0)} MiB; auth cache ${memory.authCacheEntries} of at most ${memory.authCacheMaxEntries} entries)`,
    value: memory.rssBytes / 1024 / 1024,
    unit: 'MiB',
    detail: {
      rssBeforeMiB: rssBefore / 1024 / 1024,
      rssAfterLoadMiB: afterLoad.rssBytes / 1024 / 1024,
      heapAfterLoadMiB: afterLoad.heapUsedBytes / 1024 / 1024,
      heapRetainedMiB: memory.heapUsedBytes / 1024 / 1024,
      authCacheEntries: memory.authCacheEntries,
      bound: memory.authCacheMaxEntries,
    },
  });
}
