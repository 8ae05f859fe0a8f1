import { randomBytes } from 'node:crypto';
import { ManualClock } from '../../shared/clock';
import { MAX_SESSIONS_PER_REQUEST } from '../../shared/otlp/limits';
import type { ServiceContext } from '../../app/context';
import { problemOf, serveApp } from '../support/http';
import { customerWithKey, testServices } from '../support/services';

/**
 * The plan meters ingest by the work it causes: every session batch a request writes takes one
 * unit of the key's batch limit (a starter key: 10 per second, bursts of 20), beside the one
 * request the door takes. A request of many sessions cannot buy many storage transactions with
 * one token any more: over the limit it is 429 `rate_limited` with Retry-After, the problem says
 * which limit (`limit: "batches"`), the RateLimit fields name both policies, and nothing of the
 * refused request is stored. The clock stands still, so token counts are exact.
 */
describe('hostile ingest: the rate limit follows the batches written', () => {
  let services: ServiceContext;
  let clock: ManualClock;
  let app: Awaited<ReturnType<typeof serveApp>>;

  beforeAll(async () => {
    clock = new ManualClock(new Date());
    services = testServices({ USAGE_FLUSH_INTERVAL_MS: '600000' }, { clock });
    await services.revocations.poll();
    app = await serveApp(services);
  });
  afterAll(async () => {
    await app.close();
    await services.dispose();
  });

  /** An OTLP/JSON export of one span in each of `sessions` sessions, named `${prefix}-${i}`. */
  function sessionsBody(prefix: string, sessions: number): string {
    const nanos = String(BigInt(clock.millis()) * 1_000_000n);
    return JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'batches' } }] },
          scopeSpans: [
            {
              scope: { name: 'batches' },
              spans: Array.from({ length: sessions }, (_, i) => ({
                traceId: randomBytes(16).toString('hex'),
                spanId: randomBytes(8).toString('hex'),
                name: 'op',
                startTimeUnixNano: nanos,
                endTimeUnixNano: nanos,
                attributes: [{ key: 'session.id', value: { stringValue: `${prefix}-${i}` } }],
              })),
            },
          ],
        },
      ],
    });
  }
  const ingest = (key: string, body: string) =>
    app.fetch('/v1/traces', { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body });
  const stored = async (slug: string, prefix: string, sessions: number) => {
    let count = 0;
    for (let i = 0; i < sessions; i++) if (await services.sessionStore.get(slug, `${prefix}-${i}`)) count += 1;
    return count;
  };

  it('refuses a request whose batches are over the key limit with 429 limit "batches", stores none of it, and names both policies', async () => {
    const { customer, key } = await customerWithKey(services, { plan: 'starter' });
    const first = await ingest(key, sessionsBody('first', 19));
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-policy')).toBe('"per-key";q=20;w=2, "batches";q=20;w=2');
    expect(first.headers.get('ratelimit')).toBe('"per-key";r=19;t=1, "batches";r=1;t=2');

    // One request token would do; two batches do not fit the one left.
    const refused = await ingest(key, sessionsBody('refused', 2));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('ratelimit-policy')).toBe('"per-key";q=20;w=2, "batches";q=20;w=2');
    expect(refused.headers.get('ratelimit')).toBe('"per-key";r=18;t=1, "batches";r=1;t=2');
    expect(await problemOf(refused)).toMatchObject({ code: 'rate_limited', limit: 'batches', retryAfterSeconds: 1 });
    expect(await stored(customer.slug, 'refused', 2)).toBe(0);

    clock.advance(100); // one more batch refilled
    expect((await ingest(key, sessionsBody('refused', 2))).status).toBe(200);
    expect(await stored(customer.slug, 'refused', 2)).toBe(2);
  });

  it(`meters a request of ${MAX_SESSIONS_PER_REQUEST} sessions as ${MAX_SESSIONS_PER_REQUEST} batches: the key then writes nothing until the plan's rate has paid for them`, async () => {
    const { customer, key } = await customerWithKey(services, { plan: 'starter' });
    // More than the bucket can ever hold: it goes only when the bucket is full, and leaves a debt.
    expect((await ingest(key, sessionsBody('many', MAX_SESSIONS_PER_REQUEST))).status).toBe(200);
    clock.advance(10_000); // 100 batches' worth of time: a tenth of the debt
    const after = await ingest(key, sessionsBody('after', 1));
    expect(after.status).toBe(429);
    const problem = (await problemOf(after)) as unknown as { limit: string; retryAfterSeconds: number };
    expect(problem.limit).toBe('batches');
    // (1,000 - 20 - 100) batches of debt and one more, at 10 per second.
    expect(problem.retryAfterSeconds).toBe(Math.ceil((MAX_SESSIONS_PER_REQUEST - 20 - 100 + 1) / 10));
    expect(await stored(customer.slug, 'after', 1)).toBe(0);
    clock.advance(problem.retryAfterSeconds * 1000);
    expect((await ingest(key, sessionsBody('after', 1))).status).toBe(200);
  });

  it('charges a batch whose rows take more than two storage transactions one more unit per two, after it is stored', async () => {
    const { key } = await customerWithKey(services, { plan: 'starter' });
    const batchesLeft = async () => {
      const answer = await ingest(key, '{}'); // an empty export: stores nothing, shows the batch bucket
      expect(answer.status).toBe(200);
      return Number(/"batches";r=(\d+)/.exec(answer.headers.get('ratelimit') ?? '')?.[1]);
    };
    expect(await batchesLeft()).toBe(20);
    // One session whose document is megabytes: its rows beyond the first transaction go ahead.
    const big = JSON.parse(sessionsBody('big', 1)) as {
      resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ attributes: unknown[] }> }> }>;
    };
    big.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes.push({ key: 'blob', value: { stringValue: 'x'.repeat(3_500_000) } });
    expect((await ingest(key, JSON.stringify(big))).status).toBe(200);
    expect(await batchesLeft()).toBeLessThanOrEqual(20 - 2);
  });

  it('says which limit a 429 is for when the requests run out first', async () => {
    const { key } = await customerWithKey(services, { plan: 'starter' });
    const answers = [];
    for (let i = 0; i < 21; i++) answers.push(await app.fetch('/v1/whoami', { headers: { 'x-api-key': key } }));
    const refused = answers.at(-1)!;
    expect(refused.status).toBe(429);
    expect(await problemOf(refused)).toMatchObject({ code: 'rate_limited', limit: 'requests' });
  });
});
