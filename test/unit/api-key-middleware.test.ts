import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { bindHttpFunction } from '../../functions/bind';
import type { HttpFunctionDefinition } from '../../app/function-contract';
import { functionDefinitions } from '../../functions/registry';
import { withApiKey } from '../../middleware/api-key';
import { DependencyUnavailableError } from '../../shared/errors';
import { json } from '../../shared/http/responses';
import { generateSecret, hashSecret } from '../../shared/keys/compound-key';
import { formatFederatedToken, generateFederatedSecret } from '../../shared/keys/federated-token';
import { API_KEY_FAILURE_CASES, samplePath, type KeyFixtures } from '../support/api-key-cases';
import { memoryServices } from '../support/memory-services';
import { op } from '../support/portal';
import { trackSecret } from '../support/secrets';

/** A protected echo function: it answers with the identity the middleware handed it. */
const echo: HttpFunctionDefinition = {
  kind: 'http',
  name: 'echo',
  route: 'v1/echo',
  methods: ['GET'],
  auth: 'apiKey',
  summary: 'test',
  handler: async (_request, { identity }) => json(200, identity),
};

async function setup() {
  const env = memoryServices();
  const { services } = env;
  await services.useCases.customers.create({ slug: 'acme', name: 'Acme', plan: 'pro' });
  await services.useCases.customers.create({ slug: 'globex', name: 'Globex', plan: 'starter' });
  const issued = await services.useCases.keys.issue('acme', { label: 'ingest', application: 'web' }, op());
  const revoked = await services.useCases.keys.issue('acme', { label: 'old', application: 'web' }, op());
  await services.useCases.keys.revoke('acme', revoked.metadata.id, op());
  trackSecret(issued.key);
  trackSecret(revoked.key);
  const fixtures: KeyFixtures = { key: issued.key, secret: issued.key.split('.').at(-1)!, revokedKey: revoked.key, otherSlug: 'globex' };
  const call = async (definition: HttpFunctionDefinition, headers: Record<string, string>) => {
    const handler = bindHttpFunction(definition, () => services);
    const request = new HttpRequest({ method: definition.methods[0]!, url: `http://localhost${samplePath(definition)}`, headers });
    const response = (await handler(request, new InvocationContext({ invocationId: 'req-1', logHandler: () => {} }))) as HttpResponseInit;
    return { status: response.status, headers: new Headers(response.headers), body: response.jsonBody as Record<string, unknown> };
  };
  return { ...env, fixtures, issued, call };
}

describe('ApiKeyMiddleware: happy path', () => {
  it('resolves the identity from the whole key, the bare secret, or a Bearer key', async () => {
    const { call, fixtures, issued } = await setup();
    for (const headers of [
      { 'x-api-key': fixtures.key },
      { 'x-api-key': fixtures.secret },
      { authorization: `Bearer ${fixtures.key}` },
    ] as Record<string, string>[]) {
      const response = await call(echo, headers);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        customerId: expect.stringMatching(/^cus_/),
        customerSlug: 'acme',
        plan: 'pro',
        keyId: issued.metadata.id,
        keyLabel: 'ingest',
        application: 'web',
        environment: 'live',
        keyType: 'secondary',
        masterComponent: {
          componentVersion: expect.any(String),
          previousComponentVersion: undefined,
          graceEndsAt: undefined,
          requireComponent: false,
        },
      });
    }
  });

  it('prefers X-API-Key over Authorization', async () => {
    const { call, fixtures } = await setup();
    const response = await call(echo, { 'x-api-key': fixtures.key, authorization: 'Bearer not-a-key' });
    expect(response.status).toBe(200);
  });

  it('reads storage once for repeated calls with one key (the cache)', async () => {
    const { call, fixtures, repositories } = await setup();
    const before = repositories.keys.lookupCalls;
    for (let i = 0; i < 20; i++) expect((await call(echo, { 'x-api-key': fixtures.key })).status).toBe(200);
    expect(repositories.keys.lookupCalls - before).toBe(1);
  });
});

