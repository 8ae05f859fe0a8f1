import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { Clock } from '../../shared/clock';
import type { ServiceContext } from '../../app/context';
import { SCREENSHOT_DIR, describeWithBrowser, launchBrowser } from '../support/browser';
import { serveApp } from '../support/http';
import { op } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { testServices } from '../support/services';

/** Real time, moved forward by hand to the end of the overlap. */
class SteppingClock implements Clock {
  offset = 0;
  now = () => new Date(Date.now() + this.offset);
  millis = () => Date.now() + this.offset;
}

/**
 * The issue's "done when", in Chromium: a customer admin rolls a key in the portal with a 24-hour
 * overlap, sees the new key once, both keys authenticate during the window, and the old one gets
 * 401 api_key_expired the second after it ends.
 */
describeWithBrowser('rolling a key in the portal', () => {
  jest.setTimeout(60_000);
  const clock = new SteppingClock();
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  let browser: Browser;
  let page: Page;
  const slug = `roll-${randomBytes(3).toString('hex')}`;
  let oldKey = '';
  let oldKeyId = '';

  const whoami = async (key: string) => {
    const response = await fetch(`${app.url}/v1/whoami`, { headers: { 'x-api-key': key } });
    return response.status === 200 ? 'ok' : ((await response.json()) as { code: string }).code;
  };

  beforeAll(async () => {
    services = testServices({}, { background: true, clock });
    app = await serveApp(services);
    await services.useCases.customers.create({ slug, name: 'Roll Bank', plan: 'starter' });
    const issued = await services.useCases.keys.issue(slug, { label: 'payments-prod', application: 'payments' }, op('setup'));
    trackSecret(issued.key);
    oldKey = issued.key;
    oldKeyId = issued.metadata.id;
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await services?.dispose();
  });

  it('rolls with a 24-hour overlap from the keys table, shows the new key once, and lists the old one as expiring', async () => {
    await page.goto(`${app.url}/portal`);
    await page.locator('#view-sign-in').waitFor();
    await page.selectOption('#sign-in-role', 'CustomerAdmin');
    await page.selectOption('#sign-in-customer', slug);
    await page.fill('#sign-in-name', 'Rae Admin');
    await page.click('#sign-in-form button[type=submit]');
    const row = page.locator(`#keys-table tr[data-key-id="${oldKeyId}"]`);
    await row.waitFor();
    expect(await page.textContent('#keys-summary')).toContain('1 of 2 active keys');
    expect(await whoami(oldKey)).toBe('ok');

    await row.getByRole('button', { name: 'Roll key payments-prod' }).click();
    await page.locator('#roll-dialog[open]').waitFor();
    expect(await page.evaluate('document.activeElement?.id')).toBe('roll-overlap');
    expect(await page.inputValue('#roll-overlap')).toBe('24');
    await page.screenshot({ path: join(SCREENSHOT_DIR, '21-roll-dialog.png'), fullPage: true });
    await page.click('#roll-ok');
    await page.locator('#show-once-dialog[open]').waitFor();
    const newKey = await page.inputValue('#show-once-list input');
    trackSecret(newKey);
    expect(newKey).toMatch(new RegExp(`^vp_cust_${slug}\\.`));
    await page.click('#show-once-dialog [data-close]');

    // The old key is listed as rolling out, expiring in 24 h; until then both keys count against the cap.
    await page.locator(`#keys-table tr[data-key-id="${oldKeyId}"] .badge.rolling`).waitFor();
    expect(await page.textContent(`#keys-table tr[data-key-id="${oldKeyId}"]`)).toMatch(/in 24 h/);
    expect(await page.locator(`#keys-table tr[data-key-id="${oldKeyId}"] button`, { hasText: 'Roll' }).count()).toBe(0);
    expect(await page.textContent('#keys-summary')).toContain('2 of 2 active keys');
    await page.screenshot({ path: join(SCREENSHOT_DIR, '22-rolled-key-expiring.png'), fullPage: true });

    // Both keys authenticate during the window; the old one stops the second it ends.
    expect(await whoami(oldKey)).toBe('ok');
    expect(await whoami(newKey)).toBe('ok');
    const old = (await services.useCases.keys.list(slug)).find((k) => k.id === oldKeyId)!;
    clock.offset = Date.parse(old.expiresAt!) - 1000 - Date.now();
    expect(await whoami(oldKey)).toBe('ok');
    clock.offset = Date.parse(old.expiresAt!) + 1000 - Date.now();
    expect(await whoami(oldKey)).toBe('api_key_expired');
    expect(await whoami(newKey)).toBe('ok');
  });
});
