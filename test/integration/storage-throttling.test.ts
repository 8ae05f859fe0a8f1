import type { ServiceContext } from '../../shared/services/context';
import { serveApp } from '../support/http';
import { customerWithKey, testServices } from '../support/services';

/**
 * Table Storage throttling a partition is a normal day: one customer's sessions partitions are
 * held to 10 entities per second by the fault policy (answers as the service gives them: 503
 * Server Busy), and a client that retries as the SDKs do (after Retry-After) gets everything
 * stored exactly once, while another customer's ingest goes on at its usual latency.
 */
describe('ingest while Table Storage throttles a partition', () => {
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeAll(async () => {
    services = testServices(
      { STORAGE_TIMEOUT_MS: '1000' },
      { throttle: { partition: '^throttled-[a-z]+~', entitiesPerSecond: 10, answer: 'ServerBusy' } },
    );
    app = await serveApp(services);
  });
  afterAll(async () => {
    await app.close();
    await services.dispose();
  });

  const body = (session: string, batch: number, spans: number) =>
    JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'fleet' } }] },
          scopeSpans: [
            {
              spans: Array.from({ length: spans }, (_, n) => ({
                traceId: `${(batch + 1).toString(16).padStart(8, '0')}${(n + 1).toString(16).padStart(24, '0')}`,
                spanId: `${(n + 1).toString(16).padStart(16, '0')}`,
                name: `b${batch}-s${n}`,
                startTimeUnixNano: '1700000000000000000',
                endTimeUnixNano: '1700000000100000000',
                attributes: [{ key: 'session.id', value: { stringValue: session } }],
              })),
            },
          ],
        },
      ],
    });

  /** Sends until 200, waiting as Retry-After says (as the SDKs do); returns the statuses seen. */
  async function deliver(key: string, session: string, batch: number, spans: number): Promise<number[]> {
    const statuses: number[] = [];
    for (;;) {
      const response = await app.fetch('/v1/traces', {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/json' },
        body: body(session, batch, spans),
      });
      statuses.push(response.status);
      if (response.status === 200) return statuses;
      expect(response.status).toBe(503);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(await response.json()).toMatchObject({ code: 'dependency_unavailable' });
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      await sleep(Number(response.headers.get('retry-after')) * 1000 * Math.random()); // jittered, and quicker than a real client
    }
  }

  it('stores every acknowledged batch exactly once, answering 503 dependency_unavailable with Retry-After meanwhile', async () => {
    const { key } = await customerWithKey(services, { plan: 'enterprise', slug: 'throttled-co' });
    const sessions = ['s-a', 's-b'];
    const seen: number[] = [];
    // Three clients per session, 8 batches each, as fast as they are answered: each batch is 2
    // entities or more, so a partition is asked for far more than 10 a second.
    await Promise.all(
      sessions.flatMap((session) =>
        [0, 1, 2].map(async (client) => {
          for (let batch = client * 8; batch < client * 8 + 8; batch++) seen.push(...(await deliver(key, session, batch, 20)));
        }),
      ),
    );
    expect(seen.filter((s) => s === 503).length).toBeGreaterThan(0); // throttling was felt
    // Read back through an instance the fault does not touch (the same tables).
    const reader = testServices({ TABLES_PREFIX: services.config.tables.prefix });
    for (const session of sessions) {
      expect(await reader.sessionStore.get('throttled-co', session)).toMatchObject({ spanCount: 24 * 20, batchCount: 24 });
      expect(await reader.sessionStore.documents('throttled-co', session)).toHaveLength(24);
    }
    await reader.dispose();
  }, 120_000);

  it("does not slow another customer's ingest: p50 within 1.5 times its unthrottled value", async () => {
    const throttled = await customerWithKey(services, { plan: 'enterprise', slug: 'throttled-two' });
    const other = await customerWithKey(services, { plan: 'enterprise' });
    const timeOne = async (n: number) => {
      const t = performance.now();
      const response = await app.fetch('/v1/traces', {
        method: 'POST',
        headers: { 'x-api-key': other.key, 'content-type': 'application/json' },
        body: body(`other-${n}`, n, 10),
      });
      await response.arrayBuffer();
      expect(response.status).toBe(200);
      return performance.now() - t;
    };
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    for (let i = 0; i < 10; i++) await timeOne(-1 - i); // warm

    // Blocks of each, interleaved, so drift on a shared machine hits both alike.
    const calm: number[] = [];
    const busy: number[] = [];
    let n = 0;
    for (let block = 0; block < 4; block++) {
      for (let i = 0; i < 10; i++) calm.push(await timeOne(n++));
      let pushing = true;
      const load = Array.from({ length: 4 }, async (_, c) => {
        for (let b = 0; pushing; b++) await deliver(throttled.key, `t-${block}-${c}`, b, 20);
      });
      await sleep(300); // the partitions are over their rate by now
      for (let i = 0; i < 10; i++) busy.push(await timeOne(n++));
      pushing = false;
      await Promise.all(load);
    }
    expect(median(busy)).toBeLessThanOrEqual(1.5 * median(calm));
  }, 120_000);
});
