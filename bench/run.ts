/**
 * `npm run bench`: the figures behind the service's claims, measured side by side in one run
 * against local hosts (separate processes, as in production) on one Azurite. Prints one table
 * and writes it as JSON under bench/results/. See bench/README.md for what each figure means.
 */
import autocannon from 'autocannon';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startAzurite } from '../local/azurite';
import { PROJECT_ROOT, startHostProcess, type HostProcess } from '../local/host-process';
import { TableKeyRepository } from '../shared/adapters/table/table-key-repository';
import { DEFAULT_PLANS, loadConfig } from '../shared/config';
import { LIST_PARTITIONS, SESSION_PARTITIONS } from '../shared/adapters/table/table-session-repository';
import type { StorageOperationRecord } from '../shared/adapters/table/storage-operations';
import { modelPartitionLoad, sequentialRoundTrips } from './partition-load';
import { masterComponentState } from '../shared/domain';
import { generateSecret, hashSecret } from '../shared/keys/compound-key';
import { silentLogger } from '../shared/logging';
import { backgroundOperationsPerSecond, createServices } from '../app/compose';
import type { ServiceContext } from '../app/context';
import { hostileCases } from '../fixtures/hostile-otlp';
import type { RequestContext } from '../app/function-contract';
import { meterKeyRequest } from '../middleware/rate-limit';
import type { DoorVerdict, PresentedCredentials } from '../shared/auth/api-key-door';
import { onlyFigures, runFigureModules, type BenchContext, type Figure } from './modules';

const QUICK = process.env.BENCH_QUICK === '1';
/** `npm run bench -- --only 3e,5b`: only the figure modules that measure those (bench/modules.ts). */
const ONLY = onlyFigures(process.argv.slice(2));
const seconds = (full: number) => (QUICK ? Math.max(1, Math.round(full / 3)) : full);

const figures: Figure[] = [];
const record = (figure: Figure) => {
  figures.push(figure);
  console.log(
    `  ${figure.id.padEnd(4)} ${figure.name}: ${format(figure.value)} ${figure.unit}${figure.target ? `   (target ${figure.target}: ${figure.pass ? 'met' : 'NOT met'})` : ''}`,
  );
};
const format = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(3) : v.toFixed(4));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function load(options: autocannon.Options): Promise<autocannon.Result> {
  return autocannon({ connections: 20, ...options });
}

/** Cycles through a list for autocannon requests (distinct keys or bodies per request). */
function cycling<T>(items: T[], apply: (request: autocannon.Request, item: T) => void): autocannon.Request[] {
  let i = 0;
  return [{ setupRequest: (request: autocannon.Request) => (apply(request, items[i++ % items.length]!), request) }];
}

/**
 * Median latency of `n` sequential GETs over one kept-alive connection, in microseconds
 * (autocannon reports whole milliseconds, too coarse for sub-millisecond reads).
 */
