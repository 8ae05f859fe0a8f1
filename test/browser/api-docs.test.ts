import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { DEMO_SLUG, seedDemo } from '../../local/demo';
import type { ServiceContext } from '../../app/context';
import { SCREENSHOT_DIR, describeWithBrowser, launchBrowser } from '../support/browser';
import { serveApp } from '../support/http';
import { trackSecret } from '../support/secrets';
import { testServices } from '../support/services';

/**
 * The API reference at /docs in headless Chromium: a developer pastes the demo key into
 * Authorize and calls GET /v1/whoami through the page; nothing the page loads breaks the content
 * security policy or comes from another origin.
 */
describeWithBrowser('the API reference page in a real browser', () => {
  jest.setTimeout(60_000);
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  let browser: Browser;
  let page: Page;
  let demoKey = '';
  const problems: string[] = [];
  const requested: string[] = [];

  beforeAll(async () => {
    services = testServices();
    app = await serveApp(services);
    demoKey = (await seedDemo(services)).key!;
    trackSecret(demoKey);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('request', (request) => requested.push(request.url()));
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await services?.dispose();
  });

  it('calls GET /v1/whoami with the demo key through the page', async () => {
    await page.goto(`${app.url}/docs`);
    await page.locator('.opblock-summary-path', { hasText: '/v1/whoami' }).first().waitFor();

    await page.locator('button.authorize').first().click();
    const scheme = page.locator('.auth-container', { hasText: 'ApiKeyHeader' });
    await scheme.locator('input').fill(demoKey);
    await scheme.locator('button.authorize').click();
    await page.locator('.auth-btn-wrapper button.btn-done, .btn-done').first().click();

    const operation = page.locator('.opblock', { has: page.locator('.opblock-summary-path', { hasText: /^\/v1\/whoami$/ }) });
    await operation.locator('.opblock-summary').click();
    await operation.locator('button.try-out__btn').click();
    await operation.locator('button.execute').click();
    const status = operation.locator('.live-responses-table .response .response-col_status').first();
    await status.waitFor();
    expect((await status.textContent())?.trim()).toMatch(/^200/);
    const body = (await operation.locator('.live-responses-table .response-col_description pre').first().textContent()) ?? '';
    expect(JSON.parse(body)).toMatchObject({ customer: { slug: DEMO_SLUG }, key: { label: 'demo' } });
    await operation.scrollIntoViewIfNeeded();
    await operation.screenshot({ path: join(SCREENSHOT_DIR, 'api-docs-whoami.png') });

    // Everything came from this origin, nothing broke the policy, and the key was not stored.
    expect(requested.filter((url) => !url.startsWith(app.url) && !url.startsWith('data:'))).toEqual([]);
    expect(problems).toEqual([]);
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    expect(stored).not.toContain(demoKey.split('.')[2]);
  });

  it("shows the document's own examples, and offers in Authorize only the credentials a person uses", async () => {
    await page.goto(`${app.url}/docs`);
    await page.locator('.opblock-summary-path', { hasText: '/v1/whoami' }).first().waitFor();

    await page.locator('button.authorize').first().click();
    const schemes = (await page.locator('.auth-container h4 code').allTextContents()).map((name) => name.trim()).sort();
    expect(schemes).toEqual(['ApiKeyBearer', 'ApiKeyHeader', 'ManagementKeyHeader', 'PortalToken']);
    await page.locator('button.close-modal').first().click();

    const shownFor = async (path: string, method: string) => {
      const operation = page.locator(`.opblock-${method}`, {
        has: page.locator('.opblock-summary-path', { hasText: new RegExp(`^${path}$`) }),
      });
      await operation.locator('.opblock-summary').click();
      const sample = operation.locator('.responses-wrapper .microlight, .responses-wrapper .highlight-code').first();
      await sample.waitFor();
      return (await operation.locator('.responses-wrapper').textContent()) ?? '';
    };
    const keys = await shownFor('/v1/customer-keys', 'get');
    expect(keys).toContain('"id": "key_01JQ8Z5M3T4V6W7X8Y9Z0A1B2C"');
    expect(keys).toContain('"createdAt": "2026-03-14T09:26:53.000Z"');
    expect(keys).toContain('"activeKeyCount": 2');
    const request = await shownFor('/v1/customer-keys/requests/{id}', 'get');
    expect(request).toContain('"label": "checkout-ci"');
    expect(request).toContain('"code": "not_found"'); // each status shows a problem of its own
    for (const text of [keys, request]) {
      expect(text).not.toMatch(/additionalProp|-?9007199254740991|"string"/);
    }
  });
});
