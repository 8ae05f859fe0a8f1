import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { randomBytes } from 'node:crypto';
import { TableSessionRepository } from '../../shared/adapters/table/table-session-repository';
import { ManualClock } from '../../shared/clock';
import { hashSecret } from '../../shared/keys/compound-key';
import type { ServiceContext } from '../../app/context';
import { answersMovingClockOn429, problemOf, serveApp } from '../support/http';
import { recordSpans } from '../support/otel';
import { op, portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { backgroundOperationsPerSecond } from '../../app/compose';
import { customerWithKey, testServices } from '../support/services';

type App = Awaited<ReturnType<typeof serveApp>>;

describe('rate limits, usage and last used (HTTP, Azurite)', () => {
  let services: ServiceContext;
  let app: App;
  beforeAll(async () => {
    services = testServices({ USAGE_FLUSH_INTERVAL_MS: '600000' });
    await services.revocations.poll();
    app = await serveApp(services, { timers: false });
  });
  afterAll(async () => {
    await app.close();
    await services.dispose();
  });

  const whoami = (key: string) => app.fetch('/v1/whoami', { headers: { 'x-api-key': key } });

  /** Services whose clock stands still: token counts are then exact, whatever the machine's speed. */
  async function frozenTime() {
    const clock = new ManualClock(new Date());
    const frozen = testServices({ USAGE_FLUSH_INTERVAL_MS: '600000' }, { clock });
    await frozen.revocations.poll();
    const frozenApp = await serveApp(frozen, { timers: false });
    return {
      clock,
      services: frozen,
      whoami: (key: string) => frozenApp.fetch('/v1/whoami', { headers: { 'x-api-key': key } }),
      fetch: frozenApp.fetch,
      app: frozenApp,
      close: async () => {
        await frozenApp.close();
        await frozen.dispose();
      },
    };
  }

  it('answers over the limit with 429 rate_limited, Retry-After and the RateLimit fields; every authenticated answer carries them', async () => {
    const frozen = await frozenTime();
    try {
      const { key } = await customerWithKey(frozen.services, { plan: 'starter' }); // 10/s, bursts of 20
      const responses = [];
      for (let i = 0; i < 25; i++) responses.push(await frozen.whoami(key));
      const ok = responses.filter((r) => r.status === 200);
      const limited = responses.filter((r) => r.status === 429);
      expect(ok).toHaveLength(20);
      expect(limited).toHaveLength(5);
      expect(ok[0]!.headers.get('ratelimit-policy')).toBe('"per-key";q=20;w=2');
      expect(ok[0]!.headers.get('ratelimit')).toBe('"per-key";r=19;t=1');
      expect(ok[19]!.headers.get('ratelimit')).toBe('"per-key";r=0;t=2');
      const refused = limited[0]!;
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.headers.get('ratelimit')).toBe('"per-key";r=0;t=2');
      const problem = (await problemOf(refused)) as unknown as { code: string; retryAfterSeconds: number };
      expect(problem).toMatchObject({ code: 'rate_limited', retryAfterSeconds: 1 });
      // An error of an authenticated request carries them too.
      const bad = await frozen.fetch('/v1/traces', {
        method: 'POST',
        headers: { 'x-api-key': (await customerWithKey(frozen.services)).key, 'content-type': 'text/plain' },
        body: 'x',
      });
      expect(bad.status).toBe(415);
      expect(bad.headers.get('ratelimit-policy')).toBe('"per-key";q=200;w=2');
    } finally {
      await frozen.close();
    }
  });

  it('applies a staff override of one key at once', async () => {
    const frozen = await frozenTime();
    try {
      const { customer, key, keyId } = await customerWithKey(frozen.services);
      const staff = await portalToken(frozen.services, { roles: ['Staff'] });
      const patch = (rateLimit: unknown) =>
        frozen.fetch(`/v1/staff/customers/${customer.slug}/keys/${keyId}`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${staff}`, 'content-type': 'application/json' },
          body: JSON.stringify({ rateLimit }),
        });
      const patched = await patch({ requestsPerSecond: 1, burst: 1 });
      expect(patched.status).toBe(200);
      expect(await patched.json()).toMatchObject({ rateLimit: { requestsPerSecond: 1, burst: 1 } });
      expect((await frozen.whoami(key)).status).toBe(200);
      expect((await frozen.whoami(key)).status).toBe(429);
      expect(await (await patch(null)).json()).toMatchObject({ rateLimit: null });
      // Back on the plan's limit (100/s): no instant burst, but the bucket refills at the plan's rate.
      expect((await frozen.whoami(key)).status).toBe(429);
      frozen.clock.advance(100);
      expect((await frozen.whoami(key)).status).toBe(200);
    } finally {
      await frozen.close();
    }
  });

  it('is honoured by the OpenTelemetry exporter: a rate-limited export is retried, and its spans arrive', async () => {
    const frozen = await frozenTime();
    try {
      const { customer, key, keyId } = await customerWithKey(frozen.services);
      await frozen.services.useCases.keys.setRateLimit(customer.slug, keyId, { requestsPerSecond: 1, burst: 1 }, op());
      // The limiter's clock moves only by what the exporter waits after a 429: one second, the key's Retry-After.
      const statuses = answersMovingClockOn429(frozen.app, '/v1/traces', frozen.clock, 1000);
      const exporter = new OTLPTraceExporter({ url: `${frozen.app.url}/v1/traces`, headers: { 'X-API-Key': key }, timeoutMillis: 10_000 });
      const exportWith = (spans: ReadableSpan[]) => new Promise<{ code: number }>((resolve) => exporter.export(spans, resolve));
      const first = recordSpans((t) => t.startSpan('first', { attributes: { 'session.id': 'rl-1' } }).end());
      const second = recordSpans((t) => t.startSpan('second', { attributes: { 'session.id': 'rl-2' } }).end());
      expect((await exportWith(first)).code).toBe(0);
      expect((await exportWith(second)).code).toBe(0);
      expect(statuses).toEqual([200, 429, 200]); // the second was refused once, then retried
      const sessions = new TableSessionRepository([frozen.services.storage]);
      expect(await sessions.get(customer.slug, 'rl-2')).toMatchObject({ spanCount: 1 });
      await exporter.shutdown();
    } finally {
      await frozen.close();
    }
  });

  it('reports usage per key per hour and day, and the hour each key was last used in', async () => {
    const { customer, key, keyId } = await customerWithKey(services, { plan: 'starter' });
    const other = await services.useCases.keys.issue(customer.slug, { label: 'idle', application: 'x' }, op());
    trackSecret(other.key);
    const hourOf = (at: Date) => `${at.toISOString().slice(0, 13)}:00:00.000Z`;
    const hourBefore = hourOf(new Date());
    for (let i = 0; i < 24; i++) await whoami(key); // 20 accepted (burst), about 4 rate-limited
    await services.usageRecorder.flush();
    const token = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'] });
    const get = async (path: string) => {
      const response = await app.fetch(path, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      return (await response.json()) as Record<string, any>;
    };
    const hourly = await get(
      `/v1/customer-keys/${keyId}/usage?granularity=hour&from=${encodeURIComponent(new Date(Date.now() - 3 * 3_600_000).toISOString())}`,
    );
    expect(hourly.totals.accepted + hourly.totals.rateLimited).toBe(24);
    expect(hourly.totals.accepted).toBeGreaterThanOrEqual(20);
    expect(hourly.buckets.length).toBeGreaterThanOrEqual(3);
    const daily = await get(`/v1/customer-keys/${keyId}/usage`);
    expect(daily).toMatchObject({ granularity: 'day', totals: hourly.totals });
    expect(daily.buckets.length).toBeGreaterThanOrEqual(30);

    const all = await get('/v1/customer-keys/usage');
    const mine = all.keys.find((k: { keyId: string }) => k.keyId === keyId);
    expect(mine).toMatchObject({ label: 'primary-ingest', totals: hourly.totals });
    expect(mine.daily).toHaveLength(30);
    expect(all.keys.find((k: { keyId: string }) => k.keyId === other.metadata.id).totals).toEqual({
      accepted: 0,
      rateLimited: 0,
      ipRefused: 0,
    });

    const listed = await get('/v1/customer-keys');
    // The hour of the requests (the wall clock's: these services run on it), whichever side of an hour they fell.
    expect([hourBefore, hourOf(new Date())]).toContain(listed.keys.find((k: { id: string }) => k.id === keyId).lastUsedAt);
    expect(listed.keys.find((k: { id: string }) => k.id === keyId)).toMatchObject({ stale: false });
    expect(listed.keys.find((k: { id: string }) => k.id === other.metadata.id)).toMatchObject({ lastUsedAt: null, stale: false });
  });

  it("refuses bad usage queries and another customer's key", async () => {
    const { customer, keyId } = await customerWithKey(services);
    const other = await customerWithKey(services);
    const token = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'] });
    for (const query of [
      '?granularity=minute',
      '?from=yesterday',
      `?from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z`,
      `?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z`,
    ]) {
      const response = await app.fetch(`/v1/customer-keys/${keyId}/usage${query}`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(400);
    }
    expect((await app.fetch(`/v1/customer-keys/${other.keyId}/usage`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
  });

  it('costs at most 0.01 storage operations per request in steady state, and its background work a bounded number per second: 10,000 requests over 100 keys', async () => {
    const cost = testServices({ PLANS: '{"enterprise":{"keyLimit":100}}', USAGE_FLUSH_INTERVAL_MS: '600000' }, { background: true });
    const costApp = await serveApp(cost, { timers: false }); // its background work is the services', counted per second
    try {
      const slug = `cost-${randomBytes(3).toString('hex')}`;
      await cost.useCases.customers.create({ slug, name: 'Cost', plan: 'enterprise' });
      const keys: string[] = [];
      for (let i = 0; i < 100; i++)
        keys.push(trackSecret((await cost.useCases.keys.issue(slug, { label: `k${i}`, application: 'bench' }, op())).key));
      // Warm: every key authenticated once (a point read each), limiter and feed running.
      for (const key of keys) expect((await costApp.fetch('/v1/whoami', { headers: { 'x-api-key': key } })).status).toBe(200);
      await cost.usageRecorder.flush();
      const before = cost.storage.operations.snapshot();
      const startedAt = performance.now();
      let sent = 0;
      const worker = async (w: number) => {
        for (let i = w; i < 10_000; i += 20) {
          const response = await costApp.fetch('/v1/whoami', { headers: { 'x-api-key': keys[i % 100]! } });
          expect(response.status).toBe(200);
          await response.arrayBuffer();
          sent++;
        }
      };
      await Promise.all(Array.from({ length: 20 }, (_, w) => worker(w)));
      await cost.usageRecorder.flush(); // the counts of these requests are written too
      const after = cost.storage.operations.snapshot();
      const seconds = (performance.now() - startedAt) / 1000;
      // Requests pay per request; background work (feed polls, limiter syncs, health probes)
      // pays per second of wall time, however slow a loaded machine makes the run.
      const requestDriven = after.requestDriven - before.requestDriven;
      const timeDriven = after.timeDriven - before.timeDriven;
      const timeBound = Math.ceil(seconds * backgroundOperationsPerSecond(cost.useCases.config)) + 3;
      console.log(
        `storage operations for ${sent} requests over 100 keys in ${seconds.toFixed(1)} s: ${requestDriven} request-driven ` +
          `(${(requestDriven / sent).toFixed(4)} per request), ${timeDriven} time-driven (${(timeDriven / seconds).toFixed(1)} per second, bound ${timeBound})`,
      );
      expect(sent).toBe(10_000);
      expect(requestDriven).toBeLessThanOrEqual(100);
      expect(timeDriven).toBeLessThanOrEqual(timeBound);
      expect(after.total - before.total).toBe(requestDriven + timeDriven);
    } finally {
      await costApp.close();
      await cost.dispose();
    }
  }, 120_000);
});

describe('stale keys (injected clock)', () => {
  it('flags keys unused for 30 days, records them daily, and revokes them only where the policy says so', async () => {
    const clock = new ManualClock(new Date());
    const services = testServices({}, { clock });
    const { customer, key: usedKey, keyId: usedId } = await customerWithKey(services, { plan: 'enterprise' });
    const quiet = await services.useCases.keys.issue(customer.slug, { label: 'quiet', application: 'x' }, op());
    const quieter = await services.useCases.keys.issue(customer.slug, { label: 'quieter', application: 'x' }, op());
    trackSecret(quiet.key);
    trackSecret(quieter.key);

    clock.advance(29 * 86_400_000);
    const identity = (await services.authenticator.authenticate(hashSecret(usedKey.split('.').at(-1)!)))!;
    services.usageRecorder.record(identity, 'accepted');
    await services.usageRecorder.flush();
    clock.advance(2 * 86_400_000); // day 31: the quiet keys were never used since creation 31 days ago

    const listed = await services.useCases.keys.list(customer.slug);
    const staleOf = (id: string) => services.useCases.usage.isStale(listed.find((k) => k.id === id)!);
    expect(staleOf(usedId)).toBe(false);
    expect(staleOf(quiet.metadata.id)).toBe(true);

    expect(await services.useCases.staleKeys.run()).toMatchObject({ revoked: 0 });
    const audit = await services.useCases.audit.list(customer.slug, { limit: 10 });
    const event = audit.items.find((e) => e.type === 'keys.stale')!;
    expect(event.details).toMatchObject({ autoRevoke: false, revoked: [] });
    expect((event.details!.keys as Array<{ id: string }>).map((k) => k.id).sort()).toEqual([quiet.metadata.id, quieter.metadata.id].sort());

    await services.useCases.staff.updateCustomer(customer.slug, { autoRevokeStaleKeys: true }, op('staff'));
    const result = await services.useCases.staleKeys.run();
    expect(result.revoked).toBe(2);
    const after = await services.useCases.keys.list(customer.slug);
    expect(after.find((k) => k.id === usedId)!.status).toBe('active');
    expect(
      after
        .filter((k) => k.status === 'revoked')
        .map((k) => k.id)
        .sort(),
    ).toEqual([quiet.metadata.id, quieter.metadata.id].sort());
    await services.dispose();
  });
});