async function sequentialLatencyMicros(url: string, headersFor: (i: number) => Record<string, string>, n: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(url, { agent, headers: headersFor(i) }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    samples.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  agent.destroy();
  return median(samples);
}

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

async function diagnostics(host: HostProcess) {
  return (await (await fetch(`${host.url}/_local/diagnostics`)).json()) as {
    storageOperations: Record<string, number> & { total: number; requestDriven: number; timeDriven: number };
    authCacheEntries: number;
    authCacheMaxEntries: number;
    rssBytes: number;
    heapUsedBytes: number;
  };
}

async function main() {
  const started = new Date();
  console.log(`Benchmark${QUICK ? ' (quick)' : ''}: starting Azurite and hosts...`);
  const azurite = await startAzurite({ tablePort: 0 });
  const dataDir = mkdtempSync(join(tmpdir(), 'vp-bench-'));
  const baseEnv = {
    VERIPROOF_LOCAL_MODE: 'true',
    TABLES_CONNECTION_STRING: azurite.connectionString,
    LOCAL_DATA_DIR: dataDir,
    PORTAL_JWT_SECRET: `bench-${randomBytes(24).toString('hex')}`,
    PORTAL_JWT_ISSUER: 'bench',
    PORTAL_JWT_AUDIENCE: 'bench',
    PLANS: JSON.stringify({ enterprise: { keyLimit: 10_000, requestsPerSecond: 1_000_000, burst: 10_000_000 } }),
  };
  const hosts: HostProcess[] = [];
  const contexts: ServiceContext[] = [];
  const host = async (prefix: string, env: Record<string, string> = {}) => {
    const h = await startHostProcess(['--no-azurite', '--no-demo', '--no-timers', '--diagnostics', '--port', String(await freePort())], {
      ...baseEnv,
      TABLES_PREFIX: prefix,
      ...env,
    });
    hosts.push(h);
    return h;
  };
  /** Services in this process on a host's tables, to seed data quickly. */
  const seeder = (prefix: string) => {
    const services = createServices(loadConfig({ ...baseEnv, TABLES_PREFIX: prefix }), { background: false, log: silentLogger });
    contexts.push(services);
    return services;
  };
  const op = { actor: { type: 'system' as const, id: 'bench', name: 'bench' }, requestId: 'bench' };

  /** A customer with `count` keys whose lookup rows are written directly (fast), returning their secrets. */
  async function seedKeys(services: ServiceContext, slug: string, count: number): Promise<string[]> {
    const customer = await services.customers.create({ slug, name: slug, plan: 'enterprise' });
    const repo = new TableKeyRepository(services.storage);
    const secrets: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const secret = generateSecret();
        secrets.push(secret);
        await repo.insertLookup({
          secretHash: hashSecret(secret),
          status: 'active',
          customerId: customer.id,
          customerSlug: customer.slug,
          plan: customer.plan,
          keyId: `key_BENCH${String(i).padStart(21, '0')}`,
          keyLabel: `bench-${i}`,
          application: 'bench',
          environment: 'live',
          keyType: 'secondary',
          masterComponent: masterComponentState(customer),
        });
      }
    };
    await Promise.all(Array.from({ length: 48 }, worker));
    return secrets;
  }

  const moduleContext: BenchContext = { quick: QUICK, host, seeder, record };

  try {
    if (ONLY) return await runFigureModules(moduleContext, ONLY).then(() => summarise(started));
    // --- A: the main host, warm cache ------------------------------------------------------
    const prefixA = `b${randomBytes(4).toString('hex')}`;
    const seedA = seeder(prefixA);
    await seedA.storage.ensureTables(); // the host would create them; it starts after figure 1c
    await seedA.customers.create({ slug: 'bench', name: 'Bench', plan: 'enterprise' });
    const issued = await seedA.keys.issue('bench', { label: 'bench-main', application: 'bench' }, op);
    const key = issued.key;
    // Figure 1c first, before any host process starts and while this process is quiet: a host
    // starting up, or this process's heap after the load runs, adds microseconds on two cores
    // that are not the door's.
    const doorMicros = await doorCostMicros(seedA, key);
    const a = await host(prefixA, { USAGE_FLUSH_INTERVAL_MS: '2000' });

    console.log('\n1. Auth overhead (warm cache)');
    const ratios: number[] = [];
    const rps = { health: [] as number[], whoami: [] as number[] };
    // The same request to both routes (the key header included), so the load generator's own cost
    // is the same and the difference is the service's work. Warm both paths first (JIT, caches),
    // then alternate them and take the median ratio.
    const sameRequest = { 'x-api-key': key };
    await load({ url: `${a.url}/v1/health`, duration: 2, headers: sameRequest });
    await load({ url: `${a.url}/v1/whoami`, duration: 2, headers: sameRequest });
    for (let round = 0; round < 5; round++) {
      const health = await load({ url: `${a.url}/v1/health`, duration: seconds(4), headers: sameRequest });
      const whoami = await load({ url: `${a.url}/v1/whoami`, duration: seconds(4), headers: sameRequest });
      rps.health.push(health.requests.average);
      rps.whoami.push(whoami.requests.average);
      ratios.push(whoami.requests.average / health.requests.average);
    }
    const authRatio = median(ratios);
    record({
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
      const run = await load({ url: `${a.url}/v1/${route}`, duration: seconds(4), headers: sameRequest });
      cpu[route] = (((await diagnostics(a)) as unknown as { cpuMicros: number }).cpuMicros - c0) / run.requests.total;
    }
    record({
      id: '1b',
      name: `host CPU per request: whoami ${cpu.whoami.toFixed(1)} us vs health ${cpu.health.toFixed(1)} us`,
      value: cpu.health / cpu.whoami,
      unit: 'ratio',
      detail: cpu,
    });
    record({
      id: '1c',
      name: 'the door alone per call, in process (hash, cache hit, component check, rate limit, usage count, RateLimit fields)',
      value: doorMicros,
      unit: 'us',
      target: '<= 3',
      pass: doorMicros <= 3,
    });

    console.log('\n2. Cold auth (auth cache off)');
    const prefixSmall = `b${randomBytes(4).toString('hex')}`;
    const prefixLarge = `b${randomBytes(4).toString('hex')}`;
    const coldEnv = { AUTH_CACHE_TTL_SECONDS: '0', HEALTH_PROBE_INTERVAL_MS: '300000', USAGE_FLUSH_INTERVAL_MS: '600000' };
    const smallSecrets = await seedKeys(seeder(prefixSmall), 'small', 100);
    const largeCount = QUICK ? 20_000 : 100_000;
    const seedStarted = Date.now();
    const largeSecrets = await seedKeys(seeder(prefixLarge), 'large', largeCount);
    console.log(`     seeded ${largeCount} keys in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);
    const small = await host(prefixSmall, coldEnv);
    const large = await host(prefixLarge, coldEnv);
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
    record({
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
    for (let block = 0; block < (QUICK ? 20 : 40); block++) {
      latency.small.push(
        await sequentialLatencyMicros(
          `${small.url}/v1/whoami`,
          (i) => ({ 'x-api-key': smallSecrets[(block * 50 + i) % smallSecrets.length]! }),
          50,
        ),
      );
      latency.large.push(
        await sequentialLatencyMicros(
          `${large.url}/v1/whoami`,
          (i) => ({ 'x-api-key': shuffled[(block * 50 + i) % shuffled.length]! }),
          50,
        ),
      );
    }
    const latencyRatio = median(latency.large) / median(latency.small);
    record({
      id: '2b',
      name: `cold lookup p50 latency, ${largeCount} keys (${median(latency.large).toFixed(0)} us) / 100 keys (${median(latency.small).toFixed(0)} us)`,
      value: latencyRatio,
      unit: '',
      target: '<= 1.2',
      pass: latencyRatio <= 1.2,
      detail: { p50Micros: latency },
    });

    console.log('\n3. Ingest (spans per second, stored vs parse-only)');
    const ingest: Record<string, unknown> = {};
    for (const spansPerRequest of [1, 10, 100]) {
      for (const encoding of ['json', 'protobuf'] as const) {
        const bodies = payloads(spansPerRequest, encoding, QUICK ? 100 : 300);
        const type = encoding === 'json' ? 'application/json' : 'application/x-protobuf';
        const stored = await load({
          url: `${a.url}/v1/traces`,
          method: 'POST',
          duration: seconds(4),
          connections: 10,
          headers: { 'x-api-key': key, 'content-type': type },
          requests: cycling(bodies, (r, b) => (r.body = b)),
        });
        const parsed = await load({
          url: `${a.url}/_local/parse-only/traces`,
          method: 'POST',
          duration: seconds(4),
          connections: 10,
          headers: { 'content-type': type },
          requests: cycling(bodies, (r, b) => (r.body = b)),
        });
        const storedSpans = stored.requests.average * spansPerRequest;
        const parsedSpans = parsed.requests.average * spansPerRequest;
        const non2xx = stored.non2xx;
        ingest[`${encoding}-${spansPerRequest}`] = {
          storedSpansPerSecond: storedSpans,
          parseOnlySpansPerSecond: parsedSpans,
          ratio: storedSpans / parsedSpans,
          non2xx,
        };
        record({
          id: '3',
          name: `${encoding} x ${spansPerRequest} span(s): stored ${storedSpans.toFixed(0)} spans/s vs parse-only ${parsedSpans.toFixed(0)}`,
          value: storedSpans / parsedSpans,
          unit: 'ratio',
          detail: { non2xx },
        });
      }
    }

    console.log('\n3b. Worst-case bodies: processing time, and the health route meanwhile');
    const hostile = hostileCases().filter((c) => c.expect.status === 200);
    const sendHostile = async (c: (typeof hostile)[number]) => {
      const t = performance.now();
      const response = await fetch(`${a.url}/v1/traces`, {
        method: 'POST',
        headers: {
          'x-api-key': key,
          'content-type': c.format === 'json' ? 'application/json' : 'application/x-protobuf',
          ...(c.gzip ? { 'content-encoding': 'gzip' } : {}),
        },
        body: c.body,
      });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`${c.name}: ${response.status}`);
      return performance.now() - t;
    };
    const processing: Record<string, { wallMs: number; cpuMs: number }> = {};
    const cpuMicros = async () => ((await diagnostics(a)) as unknown as { cpuMicros: number }).cpuMicros;
    for (const c of hostile) {
      const wall: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < 3; i++) {
        const c0 = await cpuMicros();
        wall.push(await sendHostile(c));
        cpu.push(((await cpuMicros()) - c0) / 1000);
      }
      processing[c.name] = { wallMs: median(wall), cpuMs: median(cpu) };
    }
    const worst = (by: 'wallMs' | 'cpuMs') => Object.entries(processing).sort(([, x], [, y]) => y[by] - x[by])[0]!;
    const [wallName, wallWorst] = worst('wallMs');
    const [cpuName, cpuWorst] = worst('cpuMs');
    record({
      id: '3b',
      name: `worst-case body, wall time until the 200 (${wallName})`,
      value: wallWorst.wallMs,
      unit: 'ms',
      target: '<= 5000',
      pass: wallWorst.wallMs <= 5000,
      detail: { byCase: processing },
    });
    record({
      id: '3c',
      name: `worst-case body, host CPU time (${cpuName})`,
      value: cpuWorst.cpuMs,
      unit: 'ms',
      target: '<= 1500',
      pass: cpuWorst.cpuMs <= 1500,
    });
    const healthLatencies: number[] = [];
    let sending = true;
    const senders = Array.from({ length: 2 }, async (_, n) => {
      for (let i = n; sending; i++) await sendHostile(hostile[i % hostile.length]!);
    });
    const probeUntil = performance.now() + seconds(12) * 1000;
    while (performance.now() < probeUntil) {
      const t = performance.now();
      await (await fetch(`${a.url}/v1/health`)).arrayBuffer();
      healthLatencies.push(performance.now() - t);
      await sleep(20);
    }
    sending = false;
    await Promise.all(senders);
    const sortedHealth = [...healthLatencies].sort((x, y) => x - y);
    const healthP99 = sortedHealth[Math.floor(sortedHealth.length * 0.99)]!;
    record({
      id: '3d',
      name: `health p99 while two clients send worst-case bodies back to back (p50 ${median(healthLatencies).toFixed(0)} ms, max ${sortedHealth.at(-1)!.toFixed(0)} ms, ${healthLatencies.length} checks)`,
      value: healthP99,
      unit: 'ms',
      target: '<= 500',
      pass: healthP99 <= 500,
      detail: { p50: median(healthLatencies), p99: healthP99, max: sortedHealth.at(-1), checks: healthLatencies.length },
    });

    // Figures 4a-4d (revocation propagation) run with the other figure modules, at the end (bench/propagation.ts).
    const b = await host(prefixA, { USAGE_FLUSH_INTERVAL_MS: '2000' });

    console.log('\n5. Rate-limit accuracy across three hosts');
    const c = await host(prefixA, { USAGE_FLUSH_INTERVAL_MS: '2000' });
    const limited = await seedA.keys.issue('bench', { label: 'limited', application: 'bench' }, op);
    await seedA.keys.setRateLimit('bench', limited.metadata.id, { requestsPerSecond: 50, burst: 5 }, op);
    for (const h of [a, b, c]) await fetch(`${h.url}/v1/whoami`, { headers: { 'x-api-key': limited.key } });
    await sleep(3000);
    const duration = seconds(10);
    const t0 = performance.now();
    const runs = await Promise.all(
      [a, b, c].map((h) => load({ url: `${h.url}/v1/whoami`, duration, connections: 8, headers: { 'x-api-key': limited.key } })),
    );
    // What the limit allows over the time the load actually ran (a run overshoots its nominal duration).
    const elapsed = (performance.now() - t0) / 1000;
    const admitted = runs.reduce((sum, r) => sum + r['2xx'], 0);
    const allowed = Math.round(50 * elapsed + 5);
    const accuracy = admitted / allowed;
    record({
      id: '5',
      name: `rate limit: admitted ${admitted} / allowed ${allowed} (50/s, burst 5, ${elapsed.toFixed(1)} s, 3 hosts)`,
      value: accuracy,
      unit: '',
      target: '0.9 to 1.1',
      pass: accuracy >= 0.9 && accuracy <= 1.1,
      detail: { admitted, allowed, elapsedSeconds: elapsed, offered: runs.reduce((s, r) => s + r.requests.total, 0) },
    });

    console.log('\n6. Storage operations per authenticated request (steady state)');
    const hundred: string[] = [];
    for (let i = 0; i < 100; i++) hundred.push((await seedA.keys.issue('bench', { label: `steady-${i}`, application: 'bench' }, op)).key);
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
    record({
      id: '6',
      name: 'request-driven storage operations per authenticated request (10,000 over 100 keys)',
      value: perRequest,
      unit: 'ops',
      target: '<= 0.01',
      pass: perRequest <= 0.01,
      detail: { operations: requestDriven, requests: steady.requests.total },
    });
    const backgroundBound = backgroundOperationsPerSecond(loadConfig({ ...baseEnv, TABLES_PREFIX: prefixA }));
    record({
      id: '6b',
      name: 'time-driven storage operations per instance-second (feed polls, limiter syncs, health probes)',
      value: timeDriven / steadySeconds,
      unit: 'ops/s',
      target: `<= ${backgroundBound.toFixed(1)} (from the configured intervals)`,
      pass: timeDriven / steadySeconds <= backgroundBound,
      detail: { operations: timeDriven, seconds: steadySeconds },
    });

    console.log('\n7. Memory after 100,000 requests across 10,000 keys');
    const prefixMemory = `b${randomBytes(4).toString('hex')}`;
    const memorySecrets = await seedKeys(seeder(prefixMemory), 'memory', 10_000);
    const m = await host(prefixMemory, { USAGE_FLUSH_INTERVAL_MS: '5000', NODE_OPTIONS: '--expose-gc' });
    const rssBefore = (await diagnostics(m)).rssBytes;
    await load({
      url: `${m.url}/v1/whoami`,
      amount: QUICK ? 30_000 : 100_000,
      connections: 20,
      requests: cycling(memorySecrets, (r, s) => (r.headers = { 'x-api-key': s })),
    });
    const afterLoad = await diagnostics(m);
    const memory = (await (await fetch(`${m.url}/_local/diagnostics?gc=1`)).json()) as typeof afterLoad;
    record({
      id: '7',
      name: `resident memory after ${QUICK ? 30_000 : 100_000} requests over 10,000 keys (heap retained ${(memory.heapUsedBytes / 1024 / 1024).toFixed(0)} MiB; auth cache ${memory.authCacheEntries} of at most ${memory.authCacheMaxEntries} entries)`,
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

    console.log('\n8-10. One enterprise customer at its full rate: partition and account load (a scaled-down run, modelled up)');
    const full = DEFAULT_PLANS.enterprise;
    const fullKeys = 10;
    const fullRate = fullKeys * full.requestsPerSecond; // requests (batches) per second
    const scale = 50; // the run sends 1/50 of it
    const runRate = fullRate / scale;
    const prefixFull = `b${randomBytes(4).toString('hex')}`;
    const seedFull = seeder(prefixFull);
    await seedFull.storage.ensureTables();
    await seedFull.customers.create({ slug: 'fullrate', name: 'Full rate', plan: 'enterprise' });
    const fullSecrets: string[] = [];
    for (let i = 0; i < fullKeys; i++)
      fullSecrets.push((await seedFull.keys.issue('fullrate', { label: `full-${i}`, application: 'bench' }, op)).key);
    // Production's intervals (usage flushes every 30 s), three hosts on the same tables.
    const fullHosts = [];
    for (let i = 0; i < 3; i++) fullHosts.push(await host(prefixFull, { PLANS: '' }));
    const spansPerBatch = 10;
    const body = (session: string) =>
      JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench-fleet' } }] },
            scopeSpans: [
              {
                scope: { name: 'bench' },
                spans: Array.from({ length: spansPerBatch }, (_, n) => ({
                  traceId: randomBytes(16).toString('hex'),
                  spanId: randomBytes(8).toString('hex'),
                  name: `step-${n}`,
                  startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
                  endTimeUnixNano: String(BigInt(Date.now() + 5) * 1_000_000n),
                  attributes: [{ key: 'session.id', value: { stringValue: session } }],
                })),
              },
            ],
          },
        ],
      });
    const send = async (target: HostProcess, secret: string, session: string) => {
      const response = await fetch(`${target.url}/v1/traces`, {
        method: 'POST',
        headers: { 'x-api-key': secret, 'content-type': 'application/json' },
        body: body(session),
      });
      await response.arrayBuffer();
      return response.status;
    };
    // Sessions of 1 to 50 batches, a batch every half second each; 20% of them spread over the hosts.
    type FleetSession = { id: string; left: number; spread: boolean; home: number };
    let sessionCounter = 0;
    const newSession = (): FleetSession => ({
      id: `fleet-${sessionCounter++}`,
      left: 1 + Math.floor(Math.random() * 50),
      spread: Math.random() < 0.2,
      home: Math.floor(Math.random() * 3),
    });
    const perKeyRate = runRate / fullKeys;
    const active = fullSecrets.map(() => Array.from({ length: Math.max(1, Math.round(perKeyRate / 2)) }, newSession));
    for (const [k, secret] of fullSecrets.entries()) for (const h of fullHosts) await send(h, secret, `warm-${k}`); // keys cached everywhere
    const loadSeconds = seconds(30);
    const statuses = new Map<number, number>();
    const inflight = new Set<Promise<void>>();
    const loadStart = Date.now();
    for (let n = 0; ; n++) {
      const due = loadStart + (n * 1000) / runRate;
      if (due > loadStart + loadSeconds * 1000) break;
      if (due > Date.now()) await sleep(due - Date.now());
      const k = n % fullKeys;
      const sessions = active[k]!;
      const i = Math.floor(Math.random() * sessions.length);
      const session = sessions[i]!;
      const target = fullHosts[session.spread ? Math.floor(Math.random() * 3) : session.home]!;
      if (--session.left === 0) sessions[i] = newSession();
      const sent = send(target, fullSecrets[k]!, session.id).then((status) => void statuses.set(status, (statuses.get(status) ?? 0) + 1));
      inflight.add(sent);
      void sent.finally(() => inflight.delete(sent));
    }
    const loadEnd = Date.now();
    await Promise.all(inflight);
    await sleep(2000); // deferred work (folds) of the run's last batches
    const operationsOf = async (h: HostProcess, since: number) =>
      ((await (await fetch(`${h.url}/_local/operations?since=${since}`)).json()) as { operations: StorageOperationRecord[] }).operations;
    const recorded = (await Promise.all(fullHosts.map((h) => operationsOf(h, loadStart)))).flat();
    const perHost = (ingest['protobuf-10'] as { storedSpansPerSecond: number }).storedSpansPerSecond / 10;
    const instancesAtFullRate = Math.ceil(fullRate / perHost);
    const model = modelPartitionLoad({
      operations: recorded,
      from: loadStart + 2000, // past the warm-up
      to: loadEnd,
      customerSlug: 'fullrate',
      partitionsPerCustomer: SESSION_PARTITIONS,
      listPartitionsPerCustomer: LIST_PARTITIONS,
      trafficScale: scale,
      instanceScale: instancesAtFullRate / fullHosts.length,
      seed: 20261202,
    });
    const sent = [...statuses.values()].reduce((a, b) => a + b, 0);
    record({
      id: '8',
      name: `busiest partition at the full rate (${fullKeys} keys x ${full.requestsPerSecond} req/s x ${spansPerBatch} spans; ${model.peak.partition}), entities in its busiest second`,
      value: model.peak.entitiesPerSecond,
      unit: 'entities/s',
      target: '<= 1000',
      pass: model.peak.entitiesPerSecond <= 1000,
      detail: {
        busiest: model.busiest,
        acrossPartitions: model.acrossPartitions,
        run: { requests: sent, statuses: Object.fromEntries(statuses), seconds: (loadEnd - loadStart) / 1000, scale, instancesAtFullRate },
      },
    });

    // Figure 9: ingest requests one at a time, each kind of batch, and the storage operations
    // each made while it was under way (deferred and time-driven work left out).
    const probes: Array<{ kind: string; trips: number }> = [];
    const probeStart = Date.now();
    const windows: Array<{ kind: string; host: number; from: number; to: number }> = [];
    for (let i = 0; i < (QUICK ? 5 : 15); i++) {
      const id = `probe-${i}`;
      for (const [kind, h] of [
        ['new session', 0],
        ['next batch, same host', 0],
        ['next batch, another host (first sight there)', 1],
        ['next batch, another host', 1],
      ] as const) {
        const from = performance.timeOrigin + performance.now();
        const status = await send(fullHosts[h]!, fullSecrets[i % fullKeys]!, id);
        if (status !== 200) throw new Error(`probe ${kind}: ${status}`);
        windows.push({ kind, host: h, from, to: performance.timeOrigin + performance.now() });
        await sleep(30);
      }
    }
    const probeOps = await Promise.all(fullHosts.slice(0, 2).map((h) => operationsOf(h, probeStart)));
    for (const w of windows) {
      const during = probeOps[w.host]!.filter((o) => o.cause === 'request' && !o.deferred && o.startedAt >= w.from && o.endedAt <= w.to);
      probes.push({ kind: w.kind, trips: sequentialRoundTrips(during) });
    }
    const worstTrips = Math.max(...probes.map((p) => p.trips));
    const tripsByKind = Object.fromEntries(
      [...new Set(probes.map((p) => p.kind))].map((kind) => [
        kind,
        [...new Set(probes.filter((p) => p.kind === kind).map((p) => p.trips))],
      ]),
    );
    record({
      id: '9',
      name: `storage round trips in sequence per ingest request, worst of ${probes.length} (new session, next batch, another host)`,
      value: worstTrips,
      unit: 'round trips',
      target: 'exactly 1',
      pass: probes.every((p) => p.trips === 1),
      detail: { byKind: tripsByKind },
    });

    const perCustomer = model.transactionsPerSecond.total;
    const customersPerAccount = Math.floor(20_000 / perCustomer);
    record({
      id: '10',
      name: `storage transactions per second per enterprise customer at the full rate (${model.transactionsPerSecond.traffic.toFixed(0)} its traffic + ${model.transactionsPerSecond.instances.toFixed(0)} its ${instancesAtFullRate} instances' own): one account (20,000/s) carries ${customersPerAccount}`,
      value: perCustomer,
      unit: 'transactions/s',
      detail: { ...model.transactionsPerSecond, customersPerAccount, accountLimit: 20_000, perHostRequestsPerSecond: perHost },
    });

    await runFigureModules(moduleContext, undefined);
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
    await Promise.all(contexts.map((s) => s.dispose()));
    await azurite.stop();
  }

  summarise(started);
}

