/**
 * Figures 3 to 3d of `npm run bench`, on the main host. 3: spans per second stored by
 * `POST /v1/traces` next to the parse-only route, by encoding and spans per request; 3b-3c: the
 * worst-case bodies of the hostile set (fixtures/hostile-otlp.ts), wall and CPU time; 3d: the
 * health route's p99 while two clients send them back to back.
 */
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { randomBytes } from 'node:crypto';
import type { HostProcess } from '../local/host-process';
import { hostileCases } from '../fixtures/hostile-otlp';
import { cycling, diagnostics, load, median, sleep } from './measure';
import type { BenchContext, IngestRate } from './modules';

/**
 * Spans per second stored through `a` (with `key`) and decoded by its parse-only route, for
 * requests of `spansPerRequest` spans in `encoding` (figure 3; the rates of figures 8 to 10).
 */
export async function measureIngest(
  ctx: BenchContext,
  a: HostProcess,
  key: string,
  spansPerRequest: number,
  encoding: 'json' | 'protobuf',
): Promise<IngestRate> {
  const bodies = payloads(spansPerRequest, encoding, ctx.quick ? 100 : 300);
  const type = encoding === 'json' ? 'application/json' : 'application/x-protobuf';
  const stored = await load({
    url: `${a.url}/v1/traces`,
    method: 'POST',
    duration: ctx.seconds(4),
    connections: 10,
    headers: { 'x-api-key': key, 'content-type': type },
    requests: cycling(bodies, (r, b) => (r.body = b)),
  });
  const parsed = await load({
    url: `${a.url}/_local/parse-only/traces`,
    method: 'POST',
    duration: ctx.seconds(4),
    connections: 10,
    headers: { 'content-type': type },
    requests: cycling(bodies, (r, b) => (r.body = b)),
  });
  const storedSpans = stored.requests.average * spansPerRequest;
  const parsedSpans = parsed.requests.average * spansPerRequest;
  const non2xx = stored.non2xx;
  return {
    storedSpansPerSecond: storedSpans,
    parseOnlySpansPerSecond: parsedSpans,
    ratio: storedSpans / parsedSpans,
    non2xx,
  };
}

export async function ingestFigures(ctx: BenchContext): Promise<void> {
  const { key } = await ctx.main();
  const a = await ctx.mainHost();
  for (const spansPerRequest of [1, 10, 100]) {
    for (const encoding of ['json', 'protobuf'] as const) {
      const rate = await measureIngest(ctx, a, key, spansPerRequest, encoding);
      ctx.ingestRates[`${encoding}-${spansPerRequest}`] = rate;
      const { storedSpansPerSecond: storedSpans, parseOnlySpansPerSecond: parsedSpans, non2xx } = rate;
      ctx.record({
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
  ctx.record({
    id: '3b',
    name: `worst-case body, wall time until the 200 (${wallName})`,
    value: wallWorst.wallMs,
    unit: 'ms',
    target: '<= 5000',
    pass: wallWorst.wallMs <= 5000,
    detail: { byCase: processing },
  });
  ctx.record({
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
  const probeUntil = performance.now() + ctx.seconds(12) * 1000;
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
  ctx.record({
    id: '3d',
    name: `health p99 while two clients send worst-case bodies back to back (p50 ${median(healthLatencies).toFixed(0)} ms, max ${sortedHealth.at(-1)!.toFixed(0)} ms, ${healthLatencies.length} checks)`,
    value: healthP99,
    unit: 'ms',
    target: '<= 500',
    pass: healthP99 <= 500,
    detail: { p50: median(healthLatencies), p99: healthP99, max: sortedHealth.at(-1), checks: healthLatencies.length },
  });
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
