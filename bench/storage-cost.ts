/**
 * Figures 6 and 6b of `npm run bench`, on the main host in a steady state: request-driven storage
 * operations per authenticated request, and time-driven ones per instance-second.
 */
import { backgroundOperationsPerSecond } from '../app/compose';
import { BENCH_OP as op, cycling, diagnostics, load, sleep } from './measure';
import type { BenchContext } from './modules';

export async function storageCostFigures(ctx: BenchContext): Promise<void> {
  const { prefix: prefixA, services: seedA } = await ctx.main();
  const a = await ctx.mainHost();
  const hundred: string[] = [];
  for (let i = 0; i < 100; i++)
    hundred.push((await seedA.useCases.keys.issue('bench', { label: `steady-${i}`, application: 'bench' }, op)).key);
  await load({
    url: `${a.url}/v1/whoami`,
    amount: 200,
    connections: 10,
    requests: cycling(hundred, (r, k) => (r.headers = { 'x-api-key': k })),
  });
  await sleep(2500); // one usage flush of the warm-up
  const opsBefore = await diagnostics(a);
  const steadyStart = performance.now();
  const steady = await load({
    url: `${a.url}/v1/whoami`,
    amount: 10_000,
    connections: 20,
    requests: cycling(hundred, (r, k) => (r.headers = { 'x-api-key': k })),
  });
  await sleep(2500); // the flush of these requests is counted too
  const opsAfter = await diagnostics(a);
  const steadySeconds = (performance.now() - steadyStart) / 1000;
  // Requests pay per request (the usage flush of their counts included); background work
  // (feed polls, limiter syncs, health probes) pays per second of wall time, whatever the load.
  const requestDriven = opsAfter.storageOperations.requestDriven - opsBefore.storageOperations.requestDriven;
  const timeDriven = opsAfter.storageOperations.timeDriven - opsBefore.storageOperations.timeDriven;
  const perRequest = requestDriven / steady.requests.total;
  ctx.record({
    id: '6',
    name: 'request-driven storage operations per authenticated request (10,000 over 100 keys)',
    value: perRequest,
    unit: 'ops',
    target: '<= 0.01',
    pass: perRequest <= 0.01,
    detail: { operations: requestDriven, requests: steady.requests.total },
  });
  const backgroundBound = backgroundOperationsPerSecond(ctx.config(prefixA));
  ctx.record({
    id: '6b',
    name: 'time-driven storage operations per instance-second (feed polls, limiter syncs, health probes)',
    value: timeDriven / steadySeconds,
    unit: 'ops/s',
    target: `<= ${backgroundBound.toFixed(1)} (from the configured intervals)`,
    pass: timeDriven / steadySeconds <= backgroundBound,
    detail: { operations: timeDriven, seconds: steadySeconds },
  });
}
