import { LIST_PARTITIONS } from '../../shared/adapters/table/table-session-repository';
import { ManualClock } from '../../shared/clock';
import type { ServiceContext } from '../../app/context';
import { serveApp } from '../support/http';
import { op, portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { customerWithKey, testServices } from '../support/services';

const span = (session: string, n: number) => ({
  traceId: `${n.toString(16).padStart(8, '0')}${'a'.repeat(24)}`,
  spanId: `${n.toString(16).padStart(4, '0')}${'b'.repeat(12)}`,
  name: `op-${n}`,
  startTimeUnixNano: '1700000000000000000',
  endTimeUnixNano: '1700000000100000000',
  attributes: [{ key: 'session.id', value: { stringValue: session } }],
});

describe('GET /v1/sessions (the Decisions explorer), against Azurite', () => {
  // Sessions are placed in time by the service's clock: moved by hand, so that arrival order is exact.
  const clock = new ManualClock(new Date());
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  beforeAll(async () => {
    services = testServices({}, { operationLog: 10_000, clock });
    app = await serveApp(services, { timers: false });
  });
  afterAll(async () => {
    await app.close();
    await services.dispose();
  });

  async function ingest(key: string, session: string, n: number) {
    const response = await app.fetch('/v1/traces', {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span(session, n)] }] }] }),
    });
    expect(response.status).toBe(200);
  }

  it('lists sessions newest first with their key, filters by key label and time, and pages', async () => {
    const { customer, key: checkoutKey } = await customerWithKey(services, { label: 'checkout' });
    const batch = await services.useCases.keys.issue(customer.slug, { label: 'batch-job', application: 'etl' }, op());
    trackSecret(batch.key);
    await ingest(checkoutKey, 's-1', 1);
    clock.advance(1000);
    await ingest(batch.key, 's-2', 2);
    clock.advance(10);
    const between = clock.now().toISOString();
    clock.advance(10);
    await ingest(checkoutKey, 's-3', 3);
    const token = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'] });
    const get = async (query: string) => {
      const response = await app.fetch(`/v1/sessions${query}`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      return (await response.json()) as { sessions: Array<{ sessionId: string; keyLabel: string; keyId: string }>; cursor: string | null };
    };

    const all = await get('');
    expect(all.sessions.map((s) => s.sessionId)).toEqual(['s-3', 's-2', 's-1']);
    expect(all.sessions[1]).toMatchObject({ keyLabel: 'batch-job', keyId: batch.metadata.id });

    expect((await get('?keyLabel=checkout')).sessions.map((s) => s.sessionId)).toEqual(['s-3', 's-1']);
    expect((await get(`?from=${encodeURIComponent(between)}`)).sessions.map((s) => s.sessionId)).toEqual(['s-3']);
    expect((await get(`?to=${encodeURIComponent(between)}`)).sessions.map((s) => s.sessionId)).toEqual(['s-2', 's-1']);

    const first = await get('?limit=2');
    expect(first.sessions.map((s) => s.sessionId)).toEqual(['s-3', 's-2']);
    expect(first.cursor).toEqual(expect.any(String));
    const second = await get(`?limit=2&cursor=${encodeURIComponent(first.cursor!)}`);
    expect(second.sessions.map((s) => s.sessionId)).toEqual(['s-1']);
  });

  it("reads one page of each of the customer's recent-sessions index partitions, and never another customer's", async () => {
    const a = await customerWithKey(services);
    const b = await customerWithKey(services);
    await ingest(b.key, 'b-only', 9);
    const token = await portalToken(services, { customer: a.customer.slug, roles: ['CustomerAdmin'] });
    const since = performance.timeOrigin + performance.now();
    const response = await app.fetch('/v1/sessions', { headers: { authorization: `Bearer ${token}` } });
    expect(await response.json()).toEqual({ sessions: [], cursor: null });
    const queries = services.storage.operations.recent(since).filter((r) => r.table === 'sessions');
    expect(queries).toHaveLength(LIST_PARTITIONS);
    expect(new Set(queries.map((r) => r.partition))).toEqual(
      new Set(Array.from({ length: LIST_PARTITIONS }, (_, i) => `${a.customer.slug}~list${i}`)),
    );
  });

  it('pages newest first across partitions without gaps or repeats, whatever the page size', async () => {
    const { key, customer } = await customerWithKey(services, { plan: 'enterprise' });
    const ids = Array.from({ length: 40 }, (_, i) => `paged-${i}`);
    for (const id of ids) {
      await ingest(key, id, 1);
      clock.advance(1); // a millisecond apart: arrival order is the listing's order
    }
    const token = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'] });
    for (const limit of [1, 7, 40, 100]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page = (await (await app.fetch(`/v1/sessions${query}`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
          sessions: Array<{ sessionId: string }>;
          cursor: string | null;
        };
        expect(page.sessions.length).toBeLessThanOrEqual(limit);
        seen.push(...page.sessions.map((s) => s.sessionId));
        cursor = page.cursor;
      } while (cursor);
      expect(seen).toEqual([...ids].reverse());
    }
  });

  it('refuses bad query parameters with 400 validation_failed', async () => {
    const { customer } = await customerWithKey(services);
    const token = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'] });
    const foreign = Buffer.from(JSON.stringify({ p: 'someone-else', r: 's_0' })).toString('base64url');
    for (const query of [
      '?limit=0',
      '?limit=abc',
      '?from=yesterday',
      `?keyLabel=${'x'.repeat(80)}`,
      '?cursor=garbage',
      `?cursor=${foreign}`,
    ]) {
      const response = await app.fetch(`/v1/sessions${query}`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: 'validation_failed' });
    }
  });
});
