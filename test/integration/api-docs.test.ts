import type { ServiceContext } from '../../shared/services/context';
import { problemOf, serveApp } from '../support/http';
import { testServices } from '../support/services';

/** The API reference at /docs over HTTP: its files, their headers, and nothing from elsewhere. */
describe('the API reference page', () => {
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

  it('serves the page and the files it loads from this app, under the portal content security policy', async () => {
    const page = await app.fetch('/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const portal = await app.fetch('/portal');
    expect(page.headers.get('content-security-policy')).toBe(portal.headers.get('content-security-policy'));
    expect(page.headers.get('content-security-policy')).not.toContain('unsafe');
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/); // no inline script
    expect(html).not.toMatch(/\sstyle="/);
    const loaded = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(loaded.filter((url) => /^(https?:)?\/\//.test(url))).toEqual([]);
    for (const url of loaded.filter((u) => u.startsWith('/docs/'))) {
      const response = await app.fetch(url);
      expect({ url, status: response.status }).toEqual({ url, status: 200 });
      expect(response.headers.get('etag')).toMatch(/^"[\w-]{22}"$/);
    }
    expect((await app.fetch('/docs/swagger-ui-bundle.js')).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it('refuses every other path with a 404 problem', async () => {
    for (const path of ['/docs/../package.json', '/docs/swagger-ui-bundle.js.map', '/docs/index.js', '/docs/%2e%2e/host.json']) {
      const response = await app.fetch(path);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      expect((await problemOf(response)).code).toBe('not_found');
    }
  });
});
