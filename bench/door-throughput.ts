/**
 * Figures 1, 1b, 1c, 1d and 1e of `npm run bench`: what the API-key door costs. 1: the throughput
 * of `GET /v1/whoami` with a warm key over `GET /v1/health`, the same request to both; 1b: the
 * host's CPU time per request of each; 1c: the door alone, in process, per call; 1d: the same for a
 * federated access token over a key; 1e: what metrics and tracing add to one authenticated
 * request with the OpenTelemetry SDK installed, in process.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider, type Sampler, type SpanExporter } from '@opentelemetry/sdk-trace';
import { RateLimitedSampler } from '@azure/monitor-opentelemetry-exporter';
import { randomUUID } from 'node:crypto';
import type { ServiceContext } from '../app/context';
import type { RequestContext } from '../app/function-contract';
import { meterKeyRequest } from '../middleware/rate-limit';
import type { DoorVerdict, PresentedCredentials } from '../shared/auth/api-key-door';
import type { KeyIdentity } from '../shared/domain';
import { METRICS } from '../shared/telemetry/metrics';
import { Telemetry } from '../shared/telemetry/telemetry';
import { Tracing } from '../shared/telemetry/tracing';
import { diagnostics, load, median, sleep } from './measure';
import type { BenchContext } from './modules';
import { mintBenchToken, startBenchIssuer } from './token-exchange';

/**
 * This process's CPU time since `started`, in microseconds: what the in-process figures (1c, 1e)
 * time their loops with, so that time the two shared cores give to other processes is not
 * counted as the code's.
 */
function cpuMicrosSince(started: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(started);
  return user + system;
}

/**
 * One warm call of the door and the metering that follows its verdict, the code every
 * authenticated request runs, for what a request presents (warmed first: the credential's
 * identity in the auth cache). A call that would need I/O, or is refused, throws.
 */
async function warmDoorCall(services: ServiceContext, credentials: PresentedCredentials): Promise<() => void> {
  await services.revocations.poll();
  const warm = await services.door.check(credentials);
  if (!warm.ok) throw new Error(`the bench credential was refused: ${warm.code}`);
  const ctx = { services, responseHeaders: {} as Record<string, string> } as unknown as RequestContext;
  return () => {
    const verdict = services.door.check(credentials) as DoorVerdict;
    if (!verdict.ok) throw new Error('refused');
    meterKeyRequest(verdict.identity, ctx);
  };
}

/** Calls per round of figures 1c and 1d. */
const DOOR_ROUND = 200_000;

/** Microseconds of this process's CPU time per call of `call`, over one round. */
function doorRoundMicros(call: () => void): number {
  const started = process.cpuUsage();
  for (let i = 0; i < DOOR_ROUND; i++) call();
  return cpuMicrosSince(started) / DOOR_ROUND;
}

/** A warm key as the SDK presents it: the secret in X-API-Key, the component in x-functions-key. */
function keyCredentials(key: string): PresentedCredentials {
  const [, component, secret] = key.split('.');
  return { apiKey: secret, bearerKey: undefined, component, address: '127.0.0.1' };
}

/**
 * Microseconds per call of the API-key door on a warm key, as the SDK presents it: the door's
 * verdict and the metering that follows it. Median of 5 rounds of 200,000 calls (after one not
 * counted), in this process's CPU time.
 */
async function doorCostMicros(services: ServiceContext, key: string): Promise<number> {
  const call = await warmDoorCall(services, keyCredentials(key));
  const rounds: number[] = [];
  for (let round = 0; round < 6; round++) {
    const micros = doorRoundMicros(call);
    if (round > 0) rounds.push(micros);
  }
  return median(rounds);
}

/**
 * Figure 1d: the door and its metering per warm call for a federated access token, as the SDK
 * presents it (the whole token in `Authorization: Bearer`, nothing in x-functions-key), and for
 * the same customer's ingest key as figure 1c presents it, in interleaved rounds of 200,000 calls
 * each (the order swapped every round, the first round not counted), in this process's CPU time.
 * The figure is the median of the rounds' ratios, token / key.
 */
