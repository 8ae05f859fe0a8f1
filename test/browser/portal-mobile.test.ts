import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ServiceContext } from '../../app/context';
import { SCREENSHOT_DIR, describeWithBrowser, launchBrowser } from '../support/browser';
import { serveApp } from '../support/http';
import { expectReadable, measureLayout } from '../support/layout';
import { oneSpanExport } from '../support/otel';
import { op } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { testServices } from '../support/services';

/** What each empty table says: why it is empty, and what to do. */
const EMPTY = {
  keys: 'No active keys, so no integration can send data. Issue one with “Issue new key” above.',
  sandboxKeys: 'The shared sandbox has no active keys. Sandbox mode is read-only: turn it off to issue keys for your own account.',
  revoked: 'No revoked keys. Keys you revoke, and keys replaced by a roll or a reset, are listed here.',
  usage: 'No keys, so no usage. Issue a key on the Keys tab: its requests are counted here per day.',
  requests:
    'No key requests. Requests are filed through the API (POST /v1/customer-keys/requests/{action}, see /docs); a master-component rotation then waits here for Veriproof staff. Changes made on the Keys tab are in the audit log below.',
  audit: 'No audit events yet. Keys issued, revoked, rolled or reset, requests and policy changes are recorded here.',
  sessions: 'No sessions yet. Issue a key on the Keys tab, then send traces with it to POST /v1/traces (see /docs).',
  staffRequests: 'No pending requests. A customer’s request to rotate its master component waits here until you execute or reject it.',
};

const SANDBOX_BANNER =
  'Sandbox mode: you are looking at the shared sandbox tenant, not your account. You can see its keys, usage, requests, audit log and sessions; nothing can be changed here. Turn sandbox mode off to manage your own keys.';

/**
 * The portal on a phone (390x844, the viewport of a current iPhone) and, as a check that the
 * desktop did not regress, at 1280x800: every page and section is laid out without a sideways
 * scroll and without text wrapping a word per line (test/support/layout.ts says how that is
 * measured); tables read as labelled rows on the phone; every empty table says why and what to do;
 * the staff page's metrics are a table of described values. Screenshots of every page land in
 * test-results/portal/mobile-*.png and desktop-*.png: the artefact; the assertions are the test.
 */
