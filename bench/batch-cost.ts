import { randomBytes } from 'node:crypto';
import { hostileCases } from '../fixtures/hostile-otlp';
import { FOLD_AFTER_BATCHES } from '../shared/adapters/table/table-session-repository';
import { TRANSACTIONS_PER_BATCH } from '../shared/services/ingest-service';
import type { BenchContext } from './modules';

/**
 * The storage transactions per rate-limit unit that docs/capacity.md turns into per-plan figures:
 * at most {@link TRANSACTIONS_PER_BATCH} on a request's path (the batch meter charges one more
 * unit per three beyond), and the fold a session gets after every {@link FOLD_AFTER_BATCHES} of its
 * batches on an instance (two operations: read its summary, then one transaction). A plan's batches
 * per second times this is the most storage transactions per second its keys can cause.
 */
export const STATED_TRANSACTIONS_PER_UNIT = TRANSACTIONS_PER_BATCH + 2 / FOLD_AFTER_BATCHES;

interface Shape {
  name: string;
  /** The requests of the shape as sent (gzipped already when `gzip`), one after another. */
  bodies: Buffer[];
  format: 'json' | 'protobuf';
  gzip: boolean;
  /** Session batches each request writes: what the batch meter takes for it before storage. */
  batches: number;
}

/** An OTLP/JSON export of one span in each of the sessions named. */
function spansOf(sessionIds: string[]): Buffer {
  const nanos = String(BigInt(Date.now()) * 1_000_000n);
  return Buffer.from(
    JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shapes' } }] },
          scopeSpans: [
            {
              scope: { name: 'shapes' },
              spans: sessionIds.map((id) => ({
                traceId: randomBytes(16).toString('hex'),
                spanId: randomBytes(8).toString('hex'),
                name: 'op',
                startTimeUnixNano: nanos,
                endTimeUnixNano: nanos,
                attributes: [{ key: 'session.id', value: { stringValue: id } }],
              })),
            },
          ],
        },
      ],
    }),
  );
}

function shapes(quick: boolean): Shape[] {
  const fresh = (n: number) => Array.from({ length: n }, () => `s-${randomBytes(8).toString('hex')}`);
  const one = `s-${randomBytes(8).toString('hex')}`;
  const thousand = spansOf(fresh(1000));
  const out: Shape[] = [
    {
      name: 'a new session each request (1 span)',
      bodies: Array.from({ length: 40 }, () => spansOf(fresh(1))),
      format: 'json',
      gzip: false,
      batches: 1,
    },
    {
      name: 'the next batch of one session (1 span; a fold every 32)',
      bodies: Array.from({ length: 64 }, () => spansOf([one])),
      format: 'json',
      gzip: false,
      batches: 1,
    },
    {
      name: '1,000 new sessions of one span',
      bodies: Array.from({ length: quick ? 1 : 3 }, () => spansOf(fresh(1000))),
      format: 'json',
      gzip: false,
      batches: 1000,
    },
    { name: '1,000 sessions, sent twice (a retried request)', bodies: [thousand, thousand], format: 'json', gzip: false, batches: 1000 },
  ];
  for (const c of hostileCases()) {
    if (c.expect.status !== 200) continue;
    out.push({ name: c.name, bodies: [c.body], format: c.format, gzip: c.gzip, batches: c.sessions });
  }
  return out;
}

/**
 * Figure 5b: for each request shape (a new session per request, the next batch of a known
 * session, 1,000 sessions, the same sent twice, and every accepted case of the hostile set), the
 * storage operations the host made for it (request-driven, its deferred folds included, counted by
 * the Table clients' policy) over the units the batch meter took for it (its session batches, and
 * one more per three transactions beyond three a batch), read off the key's RateLimit field. The
 * figure is the worst shape's; the target is the ratio docs/capacity.md states.
 */
