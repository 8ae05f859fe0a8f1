import { randomBytes } from 'node:crypto';
import { ManualClock } from '../../shared/clock';
import { hashSecret } from '../../shared/keys/compound-key';
import { GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_JWT } from '../../shared/oauth/token-request';
import type { ServiceContext } from '../../app/context';
import { LoopbackOidcIssuer } from '../../fixtures/oidc-issuer';
import { METRICS } from '../../shared/telemetry/metrics';
import { caller, problemOf, serveApp } from '../support/http';
import { op, portalToken } from '../support/portal';
import { oneSpanExport } from '../support/otel';
import { trackSecret } from '../support/secrets';
import { customerWithKey, testServices } from '../support/services';

/**
 * The service's OpenTelemetry metrics, read back from the instance's own reader (what staff see
 * at `GET /v1/staff/service`), in the existing kinds of scenario: keys used and revoked, storage
 * unreachable and throttled, the revocation feed unreadable.
 */
describe('metrics', () => {
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  const whoami = (key: string) => app.fetch('/v1/whoami', { headers: { 'x-api-key': key } });

  beforeAll(async () => {
    services = testServices();
    await services.revocations.poll();
    app = await serveApp(services);
  });
  afterAll(async () => {
    await app?.close();
    await services?.dispose();
  });

  it('counts authentication outcomes: a revoked key moves from ok (with its customer and plan) to api_key_invalid', async () => {
    const { customer, key, keyId } = await customerWithKey(services, { plan: 'pro' });
    const spare = await services.useCases.keys.issue(customer.slug, { label: 'spare', application: 'a' }, op());
    const ok = { outcome: 'ok', customer: customer.slug, plan: 'pro' };
    const before = await services.telemetry.total(METRICS.authOutcomes, { outcome: 'api_key_invalid' });
    for (let i = 0; i < 3; i++) expect((await whoami(key)).status).toBe(200);
    expect(await services.telemetry.total(METRICS.authOutcomes, ok)).toBe(3);
    await services.useCases.keys.revoke(customer.slug, keyId, op());
    expect((await whoami(key)).status).toBe(401);
    expect(await services.telemetry.total(METRICS.authOutcomes, ok)).toBe(3);
    expect((await services.telemetry.total(METRICS.authOutcomes, { outcome: 'api_key_invalid' })) - before).toBe(1);
    // A revoked key presented again names its customer: a fleet still using it shows per customer.
    expect(await services.telemetry.total(METRICS.authOutcomes, { outcome: 'api_key_invalid', customer: customer.slug })).toBe(1);
    // Nothing that identifies a key is in any metric: no key, secret, component or hash.
    const dump = JSON.stringify(await services.telemetry.snapshot());
    for (const secret of [key, spare.key]) {
      for (const part of secret.split('.').slice(1)) expect(dump).not.toContain(part);
      expect(dump).not.toContain(hashSecret(secret.split('.').at(-1)!));
    }
    expect(dump).not.toContain(keyId);
  });

  it('counts rate-limited requests and storage operations by table, kind and outcome', async () => {
    const { customer, key, keyId } = await customerWithKey(services);
    await services.useCases.keys.setRateLimit(customer.slug, keyId, { requestsPerSecond: 1, burst: 1 }, op());
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await whoami(key)).status);
    expect(statuses).toContain(429);
    expect(await services.telemetry.total(METRICS.authOutcomes, { outcome: 'rate_limited', customer: customer.slug })).toBe(
      statuses.filter((s) => s === 429).length,
    );
    expect(await services.telemetry.total(METRICS.storageOperations, { table: 'keyLookup', kind: 'read', outcome: 'ok' })).toBeGreaterThan(
      0,
    );
    expect(await services.telemetry.total(METRICS.storageOperations, { table: 'customers', kind: 'batch', outcome: 'ok' })).toBeGreaterThan(
      0,
    );
    // A point read of a row that is not there counts as `absent`, not as an error: one read, one count.
    const absent = { table: 'customers', kind: 'read', outcome: 'absent' };
    const absentBefore = await services.telemetry.total(METRICS.storageOperations, absent);
    expect(await services.useCases.customers.get(`absent-${randomBytes(3).toString('hex')}`)).toBeUndefined();
    expect((await services.telemetry.total(METRICS.storageOperations, absent)) - absentBefore).toBe(1);
  });

  it('counts auth-cache hits and misses, times every read and one warm decision in 64, and counts component lookups', async () => {
    const { key } = await customerWithKey(services);
    const before = {
      hit: await services.telemetry.total(METRICS.authCacheLookups, { result: 'hit' }),
      miss: await services.telemetry.total(METRICS.authCacheLookups, { result: 'miss' }),
      timedHits: await services.telemetry.total(METRICS.authDuration, { cache: 'hit' }),
      components: await services.telemetry.total(METRICS.componentLookups, { result: 'hit' }),
    };
    for (let i = 0; i < 130; i++) expect((await whoami(key)).status).toBe(200);
    expect((await services.telemetry.total(METRICS.authCacheLookups, { result: 'miss' })) - before.miss).toBe(1);
    expect((await services.telemetry.total(METRICS.authCacheLookups, { result: 'hit' })) - before.hit).toBe(129);
    const timed = (await services.telemetry.total(METRICS.authDuration, { cache: 'hit' })) - before.timedHits;
    expect(timed).toBeGreaterThanOrEqual(2);
    expect(timed).toBeLessThanOrEqual(3);
    // The whole key presents the component: checked from memory on every request.
    const components = await services.telemetry.total(METRICS.componentLookups, { result: 'hit' });
    expect(components - before.components).toBeGreaterThanOrEqual(129);
    // A component that is not even well formed is refused before any lookup: none is counted.
    const secret = key.split('.').at(-1)!;
    const malformed = await app.fetch('/v1/whoami', { headers: { 'x-api-key': secret, 'x-functions-key': 'not-a-component' } });
    expect((await problemOf(malformed)).code).toBe('component_invalid');
    expect(await services.telemetry.total(METRICS.componentLookups, { result: 'hit' })).toBe(components);
  });

  it('counts ingest requests, batches, spans, bytes and dropped spans by customer', async () => {
    const { customer, key } = await customerWithKey(services);
    const body = oneSpanExport('metrics-session');
    const response = await app.fetch('/v1/traces', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body,
    });
    expect(response.status).toBe(200);
    const refused = await app.fetch('/v1/traces', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: '{"resourceSpans":',
    });
    expect(refused.status).toBe(400);
    const of = (name: string, match: Record<string, string> = {}) => services.telemetry.total(name, { customer: customer.slug, ...match });
    expect(await of(METRICS.ingestRequests, { outcome: 'accepted' })).toBe(1);
    expect(await of(METRICS.ingestRequests, { outcome: 'refused' })).toBe(1);
    expect(await of(METRICS.ingestBatches)).toBe(1);
    expect(await of(METRICS.ingestSpans)).toBe(1);
    expect(await of(METRICS.ingestBytes)).toBe(Buffer.byteLength(body) + Buffer.byteLength('{"resourceSpans":'));
    expect(await of(METRICS.ingestDroppedSpans)).toBe(0);
  });

  it('names only the metrics the runbook knows, and shows them to staff only', async () => {
    const { customer } = await customerWithKey(services);
    const staff = await portalToken(services, { roles: ['Staff'] });
    const response = await app.fetch('/v1/staff/service', { headers: { authorization: `Bearer ${staff}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { instanceId: string; metrics: Array<{ name: string; description: string; unit: string }> };
    expect(body.instanceId).toBe(services.rateLimiter.instanceId);
    const known = new Set<string>(Object.values(METRICS));
    expect(body.metrics.length).toBeGreaterThan(5);
    for (const metric of body.metrics) expect(known.has(metric.name)).toBe(true);
    // Each says what it is and in which unit (what the staff page shows beside the name).
    for (const metric of body.metrics) expect(metric.description).not.toBe('');
    const unitOf = (name: string) => body.metrics.find((m) => m.name === name)?.unit;
    expect([unitOf(METRICS.feedLag), unitOf(METRICS.authCacheEntries)]).toEqual(['s', '']);
    for (const name of [METRICS.authCacheEntries, METRICS.feedLag, METRICS.rateLimitSyncLag]) {
      expect(body.metrics.map((m) => m.name)).toContain(name);
    }
    const admin = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'] });
    const refused = await app.fetch('/v1/staff/service', { headers: { authorization: `Bearer ${admin}` } });
    expect(refused.status).toBe(403);
    expect((await problemOf(refused)).code).toBe('forbidden');
  });

  it('counts storage failures while storage is unreachable, and the feed lag grows until a read succeeds', async () => {
    // Two instances on clocks moved by hand: one whose storage is unreachable, one on Azurite.
    const clock = new ManualClock(new Date());
    const down = testServices(
      {
        TABLES_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${randomBytes(32).toString('base64')};TableEndpoint=http://127.0.0.1:9/devstoreaccount1`,
        STORAGE_TIMEOUT_MS: '300',
      },
      { clock },
    );
    const up = testServices({ TABLES_PREFIX: services.useCases.config.tables.prefix }, { clock });
    const lag = async (instance: ServiceContext) => (await instance.telemetry.snapshot()).find((p) => p.name === METRICS.feedLag)!.value;
    try {
      await Promise.all([down.revocations.poll(), up.revocations.poll()]);
      expect(await lag(down)).toBe(0); // since it started: no read has succeeded yet
      expect(await lag(up)).toBe(0);
      clock.advance(7000);
      await Promise.all([down.revocations.poll(), up.revocations.poll()]);
      expect(await lag(down)).toBe(7);
      expect(await lag(up)).toBe(0);
      // Every attempt failed (the first are the table checks each storage call starts with).
      expect(await down.telemetry.total(METRICS.storageOperations, { outcome: 'failed' })).toBeGreaterThanOrEqual(2);
      expect(await down.telemetry.total(METRICS.storageOperations, { outcome: 'ok' })).toBe(0);
    } finally {
      await Promise.all([down.dispose(), up.dispose()]);
    }
  });

  it('counts storage answers of a throttled partition as throttled', async () => {
    const throttled = testServices(
      { TABLES_PREFIX: services.useCases.config.tables.prefix },
      { throttle: { partition: '^metrics-throttled', entitiesPerSecond: 1, answer: 'ServerBusy' } },
    );
    try {
      const slug = 'metrics-throttled';
      await throttled.useCases.customers.create({ slug, name: 'Throttled', plan: 'pro' }).catch(() => undefined);
      for (let i = 0; i < 5; i++) await throttled.useCases.customers.get(slug).catch(() => undefined);
      expect(await throttled.telemetry.total(METRICS.storageOperations, { table: 'customers', outcome: 'throttled' })).toBeGreaterThan(0);
    } finally {
      await throttled.dispose();
    }
  });

  it('counts token exchanges by outcome (the refusal reason, the limit, the request error) and times those that ran', async () => {
    // An instance of its own (counts from zero), on a clock moved by hand (no bucket refills), with
    // a customer limit of 5 exchanges; a loopback issuer whose tokens the customer's policy trusts.
    const clock = new ManualClock(new Date());
    const issuer = await LoopbackOidcIssuer.start({ now: () => clock.millis() });
    issuer.addKey('ES256');
    const own = testServices(
      {
        TABLES_PREFIX: services.useCases.config.tables.prefix,
        TOKEN_EXCHANGE_RATE_LIMIT_CUSTOMER_PER_SECOND: '1',
        TOKEN_EXCHANGE_RATE_LIMIT_CUSTOMER_BURST: '5',
      },
      { clock },
    );
    const ownApp = await serveApp(own, { timers: false });
    try {
      const slug = `mx${randomBytes(4).toString('hex')}`;
      await own.useCases.customers.create({ slug, name: 'Exchanges', plan: 'pro' });
      const admin = { actor: { type: 'user' as const, id: 'usr_admin', name: 'Ada Admin' }, requestId: 'req-metrics' };
      await own.useCases.trustPolicies.create(
        slug,
        {
          label: 'ci',
          issuer: issuer.issuer,
          audience: slug,
          subject: 'repo:acme/checkout:*',
          claims: {},
          application: 'checkout',
          environment: 'live',
          tokenLifetimeMinutes: 15,
        },
        admin,
      );
      const call = caller(ownApp);
      const exchange = async (form: Record<string, string>, contentType = 'application/x-www-form-urlencoded') => {
        const answer = await call('POST', '/v1/oauth/token', {
          headers: { 'content-type': contentType },
          body: new URLSearchParams(form).toString(),
        });
        if (typeof answer.body?.access_token === 'string') trackSecret(answer.body.access_token);
        return answer;
      };
      const valid = (subjectToken: string, audience = slug) => ({
        grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
        subject_token: subjectToken,
        subject_token_type: TOKEN_TYPE_JWT,
        audience,
      });
      const now = Math.floor(clock.millis() / 1000);
      const issued = await exchange(valid(issuer.sign({ aud: slug })));
      expect(issued.status).toBe(200);
      expect((await exchange(valid(issuer.sign({ aud: slug })))).status).toBe(200);
      expect((await exchange(valid(issuer.unsigned({ aud: slug })))).body!.error).toBe('invalid_grant');
      expect((await exchange(valid(issuer.sign({ aud: slug, iat: now - 900, nbf: now - 900, exp: now - 600 })))).body!.error).toBe(
        'invalid_grant',
      );
      expect((await exchange(valid(issuer.sign({ aud: slug, sub: 'repo:other/app:ref:refs/heads/main' })))).body!.error).toBe(
        'invalid_grant',
      );
      // The customer's five are spent: the next two are refused before anything is read.
      for (let i = 0; i < 2; i++) expect((await exchange(valid(issuer.sign({ aud: slug })))).status).toBe(429);
      // A customer nobody has is a refusal like the others (its own bucket).
      const nobody = `nobody${randomBytes(4).toString('hex')}`;
      expect((await exchange(valid(issuer.sign({ aud: nobody }), nobody))).body!.error).toBe('invalid_grant');
      // Requests that are not exchanges: a wrong grant type (the route's check), a body that is not a form (the door's).
      expect((await exchange({ grant_type: 'password' })).body!.error).toBe('unsupported_grant_type');
      expect((await exchange({}, 'application/json')).body!.error).toBe('invalid_request');

      const total = (name: string, match: Record<string, string> = {}) => own.telemetry.total(name, match);
      const outcomes = METRICS.tokenExchanges;
      expect(await total(outcomes, { outcome: 'issued' })).toBe(2);
      expect(await total(outcomes, { outcome: 'refused' })).toBe(4);
      for (const reason of ['unsupported_algorithm', 'expired', 'subject_mismatch', 'unknown_customer'])
        expect({ reason, count: await total(outcomes, { outcome: 'refused', reason }) }).toEqual({ reason, count: 1 });
      expect(await total(outcomes, { outcome: 'rate_limited', limit: 'per-customer' })).toBe(2);
      expect(await total(outcomes, { outcome: 'rate_limited', limit: 'per-address' })).toBe(0);
      expect(await total(outcomes, { outcome: 'invalid_request', error: 'unsupported_grant_type' })).toBe(1);
      expect(await total(outcomes, { outcome: 'invalid_request', error: 'invalid_request' })).toBe(1);
      expect(await total(outcomes)).toBe(10);
      // Timed: each exchange that ran (a histogram's count), not the requests refused before it.
      expect(await total(METRICS.tokenExchangeDuration, { outcome: 'issued' })).toBe(2);
      expect(await total(METRICS.tokenExchangeDuration, { outcome: 'refused' })).toBe(4);
      expect(await total(METRICS.tokenExchangeDuration)).toBe(6);
      // Low cardinality, nothing secret: no customer (an audience is anyone's text), no token.
      const dump = JSON.stringify(
        (await own.telemetry.snapshot()).filter((p) => p.name === outcomes || p.name === METRICS.tokenExchangeDuration),
      );
      expect(dump).not.toContain(nobody);
      expect(dump).not.toContain(slug);
      expect(dump).not.toContain((issued.body!.access_token as string).split('.')[1]!);
    } finally {
      await ownApp.close();
      await own.dispose();
      await issuer.close();
    }
  });

  it('counts an exchange that storage fails as failed (answered 503), timed', async () => {
    const down = testServices({
      TABLES_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${randomBytes(32).toString('base64')};TableEndpoint=http://127.0.0.1:9/devstoreaccount1`,
      STORAGE_TIMEOUT_MS: '300',
    });
    const downApp = await serveApp(down, { timers: false });
    try {
      const answer = await caller(downApp)('POST', '/v1/oauth/token', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
          subject_token: 'x.y.z',
          subject_token_type: TOKEN_TYPE_JWT,
          audience: 'acme',
        }).toString(),
      });
      expect(answer.status).toBe(503);
      expect(await down.telemetry.total(METRICS.tokenExchanges, { outcome: 'failed' })).toBe(1);
      expect(await down.telemetry.total(METRICS.tokenExchanges)).toBe(1);
      expect(await down.telemetry.total(METRICS.tokenExchangeDuration, { outcome: 'failed' })).toBe(1);
    } finally {
      await downApp.close();
      await down.dispose();
    }
  });
});
