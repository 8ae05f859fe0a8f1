import type { HttpFunctionDefinition } from '../../app/function-contract';
import { functionDefinitions } from '../../functions/registry';
import { freePort } from '../../local/azurite';
import type { ServiceContext } from '../../app/context';
import { API_KEY_FAILURE_CASES, samplePath, type KeyFixtures } from '../support/api-key-cases';
import { problemOf, serveApp } from '../support/http';
import { op } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { customerWithKey, testServices } from '../support/services';

const protectedFunctions = functionDefinitions.filter((d): d is HttpFunctionDefinition => d.kind === 'http' && d.auth === 'apiKey');

describe('HTTP API on the local host, against Azurite', () => {
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  let fixtures: KeyFixtures;
  let keyId: string;
  let slug: string;

  beforeAll(async () => {
    services = testServices();
    services.useCases.health.start();
    app = await serveApp(services);
    const acme = await customerWithKey(services, { label: 'ingest-prod' });
    const other = await customerWithKey(services);
    const revoked = await services.useCases.keys.issue(acme.customer.slug, { label: 'old', application: 'web' }, op());
    trackSecret(revoked.key);
    await services.useCases.keys.revoke(acme.customer.slug, revoked.metadata.id, op());
    fixtures = { key: acme.key, secret: acme.secret, revokedKey: revoked.key, otherSlug: other.customer.slug };
    keyId = acme.keyId;
    slug = acme.customer.slug;
  });
  afterAll(async () => {
    await app.close();
    await services.dispose();
  });

  describe('happy path', () => {
    it('GET /v1/whoami answers the identity, without secrets', async () => {
      const response = await app.fetch('/v1/whoami', { headers: { 'X-API-Key': fixtures.key } });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const body = await response.json();
      expect(body).toEqual({
        customer: { id: expect.stringMatching(/^cus_/), slug, plan: 'pro' },
        key: { id: keyId, label: 'ingest-prod', application: 'test-app', environment: 'live', type: 'secondary' },
      });
      const text = JSON.stringify(body);
      expect(text).not.toContain(fixtures.secret);
      expect(text).not.toContain(fixtures.key.split('.')[1]);
    });

    it('accepts the bare secret in X-API-Key and the compound key as Bearer', async () => {
      for (const headers of [{ 'X-API-Key': fixtures.secret }, { Authorization: `Bearer ${fixtures.key}` }] as Record<string, string>[]) {
        expect((await app.fetch('/v1/whoami', { headers })).status).toBe(200);
      }
    });

    it('GET /v1/health is anonymous and reports the last probe', async () => {
      await services.useCases.health.probeAll();
      const response = await app.fetch('/v1/health');
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        status: 'ok',
        checks: { 'table-storage': { status: 'ok', checkedAt: expect.any(String), latencyMs: expect.any(Number) } },
      });
    });

    it('answers a revoked key with 401 at once on the instance that revoked it', async () => {
      const issued = await services.useCases.keys.issue(slug, { label: 'short-lived', application: 'web' }, op());
      trackSecret(issued.key);
      expect((await app.fetch('/v1/whoami', { headers: { 'X-API-Key': issued.key } })).status).toBe(200);
      await services.useCases.keys.revoke(slug, issued.metadata.id, op());
      const response = await app.fetch('/v1/whoami', { headers: { 'X-API-Key': issued.key } });
      expect(response.status).toBe(401);
      expect((await problemOf(response)).code).toBe('api_key_invalid');
    });
  });

  describe('error path: the shared API-key failure table on every protected function', () => {
    it('covers the protected functions', () => {
      expect(protectedFunctions.map((d) => d.name).sort()).toEqual(['traces-ingest', 'whoami']);
    });

    describe.each(protectedFunctions.map((d) => [`${d.methods[0]} /${d.route}`, d] as const))('%s', (_name, definition) => {
      it.each(API_KEY_FAILURE_CASES.map((c) => [c.name, c] as const))('%s', async (_caseName, failure) => {
        const headers = failure.headers(fixtures);
        const response = await app.fetch(samplePath(definition), {
          method: definition.methods[0],
          headers: { ...headers, 'content-type': 'application/json' },
          ...(definition.methods[0] === 'GET' ? {} : { body: '{}' }),
        });
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="veriproof"/);
        const problem = await problemOf(response);
        expect(problem.code).toBe(failure.code);
        for (const value of Object.values(headers)) if (value.length > 8) expect(JSON.stringify(problem)).not.toContain(value);
      });
    });

    it('treats two X-API-Key headers as malformed', async () => {
      const headers = new Headers();
      headers.append('X-API-Key', fixtures.key);
      headers.append('X-API-Key', fixtures.key);
      const response = await app.fetch('/v1/whoami', { headers });
      expect((await problemOf(response)).code).toBe('api_key_malformed');
    });

    it('answers unknown paths with 404 and wrong methods with 405, as problem+json', async () => {
      const notFound = await app.fetch('/v1/nope');
      expect(notFound.status).toBe(404);
      expect((await problemOf(notFound)).code).toBe('not_found');
      const wrongMethod = await app.fetch('/v1/whoami', { method: 'DELETE' });
      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.get('allow')).toBe('GET');
      expect((await problemOf(wrongMethod)).code).toBe('method_not_allowed');
    });

    it('refuses a header section over 16 KiB before any function runs, as problem+json', async () => {
      const response = await app.fetch('/v1/whoami', { headers: { 'X-API-Key': fixtures.key, 'x-padding': 'p'.repeat(20_000) } });
      expect(response.status).toBe(431);
      expect((await problemOf(response)).code).toBe('header_too_large');
    });

    it('answers a header over 8 KiB within the limit like any other: a 9 KiB key is malformed', async () => {
      const response = await app.fetch('/v1/whoami', { headers: { 'X-API-Key': 'k'.repeat(9 * 1024) } });
      expect(response.status).toBe(401);
      expect((await problemOf(response)).code).toBe('api_key_malformed');
    });
  });

  describe('storage unreachable', () => {
    it('answers 503 dependency_unavailable with Retry-After for an uncached key, never 200 or 500; health says 503', async () => {
      const deadPort = await freePort();
      const down = testServices({
        TABLES_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${Buffer.from('k').toString('base64')};TableEndpoint=http://127.0.0.1:${deadPort}/devstoreaccount1;`,
        STORAGE_TIMEOUT_MS: '500',
      });
      const downApp = await serveApp(down);
      try {
        const response = await downApp.fetch('/v1/whoami', { headers: { 'X-API-Key': fixtures.key } });
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toBe('5');
        expect((await problemOf(response)).code).toBe('dependency_unavailable');
        await down.useCases.health.probeAll();
        const health = await downApp.fetch('/v1/health');
        expect(health.status).toBe(503);
        const body = (await problemOf(health)) as unknown as { code: string; checks: Record<string, { status: string }> };
        expect(body.code).toBe('dependency_unavailable');
        expect(body.checks['table-storage']!.status).toBe('unavailable');
        // Malformed keys are still refused without storage: a 401, not a 503.
        expect((await downApp.fetch('/v1/whoami', { headers: { 'X-API-Key': 'junk' } })).status).toBe(401);
      } finally {
        await downApp.close();
        await down.dispose();
      }
    });
  });
});