describe('ApiKeyMiddleware: error path (the shared failure table, on every protected function)', () => {
  const protectedFunctions = [
    echo,
    ...functionDefinitions.filter((d): d is HttpFunctionDefinition => d.kind === 'http' && d.auth === 'apiKey'),
  ];

  it('has protected functions to check', () => {
    expect(protectedFunctions.map((d) => d.name)).toEqual(expect.arrayContaining(['whoami', 'traces-ingest']));
  });

  describe.each(protectedFunctions.map((d) => [d.name, d] as const))('%s', (_name, definition) => {
    it.each(API_KEY_FAILURE_CASES.map((c) => [c.name, c] as const))('%s', async (_caseName, failure) => {
      const { call, fixtures, repositories } = await setup();
      const headers = failure.headers(fixtures);
      const before = repositories.keys.lookupCalls;
      const response = await call(definition, headers);
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="veriproof"/);
      expect(response.body).toMatchObject({ code: failure.code, status: 401, requestId: 'req-1' });
      if (failure.storageCalls !== undefined) expect(repositories.keys.lookupCalls - before).toBe(failure.storageCalls);
      const text = JSON.stringify(response.body);
      for (const value of Object.values(headers)) if (value.length > 8) expect(text).not.toContain(value);
    });
  });
});

describe('ApiKeyMiddleware: error path with the key warm (its identity cached)', () => {
  // The door looks a warm key's secret up before parsing the rest in full: every case of the
  // shared table must still be answered with its own code once the key is in the cache.
  it.each(API_KEY_FAILURE_CASES.map((c) => [c.name, c] as const))('%s', async (_caseName, failure) => {
    const { call, fixtures } = await setup();
    expect((await call(echo, { 'x-api-key': fixtures.key })).status).toBe(200);
    const response = await call(echo, failure.headers(fixtures));
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ code: failure.code, status: 401 });
  });
});

describe('ApiKeyMiddleware: dependency failures', () => {
  it('answers 503 with Retry-After when storage is unreachable, never 200 or 500', async () => {
    const { call, fixtures, repositories, services } = await setup();
    repositories.keys.failWith = new DependencyUnavailableError('table storage', new Error('ECONNREFUSED'));
    services.authenticator.evict('x'); // nothing cached for the key yet: it was only issued
    const response = await call(echo, { 'x-api-key': fixtures.key });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(response.body).toMatchObject({ code: 'dependency_unavailable' });
  });

  it('refuses to build with an empty list of key types', () => {
    expect(() => withApiKey({ keyTypes: [] })).toThrow(/at least one key type/);
  });
});

describe('ApiKeyMiddleware: failed authentications per client address', () => {
  it('never refuses a valid key from an address that keeps presenting unknown keys, and keeps other addresses apart', async () => {
    const { call, fixtures, services, repositories } = await setup();

    const from = (address: string, key: string) => ({ 'x-api-key': key, 'x-forwarded-for': `203.0.113.99, ${address}` });
    expect((await call(echo, from('198.51.100.7', fixtures.key))).status).toBe(200); // known (now cached)
    for (let i = 0; i < 160; i++) expect((await call(echo, from('198.51.100.7', generateSecret()))).status).toBe(401);
    expect((await call(echo, from('198.51.100.7', fixtures.key))).status).toBe(200); // its valid, known key still works
    // A key this instance has never seen, from that address: read, and served.
    const fresh = await services.useCases.keys.issue('acme', { label: 'fresh', application: 'web' }, op());
    trackSecret(fresh.key);
    const reads = repositories.keys.lookupCalls;
    expect((await call(echo, from('198.51.100.7', fresh.key))).status).toBe(200);
    expect(repositories.keys.lookupCalls).toBe(reads + 1);
    expect((await call(echo, from('198.51.100.8', generateSecret()))).status).toBe(401); // another address is untouched
  });
});