describeWithBrowser('the portal on a phone and on a desktop', () => {
  jest.setTimeout(60_000);
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const slug = `m-${randomBytes(3).toString('hex')}`;

  const shot = (name: string) => page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  /** The view is shown and its data loaded. */
  const loaded = (view: string) => page.locator(`body[data-view="${view}"]:not([aria-busy])`).waitFor({ state: 'attached' });
  const open = async (view: string) => {
    await page.click(`#tabs a[href="#${view}"]`);
    await loaded(view);
  };
  const readable = async (where: string) => expectReadable(await measureLayout(page), where);
  /** An element's text as it reads (the markup's line breaks and indentation collapsed). */
  const text = async (selector: string) => ((await page.textContent(selector)) ?? '').replace(/\s+/g, ' ').trim();
  const emptyText = (table: string) => text(`#${table} tbody tr.empty td`);
  /** On the phone every cell of a row is labelled with its column's header (the label is the cell's ::before). */
  const cellLabels = (table: string) =>
    page.$$eval(`#${table} tbody tr:not(.empty) td`, (cells) =>
      cells.map((cell) => {
        const style = (globalThis as any).getComputedStyle(cell, '::before');
        return { label: (cell as any).dataset.label as string, shown: style.content as string, display: style.display as string };
      }),
    );

  /** Signs in from a clean tab (whatever the step before left), so each step stands on its own. */
  async function signIn(role: 'CustomerAdmin' | 'Staff') {
    if (page.url().startsWith(app.url)) await page.evaluate(() => sessionStorage.clear());
    await page.goto(`${app.url}/portal`);
    await page.locator('#view-sign-in').waitFor();
    await page.selectOption('#sign-in-role', role);
    if (role === 'CustomerAdmin') await page.selectOption('#sign-in-customer', slug);
    await page.click('#sign-in-form button[type=submit]');
    await loaded(role === 'Staff' ? 'staff' : 'keys');
  }
  beforeAll(async () => {
    services = testServices();
    app = await serveApp(services);
    // A fresh customer: no keys, no sessions, no requests.
    await services.useCases.customers.create({ slug, name: 'Mobile Bank', plan: 'starter' });
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await services?.dispose();
  });

  describe('at 390x844, a fresh customer', () => {
    it('sign-in', async () => {
      await page.goto(`${app.url}/portal`);
      await page.locator('#view-sign-in').waitFor();
      await readable('sign-in');
      await shot('mobile-01-sign-in');
    });

    it('staff with an empty queue: the empty queue says so, the metrics are a table of described values', async () => {
      await signIn('Staff');
      await page.locator('#service-table tbody tr').first().waitFor();
      await readable('staff, empty queue');
      expect(await emptyText('staff-requests-table')).toBe(EMPTY.staffRequests);
      expect(await page.$$eval('#service-table thead th', (ths) => ths.map((th) => th.textContent))).toEqual([
        'Metric',
        'Value',
        'Breakdown',
      ]);
      const metrics = await page.$$eval('#service-table tbody tr', (rows) =>
        rows.map((row) => ({
          description: row.querySelector('td:nth-child(1) .description')?.textContent ?? '',
          name: row.querySelector('td:nth-child(1) code')?.textContent ?? '',
          value: row.querySelector('td:nth-child(2)')?.textContent ?? '',
        })),
      );
      // One row per metric, each named, described and valued; a lag reads in seconds.
      expect(new Set(metrics.map((m) => m.name)).size).toBe(metrics.length);
      for (const metric of metrics) {
        expect(metric.name).toMatch(/^veriproof\./);
        expect(metric.description.length).toBeGreaterThan(5);
        expect(metric.value).toMatch(/\d/);
      }
      expect(metrics.find((m) => m.name === 'veriproof.revocation_feed.lag')?.value).toMatch(/^[\d.,]+ s$/);
      const labels = await cellLabels('service-table');
      expect(labels.filter((l) => l.display !== 'none').map((l) => l.shown)).toEqual(
        labels.filter((l) => l.display !== 'none').map((l) => `"${l.label}"`),
      );
      await page.selectOption('#staff-customer', slug);
      await page.locator('#tenant-key dt', { hasText: 'Current version' }).waitFor();
      await readable('staff, a customer chosen');
      await shot('mobile-02-staff-empty-queue');
    });

    it('a fresh customer: the keys page with its empty tables and the leaked-key policy', async () => {
      await signIn('CustomerAdmin');
      await page.click('#revoked-section summary');
      await readable('keys, empty');
      expect(await emptyText('keys-table')).toBe(EMPTY.keys);
      expect(await emptyText('revoked-table')).toBe(EMPTY.revoked);
      expect(await page.isVisible('#leaked-key-policy')).toBe(true);
      await shot('mobile-03-keys-empty');
    });

    it('a fresh customer: usage, requests and audit, and sessions say why they are empty', async () => {
      await open('usage');
      await readable('usage, empty');
      expect(await emptyText('usage-table')).toBe(EMPTY.usage);
      await shot('mobile-04-usage-empty');

      await open('activity');
      await readable('requests and audit, empty');
      expect(await emptyText('requests-table')).toBe(EMPTY.requests);
      expect(await emptyText('audit-table')).toBe(EMPTY.audit);
      await shot('mobile-05-requests-empty');

      await open('decisions');
      await readable('decisions, empty');
      expect(await emptyText('decisions-table')).toBe(EMPTY.sessions);
      await shot('mobile-06-decisions-empty');
    });

    it('sandbox mode says what it allows: it shows the shared sandbox and changes nothing', async () => {
      await open('keys');
      await page.check('#sandbox-toggle');
      await page.locator('#keys-summary', { hasText: 'shared sandbox (read-only)' }).waitFor();
      await loaded('keys');
      expect(await text('#sandbox-banner')).toBe(SANDBOX_BANNER);
      expect(await emptyText('keys-table')).toBe(EMPTY.sandboxKeys);
      expect(await page.isDisabled('#new-key')).toBe(true);
      await readable('keys, sandbox mode');
      await shot('mobile-07-sandbox');
      await page.uncheck('#sandbox-toggle');
      await page.locator('#sandbox-banner').waitFor({ state: 'hidden' });
      await loaded('keys');
    });

    it('the issue form and the show-once dialog', async () => {
      await signIn('CustomerAdmin');
      await page.click('#new-key');
      await page.locator('#new-key-dialog[open]').waitFor();
      await readable('issue form');
      await shot('mobile-08-issue-form');
      await page.fill('#new-key-label', 'checkout-service production');
      await page.fill('#new-key-application', 'checkout');
      await page.click('#new-key-form button[type=submit]');
      await page.locator('#show-once-dialog[open]').waitFor();
      trackSecret(await page.inputValue('#show-once-list input'));
      await readable('show-once dialog');
      await shot('mobile-09-show-once');
      await page.click('#show-once-dialog [data-close]');
      await page.locator('#show-once-list li').first().waitFor({ state: 'detached' });
    });
  });

  describe('at 390x844, with data', () => {
    beforeAll(async () => {
      // A second key, a session sent with it and a pending request, whatever the steps before did.
      const issued = await services.useCases.keys.issue(slug, { label: 'loan-review', application: 'loans' }, op('setup'));
      trackSecret(issued.key);
      const ingest = await fetch(`${app.url}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': issued.key },
        body: oneSpanExport('mobile-session-1'),
      });
      expect(ingest.status).toBe(200);
      await services.useCases.requests.submit(slug, { action: 'rotate-tenant-key', params: {} }, op('setup'));
    });

    it('the keys table reads as labelled rows', async () => {
      await signIn('CustomerAdmin');
      await page.locator('#keys-table tbody tr', { hasText: 'loan-review' }).waitFor();
      await readable('keys, two keys');
      const labels = await cellLabels('keys-table');
      const shown = labels.filter((l) => l.display !== 'none');
      expect(shown.map((l) => l.shown)).toEqual(shown.map((l) => `"${l.label}"`));
      expect(shown.map((l) => l.label)).toEqual(expect.arrayContaining(['Key', 'Label', 'Application', 'Created', 'Last used', 'Status']));
      // The column headers are for screen readers only here: the labels say it on each row.
      expect((await page.locator('#keys-table thead').boundingBox())?.height).toBeLessThanOrEqual(1);
      await shot('mobile-10-keys');
    });

    it('sessions, usage, requests and audit', async () => {
      await signIn('CustomerAdmin');
      await open('decisions');
      await page.locator('#decisions-table tbody tr', { hasText: 'mobile-session-1' }).waitFor();
      await readable('decisions');
      await shot('mobile-11-decisions');

      await open('usage');
      await page.locator('#usage-table tbody tr', { hasText: 'loan-review' }).waitFor();
      await readable('usage');
      await shot('mobile-12-usage');

      await open('activity');
      await page.locator('#requests-table tbody tr:not(.empty)').first().waitFor();
      await page.locator('#audit-table tbody tr:not(.empty)').first().waitFor();
      await readable('requests and audit');
      await shot('mobile-13-requests');
    });

    it('staff with a pending request', async () => {
      await signIn('Staff');
      await page.locator('#staff-requests-table tbody tr', { hasText: slug }).waitFor();
      await readable('staff, one pending request');
      await shot('mobile-14-staff');
    });
  });

  describe('at desktop widths', () => {
    beforeAll(async () => {
      await context.close();
      context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      page = await context.newPage();
      page.setDefaultTimeout(10_000);
    });

    it('at 1280x800 every page is laid out as a desktop page: tables with their headers, nothing sideways', async () => {
      await page.goto(`${app.url}/portal`);
      await page.locator('#view-sign-in').waitFor();
      await readable('desktop sign-in');
      await signIn('CustomerAdmin');
      await page.locator('#keys-table tbody tr', { hasText: 'loan-review' }).waitFor();
      await readable('desktop keys');
      expect((await page.locator('#keys-table thead').boundingBox())?.height).toBeGreaterThan(20);
      expect((await cellLabels('keys-table')).every((l) => l.display === 'none' || l.shown === 'none')).toBe(true);
      await shot('desktop-01-keys');
      for (const view of ['usage', 'activity', 'decisions']) {
        await open(view);
        await readable(`desktop ${view}`);
      }
      await shot('desktop-02-decisions');
      await page.click('#tabs a[href="#keys"]');
      await loaded('keys');
      await page.click('#new-key');
      await page.locator('#new-key-dialog[open]').waitFor();
      await readable('desktop issue form');
      await page.keyboard.press('Escape');
      await signIn('Staff');
      await page.locator('#service-table tbody tr').first().waitFor();
      await readable('desktop staff');
      await shot('desktop-03-staff');
    });

    it('at every width from 320 to 1440 px, no page scrolls sideways or squeezes its text', async () => {
      // Every 40 px, and both sides of each breakpoint in portal.css (40rem, 56rem, 78rem).
      const widths = [...Array.from({ length: 29 }, (_, i) => 320 + i * 40), 641, 896, 897, 1248, 1249].sort((a, b) => a - b);
      const check = async (where: string) => {
        for (const width of widths) {
          await page.setViewportSize({ width, height: 800 });
          await readable(`${where} at ${width} px`);
        }
      };
      await page.setViewportSize({ width: 1280, height: 800 });
      await signIn('Staff');
      await page.locator('#staff-requests-table tbody tr', { hasText: slug }).waitFor();
      await check('staff');
      await page.setViewportSize({ width: 1280, height: 800 });
      await signIn('CustomerAdmin');
      for (const view of ['keys', 'usage', 'activity', 'decisions']) {
        await open(view);
        await check(view);
      }
      // Between phone and desktop: the keys as cards side by side, the other tables still tables.
      await page.setViewportSize({ width: 1024, height: 768 });
      await open('keys');
      await shot('tablet-1024-keys');
    });
  });
});