/** Writes the run's figures under bench/results/ and prints them as one table. */
function summarise(started: Date): void {
  const result = {
    startedAt: started.toISOString(),
    quick: QUICK,
    node: process.version,
    cpus: cpus().length,
    figures,
  };
  const dir = join(PROJECT_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  console.log('\nSummary');
  console.table(
    figures.map((f) => ({
      figure: f.id,
      name: f.name,
      value: Number(format(f.value)),
      unit: f.unit,
      target: f.target ?? '',
      met: f.target ? (f.pass ? 'yes' : 'NO') : '',
    })),
  );
  console.log(`Written to ${file}`);
}

/** Distinct OTLP export requests (new trace ids and session per request), as the SDK's exporters encode them. */
function payloads(spansPerRequest: number, encoding: 'json' | 'protobuf', count: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'bench' }),
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const tracer = provider.getTracer('bench');
    const session = `bench-${randomBytes(6).toString('hex')}`;
    for (let s = 0; s < spansPerRequest; s++) tracer.startSpan(`op-${s}`, { attributes: { 'session.id': session, step: s } }).end();
    const spans = exporter.getFinishedSpans();
    out.push(
      Buffer.from(encoding === 'json' ? JsonTraceSerializer.serializeRequest(spans)! : ProtobufTraceSerializer.serializeRequest(spans)!),
    );
  }
  return out;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