export async function batchCostFigures(ctx: BenchContext): Promise<void> {
  const prefix = `b${randomBytes(4).toString('hex')}`;
  const seed = ctx.seeder(prefix);
  await seed.storage.ensureTables();
  await seed.useCases.customers.create({ slug: 'shapes', name: 'Shapes', plan: 'enterprise' });
  const op = { actor: { type: 'system' as const, id: 'bench', name: 'bench' }, requestId: 'bench' };
  const key = (await seed.useCases.keys.issue('shapes', { label: 'shapes', application: 'bench' }, op)).key;
  // The batch bucket is huge and refills at a thousandth of a unit per second, so what a shape
  // took from it is read off its RateLimit field (an empty export between shapes shows it, and
  // stores nothing). Usage flushes are out of the way: only what the requests store is counted.
  const plans = { enterprise: { requestsPerSecond: 1_000_000, burst: 10_000_000, batchesPerSecond: 0.001, batchBurst: 10_000_000 } };
  const host = await ctx.host(prefix, { USAGE_FLUSH_INTERVAL_MS: '600000', PLANS: JSON.stringify(plans) });
  const batchesLeft = async () => {
    const response = await fetch(`${host.url}/v1/traces`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: '{}',
    });
    await response.arrayBuffer();
    const field = /"batches";r=(\d+)/.exec(response.headers.get('ratelimit') ?? '');
    if (response.status !== 200 || !field)
      throw new Error(`the empty export was answered ${response.status} (${response.headers.get('ratelimit')})`);
    return Number(field[1]);
  };
  const requestDriven = async () =>
    ((await (await fetch(`${host.url}/_local/diagnostics`)).json()) as { storageOperations: { requestDriven: number } }).storageOperations
      .requestDriven;
  const send = async (shape: Shape, body: Buffer) => {
    const response = await fetch(`${host.url}/v1/traces`, {
      method: 'POST',
      headers: {
        'x-api-key': key,
        'content-type': shape.format === 'json' ? 'application/json' : 'application/x-protobuf',
        ...(shape.gzip ? { 'content-encoding': 'gzip' } : {}),
      },
      body,
    });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${shape.name}: ${response.status}`);
  };
  try {
    await send({ name: 'warm', bodies: [], format: 'json', gzip: false, batches: 1 }, spansOf(['warm'])); // the key's lookup
    const rows: Array<{
      shape: string;
      requests: number;
      batches: number;
      units: number;
      operations: number;
      perUnit: number;
      perRequest: number;
    }> = [];
    for (const shape of shapes(ctx.quick)) {
      const left = await batchesLeft();
      const before = await requestDriven();
      for (const body of shape.bodies) await send(shape, body);
      await new Promise((r) => setTimeout(r, 500)); // the folds the batches left behind
      const operations = (await requestDriven()) - before;
      const units = left - (await batchesLeft());
      rows.push({
        shape: shape.name,
        requests: shape.bodies.length,
        batches: shape.batches * shape.bodies.length,
        units,
        operations,
        perUnit: units > 0 ? operations / units : operations === 0 ? 0 : Infinity,
        perRequest: operations / shape.bodies.length,
      });
    }
    const worst = rows.reduce((a, b) => (b.perUnit > a.perUnit ? b : a));
    const worstPerRequest = rows.reduce((a, b) => (b.perRequest > a.perRequest ? b : a));
    console.table(rows.map((r) => ({ ...r, perUnit: Number(r.perUnit.toFixed(3)), perRequest: Number(r.perRequest.toFixed(1)) })));
    ctx.record({
      id: '5b',
      name: `storage transactions per rate-limit unit (a session batch), worst shape: ${worst.shape} (per request, as the limit counted before: up to ${worstPerRequest.perRequest.toFixed(0)}, ${worstPerRequest.shape})`,
      value: worst.perUnit,
      unit: 'transactions/unit',
      target: `<= ${STATED_TRANSACTIONS_PER_UNIT} (docs/capacity.md: ${TRANSACTIONS_PER_BATCH}, and a fold per 32 batches of a session)`,
      pass: worst.perUnit <= STATED_TRANSACTIONS_PER_UNIT,
      detail: { byShape: rows },
    });
  } finally {
    await host.stop();
  }
}
