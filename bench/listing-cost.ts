/**
 * Figure 4e of `npm run bench`: what one `GET /v1/sessions` costs in storage operations, per
 * session it returns, against a host process (separate, as in production) on the benchmark's
 * Azurite. The stated bound: at most 2 operations per listed session plus 10 per call (the 8
 * index partitions' queries, and room for the service cutting a page short). Before the
 * recent-sessions index, one listing read the customer's 128 session partitions: 130
 * operations for one session, 530 to 640 for a page of 200.
 */
import { randomBytes } from 'node:crypto';
import type { StorageOperationRecord } from '../shared/adapters/table/storage-operations';
import { signLocalPortalToken } from '../shared/auth/portal-tokens';
import type { ServiceContext } from '../app/context';
import type { BenchContext, Figure } from './modules';

/** Figure 4e: a figure whose target and verdict are always stated. */
export type ListingCostFigure = Figure & Required<Pick<Figure, 'target' | 'pass' | 'detail'>>;

/** Operations allowed per call beyond 2 per listed session. */
const PER_CALL = 10;

/**
 * Seeds one customer (through `services`, on the host's tables) with `sessions` sessions, a
 * tenth of them sent in two batches (so they have pending counts to add), then pages through
 * them with limits 200, 50 and 1, and counts each call's storage operations as the host
 * recorded them (`/_local/operations`: the sessions table, request-driven, not deferred).
 */
export async function listingCost(options: { url: string; services: ServiceContext; sessions: number }): Promise<ListingCostFigure> {
  const { url, services } = options;
  await services.storage.ensureTables();
  const slug = `list${randomBytes(3).toString('hex')}`;
  await services.useCases.customers.create({ slug, name: 'Listing cost', plan: 'enterprise' });
  const op = { actor: { type: 'system' as const, id: 'bench', name: 'bench' }, requestId: 'bench-4e' };
  const { key } = await services.useCases.keys.issue(slug, { label: 'listing', application: 'bench' }, op);
  const token = await signLocalPortalToken(services.useCases.config.portal, {
    sub: `bench-${slug}`,
    customer: slug,
    roles: ['CustomerAdmin'],
  });

  const send = async (ids: string[], batch: number) => {
    const spans = ids.map((id, n) => ({
      traceId: randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
      name: `step-${batch}-${n}`,
      startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
      endTimeUnixNano: String(BigInt(Date.now() + 5) * 1_000_000n),
      attributes: [{ key: 'session.id', value: { stringValue: id } }],
    }));
    const response = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }),
    });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`figure 4e: ingest answered ${response.status}`);
  };

  const calls: Array<{ limit: number; page: number; sessions: number; operations: number; queries: number }> = [];
  const list = async (limit: number, page: number, cursor: string | null) => {
    const since = performance.timeOrigin + performance.now();
    const query = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const response = await fetch(`${url}/v1/sessions${query}`, { headers: { authorization: `Bearer ${token}` } });
    if (response.status !== 200) throw new Error(`figure 4e: listing answered ${response.status}`);
    const body = (await response.json()) as { sessions: unknown[]; cursor: string | null };
    const recorded = ((await (await fetch(`${url}/_local/operations?since=${since}`)).json()) as { operations: StorageOperationRecord[] })
      .operations;
    const mine = recorded.filter((o) => o.table === 'sessions' && o.cause === 'request' && !o.deferred && o.startedAt >= since);
    calls.push({
      limit,
      page,
      sessions: body.sessions.length,
      operations: mine.length,
      queries: mine.filter((o) => o.kind === 'query').length,
    });
    return body.cursor;
  };

  await send(['first-session'], 0);
  await list(50, 1, null);
  const ids = Array.from({ length: options.sessions - 1 }, (_, i) => `listed-${i}`);
  for (let i = 0; i < ids.length; i += 100) await send(ids.slice(i, i + 100), 0);
  for (let i = 0; i < ids.length; i += 100)
    await send(
      ids.slice(i, i + 100).filter((_, n) => n % 10 === 0),
      1,
    );
  for (const [limit, pages] of [
    [200, Infinity],
    [50, 4],
    [1, 4],
  ] as const) {
    let cursor: string | null = null;
    for (let page = 1; page <= pages; page++) {
      cursor = await list(limit, page, cursor);
      if (!cursor) break;
    }
  }

  const listed = calls.filter((c) => c.sessions > 0);
  const beyondConstant = Math.max(...listed.map((c) => (c.operations - PER_CALL) / c.sessions));
  const full = calls.filter((c) => c.limit === 200 && c.sessions === 200);
  const onePage = calls[0]!;
  const fullOps = full.map((c) => c.operations);
  return {
    id: '4e',
    name: `storage operations per listed session beyond ${PER_CALL} per call, worst of ${calls.length} listings (1 session: ${onePage.operations} ops; pages of 200: ${Math.min(...fullOps)} to ${Math.max(...fullOps)} ops)`,
    value: beyondConstant,
    unit: 'ops/session',
    target: `<= 2 (every call at most 2 x sessions + ${PER_CALL})`,
    pass: calls.every((c) => c.operations <= 2 * c.sessions + PER_CALL),
    detail: { calls, sessions: options.sessions },
  };
}

/** Figure 4e as a bench module: a host of its own on fresh tables. */
export async function listingCostFigure(ctx: BenchContext): Promise<void> {
  const prefix = `b${randomBytes(4).toString('hex')}`;
  const host = await ctx.host(prefix);
  ctx.record(await listingCost({ url: host.url, services: ctx.seeder(prefix), sessions: ctx.quick ? 400 : 1000 }));
}