async function tokenVersusKeyMicros(
  services: ServiceContext,
  key: string,
  token: string,
): Promise<{ ratio: number; keyMicros: number; tokenMicros: number; rounds: { key: number[]; token: number[]; ratio: number[] } }> {
  const keyCall = await warmDoorCall(services, keyCredentials(key));
  const tokenCall = await warmDoorCall(services, { apiKey: undefined, bearerKey: token, component: undefined, address: '127.0.0.1' });
  const rounds = { key: [] as number[], token: [] as number[], ratio: [] as number[] };
  for (let round = 0; round < 8; round++) {
    const keyFirst = round % 2 === 0;
    const first = doorRoundMicros(keyFirst ? keyCall : tokenCall);
    const second = doorRoundMicros(keyFirst ? tokenCall : keyCall);
    if (round === 0) continue;
    const [keyMicros, tokenMicros] = keyFirst ? [first, second] : [second, first];
    rounds.key.push(keyMicros);
    rounds.token.push(tokenMicros);
    rounds.ratio.push(tokenMicros / keyMicros);
  }
  return { ratio: median(rounds.ratio), keyMicros: median(rounds.key), tokenMicros: median(rounds.token), rounds };
}

/** The traces a second the Azure Monitor distro samples by default (`tracesPerSecond`), as app/azure-monitor.ts starts it. */
const AZURE_TRACES_PER_SECOND = 5;

/** A span exporter that drops what it is handed (the export itself is not the request's cost). */
const droppingExporter: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => {},
  forceFlush: async () => {},
};

/** Requests per round of figure 1e. */
const TELEMETRY_ROUND = 50_000;

/**
 * Microseconds that metrics and tracing add to one authenticated request, with the OpenTelemetry
 * SDK installed as in Azure: a TracerProvider with a BatchSpanProcessor (its exporter drops the
 * batches) and `sampler`, the async-hooks context manager the distro registers, and the service's
 * MeterProvider with its own reader and a periodic exporting one. One request's telemetry is what
 * the request path calls (middleware/error-boundary.ts, credentials.ts, rate-limit.ts): its
 * request span (started active, the request id set, the status set, ended), the door's decision
 * counted (one in 64 timed), the key annotated on the span, the outcome counted. The cost is
 * that, less the same asynchronous call without it, in interleaved rounds (median of 7, in this
 * process's CPU time). The
 * SDK's own floor is measured beside it: a span without attributes, started active and ended,
 * around the same call (what any request span costs, whoever makes it).
 */
async function telemetryCostMicros(
  identity: KeyIdentity,
  sampler: Sampler | undefined,
): Promise<{ micros: number; floorMicros: number; rounds: { added: number[]; sdkFloor: number[] } }> {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  const provider = new TracerProvider({
    ...(sampler ? { sampler } : {}),
    spanProcessors: [new BatchSpanProcessor({ exporter: droppingExporter })],
  });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const telemetry = new Telemetry({
    readers: [new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 1000 })],
  });
  const metrics = telemetry.metrics;
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  const tracing = new Tracing();
  const span = tracing.requestSpan('GET', 'v1/whoami');
  const requestIds = Array.from({ length: 1024 }, () => randomUUID());
  const response = { status: 200 };
  const handle = async () => {
    const started = metrics.timesNextHit() ? performance.now() : 0;
    if (metrics.authHit()) metrics.authHitTime(performance.now() - started);
    tracing.annotateKey(identity);
    metrics.auth('ok', identity);
    return response;
  };
  const bare = async () => response;
  const time = async (one: (i: number) => Promise<unknown>) => {
    const started = process.cpuUsage();
    for (let i = 0; i < TELEMETRY_ROUND; i++) await one(i);
    return cpuMicrosSince(started) / TELEMETRY_ROUND;
  };
  const withTelemetry = (i: number) => tracing.request(span, requestIds[i & 1023]!, handle);
  const tracer = trace.getTracer('bench.floor');
  const floorOptions = { kind: span.options.kind };
  const sdkFloor = () =>
    tracer.startActiveSpan(span.name, floorOptions, async (s) => {
      try {
        return await bare();
      } finally {
        s.end();
      }
    });
  const rounds = { added: [] as number[], sdkFloor: [] as number[] };
  try {
    for (let round = 0; round < 8; round++) {
      const a = await time(withTelemetry);
      const f = await time(sdkFloor);
      const b = await time(bare);
      if (round > 0) {
        rounds.added.push(a - b);
        rounds.sdkFloor.push(f - b);
      }
      metricExporter.reset();
      await sleep(5); // the processor's and the reader's timers run between rounds, as between requests
    }
    const counted = (await telemetry.snapshot()).filter((p) => p.name === METRICS.authOutcomes).reduce((sum, p) => sum + p.value, 0);
    if (counted !== 8 * TELEMETRY_ROUND) throw new Error(`figure 1e: ${counted} outcomes counted for ${8 * TELEMETRY_ROUND} requests`);
  } finally {
    trace.disable();
    context.disable();
    await provider.shutdown();
    await telemetry.shutdown();
  }
  return { micros: median(rounds.added), floorMicros: median(rounds.sdkFloor), rounds };
}

