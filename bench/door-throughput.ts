/**
 * Figures 1, 1b and 1c of `npm run bench`: what the API-key door costs. 1: the throughput of
 * `GET /v1/whoami` with a warm key over `GET /v1/health`, the same request to both; 1b: the host's
 * CPU time per request of each; 1c: the door alone, in process, per call.
 */
import type { ServiceContext } from '../app/context';
import type { RequestContext } from '../app/function-contract';
import { meterKeyRequest } from '../middleware/rate-limit';
import type { DoorVerdict, PresentedCredentials } from '../shared/auth/api-key-door';
import { diagnostics, load, median } from './measure';
import type { BenchContext } from './modules';

/**
 * Microseconds per call of the API-key door on a warm key, as the SDK presents it (the secret in
 * X-API-Key, the component in x-functions-key): the door's verdict and the metering that follows
 * it, the code every authenticated request runs. Median of 5 rounds of 200,000 calls.
 */
async function doorCostMicros(services: ServiceContext, key: string): Promise<number> {
  const [, component, secret] = key.split('.');
  const credentials: PresentedCredentials = { apiKey: secret, bearerKey: undefined, component, address: '127.0.0.1' };
  await services.revocations.poll();
  const warm = await services.door.check(credentials);
  if (!warm.ok) throw new Error(`the bench key was refused: ${warm.code}`);
  const ctx = { services, responseHeaders: {} as Record<string, string> } as unknown as RequestContext;
  const call = () => {
    const verdict = services.door.check(credentials) as DoorVerdict;
    if (!verdict.ok) throw new Error('refused');
    meterKeyRequest(verdict.identity, ctx);
  };
  const rounds: number[] = [];
  for (let round = 0; round < 6; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < 200_000; i++) call();
    if (round > 0) rounds.push(Number(process.hrtime.bigint() - started) / 200_000 / 1000);
  }
  return median(rounds);
}

export async function doorThroughputFigures(ctx: BenchContext): Promise<void> {
  const { services: seedA, key } = await ctx.main();
  // Figure 1c first, before any host process starts and while this process is quiet: a host
  // starting up, or this process's heap after the load runs, adds microseconds on two cores
  // that are not the door's.
  const doorMicros = await doorCostMicros(seedA, key);
  const a = await ctx.mainHost();

  const ratios: number[] = [];
  const rps = { health: [] as number[], whoami: [] as number[] };
  // The same request to both routes (the key header included), so the load generator's own cost
  // is the same and the difference is the service's work. Warm both paths first (JIT, caches),
  // then alternate them and take the median ratio.
  const sameRequest = { 'x-api-key': key };
  await load({ url: `${a.url}/v1/health`, duration: 2, headers: sameRequest });
  await load({ url: `${a.url}/v1/whoami`, duration: 2, headers: sameRequest });
  for (let round = 0; round < 5; round++) {
    const health = await load({ url: `${a.url}/v1/health`, duration: ctx.seconds(4), headers: sameRequest });
    const whoami = await load({ url: `${a.url}/v1/whoami`, duration: ctx.seconds(4), headers: sameRequest });
    rps.health.push(health.requests.average);
    rps.whoami.push(whoami.requests.average);
    ratios.push(whoami.requests.average / health.requests.average);
  }
  const authRatio = median(ratios);
  ctx.record({
    id: '1',
    name: 'whoami / health throughput',
    value: authRatio,
    unit: '',
    target: '>= 0.85',
    pass: authRatio >= 0.85,
    detail: { rounds: ratios, requestsPerSecond: rps },
  });
  const cpu = { health: 0, whoami: 0 };
  for (const route of ['health', 'whoami'] as const) {
    const c0 = ((await diagnostics(a)) as unknown as { cpuMicros: number }).cpuMicros;
    const run = await load({ url: `${a.url}/v1/${route}`, duration: ctx.seconds(4), headers: sameRequest });
    cpu[route] = (((await diagnostics(a)) as unknown as { cpuMicros: number }).cpuMicros - c0) / run.requests.total;
  }
  ctx.record({
    id: '1b',
    name: `host CPU per request: whoami ${cpu.whoami.toFixed(1)} us vs health ${cpu.health.toFixed(1)} us`,
    value: cpu.health / cpu.whoami,
    unit: 'ratio',
    detail: cpu,
  });
  ctx.record({
    id: '1c',
    name: 'the door alone per call, in process (hash, cache hit, component check, rate limit, usage count, RateLimit fields)',
    value: doorMicros,
    unit: 'us',
    target: '<= 3',
    pass: doorMicros <= 3,
  });
}
