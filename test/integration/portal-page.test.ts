import { createServices } from '../../app/compose';
import type { ServiceContext } from '../../app/context';
import { MemorySecretStore } from '../../shared/adapters/memory/memory-secret-store';
import { loadConfig } from '../../shared/config';
import { rawRequest } from '../support/fuzz';
import { problemOf, serveApp } from '../support/http';
import { portalToken } from '../support/portal';
import { customerWithKey, testEnv, testServices } from '../support/services';

/**
 * The portal page over HTTP, without a browser: what the host serves at /portal, with which
 * headers, and the local-only sign-in route that exists only with the local signing secret.
 * (test/browser drives the page itself in Chromium.)
 */
describe('the portal page and its local sign-in', () => {
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;

  beforeAll(async () => {
    services = testServices();
    app = await serveApp(services);
  });
  afterAll(async () => {
    await app?.close();
    await services?.dispose();
  });

  it('serves the page at /portal and /portal/ as HTML with a strict content security policy', async () => {
    for (const path of ['/portal', '/portal/', '/portal/index.html']) {
      const response = await app.fetch(path);
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      const html = await response.text();
      expect(html).toContain('<script type="module" src="/portal/app/main.js"></script>');
      // No inline script or style: the policy would block them.
      expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
      expect(html).not.toMatch(/\sstyle="/);
    }
  });

  it('serves every module the page imports, as JavaScript, and nothing else from disk', async () => {
    const seen = new Set<string>();
    const queue = ['/portal/app/main.js'];
    while (queue.length > 0) {
      const path = queue.shift()!;
      if (seen.has(path)) continue;
      seen.add(path);
      const response = await app.fetch(path);
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
      expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      const source = await response.text();
      for (const [, relative] of source.matchAll(/from '\.\/([\w-]+\.js)'/g)) queue.push(`/portal/app/${relative}`);
    }
    expect(seen.size).toBeGreaterThanOrEqual(8);
    expect((await app.fetch('/portal/portal.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');

    for (const path of [
      '/portal/../package.json',
      '/portal/app/../../local.settings.json',
      '/portal/%2e%2e/host.json',
      '/portal/nope.js',
      '/portal/app/main.ts',
    ]) {
      const response = await app.fetch(path);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      expect((await problemOf(response)).code).toBe('not_found');
    }
  });

  it('answers a matching If-None-Match with 304 and no body, and HEAD with headers only', async () => {
    const first = await app.fetch('/portal/app/main.js');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]{22}"$/);
    expect(first.headers.get('cache-control')).toBe('no-cache');
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`]) {
      const again = await app.fetch('/portal/app/main.js', { headers: { 'if-none-match': header } });
      expect({ header, status: again.status }).toEqual({ header, status: 304 });
      expect(await again.text()).toBe('');
    }
    expect((await app.fetch('/portal/app/main.js', { headers: { 'if-none-match': '"stale"' } })).status).toBe(200);
    const head = await app.fetch('/portal', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await head.text()).toBe('');
  });

  it('signs in locally: lists customers, and a token for a customer admin works on the portal API', async () => {
    const { customer } = await customerWithKey(services);
    const listed = await app.fetch('/v1/local/sign-in');
    expect(listed.status).toBe(200);
    const { customers, roles } = (await listed.json()) as {
      customers: Array<{ slug: string; name: string; plan: string }>;
      roles: string[];
    };
    expect(customers).toContainEqual({ slug: customer.slug, name: customer.name, plan: customer.plan });
    expect(roles).toEqual(['CustomerAdmin', 'Staff']);

    const signedIn = await app.fetch('/v1/local/sign-in', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'CustomerAdmin', customer: customer.slug, name: 'Erin Admin' }),
    });
    expect(signedIn.status).toBe(200);
    const { token, expiresAt } = (await signedIn.json()) as { token: string; expiresAt: string };
    const hours = (Date.parse(expiresAt) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(7.9);
    expect(hours).toBeLessThanOrEqual(8);
    const keys = await app.fetch('/v1/customer-keys', { headers: { authorization: `Bearer ${token}` } });
    expect(keys.status).toBe(200);
    // A customer admin's token is not a staff token.
    expect((await app.fetch('/v1/staff/customers', { headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
  });

  it('answers only to loopback host names, so a DNS-rebound page reaches nothing, and signs in only from JSON', async () => {
    for (const host of ['evil.example', 'evil.example:7071', 'localhost.evil.example', '10.0.0.1']) {
      for (const path of ['/portal', '/v1/local/sign-in', '/v1/health']) {
        const response = await rawRequest(app.url, 'GET', path, [['host', host]]);
        expect({ host, path, status: response.status, code: (JSON.parse(response.body) as { code: string }).code }).toEqual({
          host,
          path,
          status: 421,
          code: 'misdirected_request',
        });
      }
    }
    for (const host of ['localhost', `localhost:${app.port}`, '127.0.0.1', `[::1]:${app.port}`, 'portal.localhost']) {
      expect({ host, status: (await rawRequest(app.url, 'GET', '/portal', [['host', host]])).status }).toEqual({ host, status: 200 });
    }
    // What a form on another site could send: not JSON, so no token.
    const form = await app.fetch('/v1/local/sign-in', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ role: 'Staff', name: 'Mallory' }),
    });
    expect(form.status).toBe(415);
    expect((await problemOf(form)).code).toBe('unsupported_media_type');
  });

  it('tells the page how users sign in here: locally, the local route', async () => {
    const response = await app.fetch('/portal/config.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await response.json()).toEqual({ signInUrl: null, localSignIn: true });
  });

  it('refuses a sign-in it cannot honour with a clear problem, never a 500', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ role: 'CustomerAdmin' }, 400, 'validation_failed'],
      [{ role: 'Root', customer: 'acme' }, 400, 'validation_failed'],
      [{ role: 'CustomerAdmin', customer: 'no-such-customer' }, 404, 'not_found'],
      [{ role: 'Staff', name: 'x'.repeat(101) }, 400, 'validation_failed'],
    ];
    for (const [body, status, code] of cases) {
      const response = await app.fetch('/v1/local/sign-in', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const problem = await problemOf(response);
      expect({ body, status: response.status, code: problem.code }).toEqual({ body, status, code });
    }
    const notJson = await app.fetch('/v1/local/sign-in', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
  });

  it('lists every customer for staff, by slug', async () => {
    const a = await customerWithKey(services);
    const b = await customerWithKey(services, { plan: 'starter' });
    const staff = await portalToken(services, { roles: ['Staff'] });
    const response = await app.fetch('/v1/staff/customers', { headers: { authorization: `Bearer ${staff}` } });
    expect(response.status).toBe(200);
    const { customers } = (await response.json()) as { customers: Array<{ slug: string; plan: string; activeKeyCount: number }> };
    const slugs = customers.map((c) => c.slug);
    expect(slugs).toEqual([...slugs].sort());
    expect(customers.find((c) => c.slug === a.customer.slug)).toMatchObject({ plan: 'pro', activeKeyCount: 1 });
    expect(customers.find((c) => c.slug === b.customer.slug)).toMatchObject({ plan: 'starter', activeKeyCount: 1 });
    expect((await app.fetch('/v1/staff/customers')).status).toBe(401);
  });
});

describe('the local sign-in route where portal tokens come from an identity provider', () => {
  it('does not exist: 404 for GET and POST, while the page itself is still served', async () => {
    const env = testEnv({ PORTAL_JWKS_URL: 'http://127.0.0.1:9/keys', PORTAL_SIGN_IN_URL: 'https://portal.example.com/keys/sign-in' });
    delete env.PORTAL_JWT_SECRET;
    const services = createServices(loadConfig(env), { secrets: new MemorySecretStore(), background: false });
    const app = await serveApp(services);
    try {
      expect((await problemOf(await app.fetch('/v1/local/sign-in'))).code).toBe('not_found');
      const post = await app.fetch('/v1/local/sign-in', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ role: 'Staff', name: 'Mallory' }),
      });
      expect(post.status).toBe(404);
      expect(await post.text()).not.toMatch(/eyJ/);
      expect((await app.fetch('/portal')).status).toBe(200);
      // The page sends users to the portal back end instead.
      expect(await (await app.fetch('/portal/config.json')).json()).toEqual({
        signInUrl: 'https://portal.example.com/keys/sign-in',
        localSignIn: false,
      });
    } finally {
      await app.close();
      await services.dispose();
    }
  });
});