export async function doorThroughputFigures(ctx: BenchContext): Promise<void> {
  const { services: seedA, key } = await ctx.main();
  // Figures 1c, 1d and 1e first, before any host process starts and while this process is quiet: a
  // host starting up, or this process's heap after the load runs, adds microseconds on two cores
  // that are not the door's.
  const doorMicros = await doorCostMicros(seedA, key);
  // Figure 1d: a federated token of the same customer, minted by the token exchange in this
  // process (a trust policy on the main tables, an identity token of a loopback issuer).
  const issuer = await startBenchIssuer();
  const token = await mintBenchToken(seedA, issuer, 'bench').finally(() => issuer.close());
  const federated = await tokenVersusKeyMicros(seedA, key, token);
  const warm = await seedA.door.check({ apiKey: key, bearerKey: undefined, component: undefined, address: '127.0.0.1' });
  if (!warm.ok) throw new Error(`the bench key was refused: ${warm.code}`);
  // As deployed (the Azure Monitor distro's default sampler: 5 traces a second), and with every
  // span recorded (the SDK's default sampler).
  const telemetryDeployed = await telemetryCostMicros(warm.identity, new RateLimitedSampler(AZURE_TRACES_PER_SECOND));
  const telemetryAllRecorded = await telemetryCostMicros(warm.identity, undefined);
  const a = await ctx.mainHost();

  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  const rps = { health: [] as number[], whoami: [] as number[] };
  const cpu = { health: [] as number[], whoami: [] as number[] };
  const cpuMicros = async () => ((await diagnostics(a)) as unknown as { cpuMicros: number }).cpuMicros;
  // The same request to both routes (the key header included), so the load generator's own cost
  // is the same and the difference is the service's work. Warm both paths first (JIT, caches),
  // then alternate them; each load's throughput (figure 1) and the host's CPU time per request
  // (figure 1b, read from the host before and after it), median of the rounds' ratios.
  const sameRequest = { 'x-api-key': key };
  await load({ url: `${a.url}/v1/health`, duration: 2, headers: sameRequest });
  await load({ url: `${a.url}/v1/whoami`, duration: 2, headers: sameRequest });
  const measured = async (route: 'health' | 'whoami') => {
    const before = await cpuMicros();
    const run = await load({ url: `${a.url}/v1/${route}`, duration: ctx.seconds(4), headers: sameRequest });
    cpu[route].push(((await cpuMicros()) - before) / run.requests.total);
    rps[route].push(run.requests.average);
  };
  for (let round = 0; round < 5; round++) {
    await measured('health');
    await measured('whoami');
    ratios.push(rps.whoami[round]! / rps.health[round]!);
    cpuRatios.push(cpu.health[round]! / cpu.whoami[round]!);
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
  const cpuRatio = median(cpuRatios);
  ctx.record({
    id: '1b',
    name: `host CPU per request, health / whoami: whoami ${median(cpu.whoami).toFixed(1)} us vs health ${median(cpu.health).toFixed(1)} us`,
    value: cpuRatio,
    unit: 'ratio',
    target: '>= 0.85',
    pass: cpuRatio >= 0.85,
    detail: { rounds: cpuRatios, cpuMicrosPerRequest: cpu },
  });
  ctx.record({
    id: '1c',
    name: 'the door alone per call, in process (hash, cache hit, component check, rate limit, usage count, RateLimit fields)',
    value: doorMicros,
    unit: 'us',
    target: '<= 1.2',
    pass: doorMicros <= 1.2,
  });
  ctx.record({
    id: '1d',
    name:
      `the door per warm call, federated token / ingest key, in process, interleaved: token ${federated.tokenMicros.toFixed(3)} us,` +
      ` key ${federated.keyMicros.toFixed(3)} us`,
    value: federated.ratio,
    unit: 'ratio',
    target: '<= 1.1',
    pass: federated.ratio <= 1.1,
    detail: { rounds: federated.rounds },
  });
  ctx.record({
    id: '1e',
    name:
      `metrics and tracing per authenticated request, in process, OpenTelemetry SDK installed, sampled as deployed (${AZURE_TRACES_PER_SECOND} traces/s;` +
      ` the SDK's bare span ${telemetryDeployed.floorMicros.toFixed(2)} us of it); every span recorded: ${telemetryAllRecorded.micros.toFixed(2)} us` +
      ` (bare span ${telemetryAllRecorded.floorMicros.toFixed(2)} us)`,
    value: telemetryDeployed.micros,
    unit: 'us',
    target: '<= 2',
    pass: telemetryDeployed.micros <= 2,
    detail: { deployedSampler: telemetryDeployed.rounds, everySpanRecorded: telemetryAllRecorded.rounds },
  });
}
