import { randomBytes } from 'node:crypto';
import { inflatingBody } from '../fixtures/inflating-body';
import { peakResidentBytes, resetPeakResident, residentBytes } from '../fixtures/process-memory';
import type { BenchContext } from './modules';

const CONCURRENT = 200;
const BUDGET_MIB = 128;
/** The constant docs/capacity.md states above the budget: the intake pool (8 x the 4 MiB body bound, 32 MiB) and the process's own. */
const CONSTANT_MIB = 64;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

/**
 * Figures 3e and 3f: a host with `INGEST_MEMORY_BUDGET_MB=128` receives 200 requests at once,
 * each about 4 KB of gzip that inflates to 4 MiB (a valid export padded with whitespace,
 * fixtures/inflating-body.ts), each on a connection of its own (fetch opens as many as are asked for). 3e: the host's peak resident
 * memory above where it stood before (the kernel's own peak, `VmHWM`, so no short peak is missed);
 * target the budget + 64 MiB. 3f: the p99 of health checks sent every 20 ms meanwhile; target
 * 500 ms. Answers are 200, or 503 `server_busy` with Retry-After for those whose turn did not come
 * within the 10 s wait.
 */
export async function ingestMemoryFigures(ctx: BenchContext): Promise<void> {
  const prefix = `b${randomBytes(4).toString('hex')}`;
  const seed = ctx.seeder(prefix);
  await seed.storage.ensureTables();
  await seed.useCases.customers.create({ slug: 'inflating', name: 'Inflating', plan: 'enterprise' });
  const op = { actor: { type: 'system' as const, id: 'bench', name: 'bench' }, requestId: 'bench' };
  const key = (await seed.useCases.keys.issue('inflating', { label: 'inflating', application: 'bench' }, op)).key;
  const host = await ctx.host(prefix, { INGEST_MEMORY_BUDGET_MB: String(BUDGET_MIB), NODE_OPTIONS: '--expose-gc' });
  const send = async (body: Buffer) => {
    const response = await fetch(`${host.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-api-key': key },
      body,
    });
    const text = await response.text();
    const code = response.status === 200 ? 'ok' : ((JSON.parse(text) as { code?: string }).code ?? String(response.status));
    return { status: response.status, code, retryAfter: response.headers.get('retry-after') };
  };
  try {
    const bodies = Array.from({ length: CONCURRENT }, () => inflatingBody().body);
    for (let i = 0; i < 3; i++) await send(inflatingBody().body); // warm: the key, the route, the code paths
    await fetch(`${host.url}/_local/diagnostics?gc=1`);
    const pid = host.child.pid!;
    const before = residentBytes(pid);
    const peakReset = resetPeakResident(pid);

    const health: number[] = [];
    let done = false;
    const poller = (async () => {
      while (!done) {
        const started = performance.now();
        await (await fetch(`${host.url}/v1/health`)).arrayBuffer();
        health.push(performance.now() - started);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const started = performance.now();
    const answers = await Promise.all(bodies.map((body) => send(body))).finally(() => (done = true));
    const seconds = (performance.now() - started) / 1000;
    await poller;
    const growthMiB = (peakResidentBytes(pid) - before) / 1048576;
    const byCode: Record<string, number> = {};
    for (const a of answers) byCode[a.code] = (byCode[a.code] ?? 0) + 1;
    const wellFormed = answers.every((a) => a.status === 200 || (a.code === 'server_busy' && Number(a.retryAfter) >= 1));
    const bound = BUDGET_MIB + CONSTANT_MIB;
    ctx.record({
      id: '3e',
      name: `peak resident memory growth, ${CONCURRENT} concurrent requests each inflating 4 KB to 4 MiB (budget ${BUDGET_MIB} MiB; answers ${JSON.stringify(byCode)} in ${seconds.toFixed(1)} s)`,
      value: growthMiB,
      unit: 'MiB',
      target: `<= ${bound} (budget + ${CONSTANT_MIB} MiB), answers 200 or 503 server_busy`,
      pass: growthMiB <= bound && wellFormed,
      detail: { residentBeforeMiB: before / 1048576, byCode, peakReset, compressedBytes: bodies[0]!.length, seconds },
    });
    const sorted = [...health].sort((a, b) => a - b);
    const p99 = percentile(sorted, 0.99);
    ctx.record({
      id: '3f',
      name: `health p99 during 3e (p50 ${percentile(sorted, 0.5).toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms, ${health.length} checks)`,
      value: p99,
      unit: 'ms',
      target: '<= 500',
      pass: p99 <= 500,
      detail: { p50: percentile(sorted, 0.5), p99, max: sorted.at(-1), checks: health.length },
    });
  } finally {
    await host.stop();
  }
}