describe('ApiKeyMiddleware: federated access tokens (the same door)', () => {
  /** A token of acme's policy stored as the exchange stores one, expiring `lifetimeMs` from the clock's now. */
  async function withToken(lifetimeMs = 900_000) {
    const env = await setup();
    const { services, repositories, clock } = env;
    const customer = (await services.useCases.customers.get('acme'))!;
    const secret = generateFederatedSecret();
    const expiresAt = new Date(clock.millis() + lifetimeMs).toISOString();
    await repositories.federatedTokens.insert({
      secretHash: hashSecret(secret),
      customerId: customer.id,
      customerSlug: 'acme',
      plan: customer.plan,
      trustPolicyId: 'tp_01JQ8Z5M3T4V6W7X8Y9Z0A1B2C',
      trustPolicyLabel: 'github-deploy',
      application: 'checkout',
      environment: 'test',
      expiresAt,
      policyVersion: clock.now().toISOString(),
    });
    const token = trackSecret(formatFederatedToken({ slug: 'acme', secret }));
    return { ...env, token, secret, expiresAt };
  }

  it('resolves a token in either header to its policy (no component), reading storage once', async () => {
    const { call, token, repositories, expiresAt } = await withToken();
    const before = repositories.keys.lookupCalls;
    for (const headers of [
      { authorization: `Bearer ${token}` },
      { 'x-api-key': token },
      { 'x-api-key': token, 'x-functions-key': 'Z'.repeat(32) },
    ] as Array<Record<string, string>>) {
      const response = await call(echo, headers);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        customerId: expect.stringMatching(/^cus_/),
        customerSlug: 'acme',
        plan: 'pro',
        keyId: 'tp_01JQ8Z5M3T4V6W7X8Y9Z0A1B2C',
        keyLabel: 'github-deploy',
        application: 'checkout',
        environment: 'test',
        keyType: 'federated',
        masterComponent: { componentVersion: '', requireComponent: false },
        expiresAt,
        expiresAtMs: Date.parse(expiresAt),
      });
    }
    expect(repositories.keys.lookupCalls - before).toBe(1);
  });

  it("refuses a warm token's secret in any other form, unread: alone, in a compound key, under another customer's slug", async () => {
    const { call, token, secret, repositories } = await withToken();
    expect((await call(echo, { 'x-api-key': token })).status).toBe(200);
    const before = repositories.keys.lookupCalls;
    for (const [headers, code] of [
      [{ 'x-api-key': secret }, 'api_key_malformed'],
      [{ 'x-api-key': `vp_cust_acme.${'A'.repeat(32)}.${secret}` }, 'api_key_malformed'],
      [{ authorization: `Bearer ${secret}` }, 'api_key_malformed'],
      [{ 'x-api-key': `vp_fed_globex.${secret}` }, 'api_key_invalid'],
    ] as const) {
      const response = await call(echo, headers);
      expect({ headers, status: response.status, code: response.body.code }).toEqual({ headers, status: 401, code });
    }
    expect(repositories.keys.lookupCalls).toBe(before);
  });

  it("refuses a warm key's secret as a token, unread", async () => {
    const { call, fixtures, repositories } = await withToken();
    expect((await call(echo, { 'x-api-key': fixtures.key })).status).toBe(200);
    const before = repositories.keys.lookupCalls;
    const response = await call(echo, { 'x-api-key': `vp_fed_acme.${fixtures.secret}` });
    expect(response.body).toMatchObject({ status: 401, code: 'api_key_malformed' });
    expect(repositories.keys.lookupCalls).toBe(before);
  });

  it('expires a token at its expiry to the millisecond, warm or cold, with a detail that names the exchange', async () => {
    const { call, token, clock, services } = await withToken(300_000);
    expect((await call(echo, { 'x-api-key': token })).status).toBe(200);
    clock.advance(300_000 - 1);
    expect((await call(echo, { 'x-api-key': token })).status).toBe(200);
    clock.advance(1);
    const warm = await call(echo, { 'x-api-key': token });
    expect(warm.body).toMatchObject({ status: 401, code: 'api_key_expired', detail: expect.stringContaining('/v1/oauth/token') });
    services.authenticator.evict(hashSecret(token.split('.')[1]!));
    expect((await call(echo, { 'x-api-key': token })).body).toMatchObject({ code: 'api_key_expired' });
  });

  it('refuses a stopped token without a read, even while its lookup row is still there', async () => {
    const { call, token, services, repositories } = await withToken();
    expect((await call(echo, { 'x-api-key': token })).status).toBe(200);
    services.authenticator.revoke(hashSecret(token.split('.')[1]!), 'acme');
    const before = repositories.keys.lookupCalls;
    expect((await call(echo, { 'x-api-key': token })).body).toMatchObject({ code: 'api_key_invalid' });
    expect(repositories.keys.lookupCalls).toBe(before);
  });

  it('is refused by a route that names the key types it takes, unless it names federated', async () => {
    const { call, token } = await withToken();
    const keysOnly: HttpFunctionDefinition = { ...echo, name: 'keys-only', keyTypes: ['primary', 'secondary'] } as HttpFunctionDefinition;
    expect((await call(keysOnly, { 'x-api-key': token })).body).toMatchObject({ status: 403, code: 'forbidden' });
    const ingest = functionDefinitions.find((d) => d.name === 'traces-ingest') as HttpFunctionDefinition & { keyTypes?: readonly string[] };
    expect(ingest.keyTypes).toContain('federated');
  });
});
