import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { ServiceContext } from '../../app/context';
import { SCREENSHOT_DIR, describeWithBrowser, launchBrowser } from '../support/browser';
import { serveApp } from '../support/http';
import { oneSpanExport } from '../support/otel';
import { op, portalToken } from '../support/portal';
import { COMPOUND_KEY_PATTERN, trackSecret } from '../support/secrets';
import { testServices } from '../support/services';

/**
 * The Customer Keys panel in headless Chromium against the local host: a customer admin signs
 * in, issues a key and sees it once, uses it, watches last-used and usage move, revokes it and
 * sees the 401; sandbox mode refuses writes; staff execute a pending rotation. Screenshots of
 * the main screens land in test-results/portal/.
 */
describeWithBrowser('the portal page in a real browser', () => {
  jest.setTimeout(60_000);
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  let browser: Browser;
  let page: Page;
  const slug = `e2e-${randomBytes(3).toString('hex')}`;
  const label = 'checkout-service prod';
  let issuedKey = '';
  let issuedKeyId = '';

  const shot = (name: string) => page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  const row = (keyId: string) => page.locator(`#keys-table tr[data-key-id="${keyId}"]`);
  const ingest = (key: string, sessionId: string) =>
    fetch(`${app.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: oneSpanExport(sessionId),
    });

  beforeAll(async () => {
    // The first key is issued 31 days back, so it shows as stale; then the clock is the real one.
    let offsetMs = -31 * 24 * 3_600_000;
    services = testServices(
      { USAGE_FLUSH_INTERVAL_MS: '500', PLANS: '{"starter":{"keyLimit":4,"requestsPerSecond":1,"burst":3}}' },
      { background: true, clock: { now: () => new Date(Date.now() + offsetMs), millis: () => Date.now() + offsetMs } },
    );
    app = await serveApp(services);
    await services.useCases.customers.create({ slug, name: 'E2E Bank', plan: 'starter' });
    const first = await services.useCases.keys.issue(slug, { label: 'loan-review', application: 'loans' }, op('setup'));
    trackSecret(first.key);
    offsetMs = 0;
    await services.useCases.customers.ensureSandbox();
    const sandboxKey = await services.useCases.keys.issue(
      'sandbox',
      { label: `shared-demo-${slug}`, application: 'demo', environment: 'test' },
      op('setup'),
    );
    trackSecret(sandboxKey.key);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') console.error(`browser console: ${message.text()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await services?.dispose();
  });

  it('signs a customer admin in through the local-only sign-in form', async () => {
    await page.goto(`${app.url}/portal`);
    await page.locator('#view-sign-in').waitFor();
    await page.selectOption('#sign-in-role', 'CustomerAdmin');
    await page.selectOption('#sign-in-customer', slug);
    await page.fill('#sign-in-name', 'Erin Admin');
    await shot('01-sign-in');
    await page.click('#sign-in-form button[type=submit]');
    await page.locator('#keys-table tbody tr').first().waitFor();
    expect(await page.textContent('#keys-summary')).toContain(`1 of 4 active keys · ${slug}`);
    expect(await page.getAttribute('#tabs a[href="#keys"]', 'aria-current')).toBe('page');
    expect(await page.isHidden('#tabs a[href="#staff"]')).toBe(true);
  });

  it('asks for a label, refuses a duplicate, then shows the new key once with a copy button', async () => {
    await page.click('#new-key');
    expect(await page.evaluate('document.activeElement?.id')).toBe('new-key-label');
    await page.click('#new-key-form button[type=submit]');
    expect(await page.getAttribute('#new-key-label', 'aria-invalid')).toBe('true');
    expect(await page.textContent('#new-key-label-error')).toMatch(/label is required/);
    await page.fill('#new-key-label', 'Loan-Review');
    await page.fill('#new-key-application', 'checkout');
    await page.click('#new-key-form button[type=submit]');
    expect(await page.textContent('#new-key-label-error')).toMatch(/already have a key labelled/);
    expect(await page.isVisible('#new-key-dialog')).toBe(true);

    await page.fill('#new-key-label', label);
    await page.click('#new-key-form button[type=submit]');
    await page.locator('#show-once-dialog[open]').waitFor();
    issuedKey = await page.inputValue('#show-once-list input');
    trackSecret(issuedKey);
    expect(issuedKey).toMatch(new RegExp(`^vp_cust_${slug}\\.[A-Za-z0-9]{32}\\.[A-Za-z0-9_-]{43}$`));
    expect(await page.textContent('#show-once-dialog')).toMatch(/only time the full key is shown/);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url });
    await page.click('#show-once-list button');
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(issuedKey);
    await shot('02-show-once');
    await page.click('#show-once-dialog [data-close]');
    await page.locator('#show-once-dialog[open]').waitFor({ state: 'detached' });
    await page.locator('#show-once-list li').first().waitFor({ state: 'detached' });
    // Gone from the page once the dialog closes: only the masked form remains.
    expect(await page.evaluate("[...document.querySelectorAll('input')].some((i) => i.value.startsWith('vp_cust_'))")).toBe(false);
    expect(await page.content()).not.toContain(issuedKey);
    issuedKeyId = (await page.locator('#keys-table tr', { hasText: label }).getAttribute('data-key-id'))!;
    expect(issuedKeyId).toMatch(/^key_/);
  });

  it('after a reload lists the key masked, and keeps no key in browser storage', async () => {
    await page.reload();
    await row(issuedKeyId).waitFor();
    const masked = (await row(issuedKeyId).locator('td').first().textContent())!;
    expect(masked).toMatch(new RegExp(`^vp_cust_${slug}\\.…`));
    expect(issuedKey.startsWith(masked.replace(/….*$/, ''))).toBe(true);
    expect(await page.content()).not.toContain(issuedKey.split('.')[2]);
    const stored = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } }));
    expect(stored).not.toMatch(COMPOUND_KEY_PATTERN);
    expect(stored).not.toContain(issuedKey.split('.')[2]);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(await row(issuedKeyId).locator('td').nth(7).textContent()).toBe('Never');
    // Unused for 30 days or more: the stale badge; a key issued today has none.
    expect(await page.locator('#keys-table tbody tr', { hasText: 'loan-review' }).locator('td').nth(1).textContent()).toBe(
      'loan-reviewstale',
    );
    expect(await row(issuedKeyId).locator('td').nth(1).textContent()).toBe(label);
    await shot('03-keys');

    // Every control the page has, shown or not, has an accessible name.
    const unlabelled = await page.evaluate(`[...document.querySelectorAll('input, select, textarea, button')]
      .filter((c) => !(c.labels?.length || c.getAttribute('aria-label') || c.getAttribute('aria-labelledby') || (c.tagName === 'BUTTON' && c.textContent.trim())))
      .map((c) => c.outerHTML.slice(0, 80))`);
    expect(unlabelled).toEqual([]);
  });

  it('the key ingests; last used, usage (accepted and rate-limited) and decisions move', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await ingest(issuedKey, `loan-${i}`)).status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
    expect(statuses).toContain(429);

    await page.click('#tabs a[href="#usage"]');
    await page.selectOption('#usage-key', issuedKeyId);
    const usageRow = page.locator(`#usage-table tr[data-key-id="${issuedKeyId}"]`);
    const idle = page.locator('body[data-view="usage"]:not([aria-busy])');
    await idle.waitFor({ state: 'attached' }); // the view's first load has finished
    // The counts and the last-used hour are written by a flush: one that starts after the requests
    // were counted (a flush under way is shared, and may have started before the last of them).
    await services.usageRecorder.flush();
    await services.usageRecorder.flush();
    // The refresh marks the page busy as it is clicked, and drawn when it is no longer.
    await page.click('[data-refresh="usage"]');
    await idle.waitFor({ state: 'attached' });
    const [lastUsed, accepted, limited] = await Promise.all([3, 4, 5].map((n) => usageRow.locator('td').nth(n).textContent()));
    expect({ accepted: Number(accepted) > 0, limited: Number(limited) > 0, lastUsed }).toEqual({
      accepted: true,
      limited: true,
      lastUsed: 'Within the hour',
    });
    // The chart loads on its own: wait for the one that counts this traffic.
    await page.locator('#usage-chart-caption', { hasText: new RegExp(`“${label}”.*[1-9]\\d* accepted, [1-9]\\d* rate-limited`) }).waitFor();
    const bars = await page.$$eval('#usage-chart svg rect', (rects) => rects.filter((r) => Number(r.getAttribute('height')) > 0).length);
    expect(bars).toBeGreaterThanOrEqual(2);
    await shot('04-usage');

    await page.click('#tabs a[href="#keys"]');
    // The table re-renders when the list arrives: wait for the new cell rather than read the old one.
    await row(issuedKeyId).locator('td:nth-child(8)', { hasText: 'Within the hour' }).waitFor();

    await page.click('#tabs a[href="#decisions"]');
    await page.selectOption('#decisions-label', label);
    await page.locator('#decisions-table tbody tr', { hasText: 'loan-0' }).waitFor();
    const labels = await page.$$eval('#decisions-table tbody tr td:nth-child(2)', (cells) => [...new Set(cells.map((c) => c.textContent))]);
    expect(labels).toEqual([label]);
    await shot('05-decisions');
  });

  it('revokes with a confirmation that names the key; the key then gets 401', async () => {
    await page.click('#tabs a[href="#keys"]');
    await row(issuedKeyId)
      .getByRole('button', { name: `Revoke key ${label}` })
      .click();
    await page.locator('#confirm-dialog[open]').waitFor();
    expect(await page.textContent('#confirm-title')).toBe(`Revoke “${label}”?`);
    expect(await page.textContent('#confirm-body')).not.toMatch(/last active key/);
    await page.click('#confirm-ok');
    await page.locator('#revoked-table tr', { hasText: label }).waitFor({ state: 'attached' });
    expect(await row(issuedKeyId).count()).toBe(0);
    const response = await fetch(`${app.url}/v1/whoami`, { headers: { 'x-api-key': issuedKey } });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { code: string }).code).toBe('api_key_invalid');

    await page.click('#tabs a[href="#activity"]');
    await page.locator('#audit-table tbody tr', { hasText: 'key.revoked' }).first().waitFor();
    await shot('06-requests-audit');
  });

  it('warns that revoking the last active key locks out every integration; Escape cancels and focus returns', async () => {
    await page.click('#tabs a[href="#keys"]');
    // The table still holds the rows of its last visit until the view has loaded: wait, or the
    // button focused below is replaced under the dialog.
    await page.locator('body[data-view="keys"]:not([aria-busy])').waitFor({ state: 'attached' });
    const lastRow = page.locator('#keys-table tbody tr').first();
    await lastRow.waitFor();
    expect(await page.locator('#keys-table tbody tr').count()).toBe(1);
    const revoke = lastRow.getByRole('button', { name: 'Revoke key loan-review' });
    await revoke.focus();
    await page.keyboard.press('Enter');
    await page.locator('#confirm-dialog[open]').waitFor();
    expect(await page.textContent('#confirm-body')).toMatch(/last active key.*locks out every integration/);
    expect(await page.textContent('#confirm-ok')).toBe('Revoke and lock out every integration');
    // Focus stays in the dialog whichever way Tab goes.
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press(i % 2 ? 'Shift+Tab' : 'Tab');
      expect(await page.evaluate("Boolean(document.activeElement?.closest('#confirm-dialog'))")).toBe(true);
    }
    await page.keyboard.press('Escape');
    await page.locator('#confirm-dialog[open]').waitFor({ state: 'detached' });
    expect(await page.evaluate("document.activeElement?.getAttribute('aria-label')")).toBe('Revoke key loan-review');
    expect(await page.locator('#keys-table tbody tr').count()).toBe(1);
  });

  it('resets all keys behind its own confirmation and shows every new value once', async () => {
    await page.click('#reset-keys');
    await page.locator('#confirm-dialog[open]').waitFor();
    expect(await page.textContent('#confirm-title')).toBe('Reset all keys?');
    await page.click('#confirm-ok');
    await page.locator('#show-once-dialog[open]').waitFor();
    const values = await page.$$eval('#show-once-list input', (inputs) => inputs.map((i) => (i as unknown as { value: string }).value));
    values.forEach(trackSecret);
    expect(values).toHaveLength(1);
    expect((await fetch(`${app.url}/v1/whoami`, { headers: { 'x-api-key': values[0]! } })).status).toBe(200);
    await page.click('#show-once-dialog [data-close]');
    await page.locator('#show-once-list li').first().waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(values[0]!);
  });

  it('sandbox mode shows the shared sandbox read-only: every write control disabled, and the API refuses a write', async () => {
    await page.check('#sandbox-toggle');
    await page.locator('#keys-table tbody tr', { hasText: `shared-demo-${slug}` }).waitFor();
    expect(await page.isVisible('#sandbox-banner')).toBe(true);
    expect(await page.textContent('#keys-summary')).toMatch(/shared sandbox \(read-only\)/);
    const writes = await page.$$eval('button.write', (buttons) => buttons.map((b) => (b as unknown as { disabled: boolean }).disabled));
    expect(writes.length).toBeGreaterThanOrEqual(3);
    expect(writes.every(Boolean)).toBe(true);
    await shot('07-sandbox');
    const refused = await page.evaluate(async () => {
      const token = sessionStorage.getItem('veriproof.portal.token');
      const response = await fetch('/v1/customer-keys/issue', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'x-veriproof-sandbox': 'true', 'content-type': 'application/json' },
        body: JSON.stringify({ label: 'sneaky', application: 'x' }),
      });
      return { status: response.status, code: ((await response.json()) as { code: string }).code };
    });
    expect(refused).toEqual({ status: 403, code: 'sandbox_read_only' });
    await page.uncheck('#sandbox-toggle');
    await page.locator('#keys-table tbody tr', { hasText: 'loan-review' }).waitFor();
    expect(await page.isEnabled('#new-key')).toBe(true);
  });

  it('staff see pending requests, execute a rotation, and see the tenant key in grace', async () => {
    const submitted = await page.evaluate(async () => {
      const token = sessionStorage.getItem('veriproof.portal.token');
      const response = await fetch('/v1/customer-keys/requests/rotate-tenant-key', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{}',
      });
      return response.status;
    });
    expect(submitted).toBe(202);
    await page.click('#sign-out');
    await page.locator('#view-sign-in').waitFor();
    await page.selectOption('#sign-in-role', 'Staff');
    expect(await page.isHidden('#sign-in-customer-field')).toBe(true);
    await page.click('#sign-in-form button[type=submit]');
    const pending = page.locator('#staff-requests-table tbody tr', { hasText: slug });
    await pending.waitFor();
    expect(await page.isHidden('#tabs a[href="#keys"]')).toBe(true);
    expect(await page.isHidden('#sandbox-switch')).toBe(true);
    await page.selectOption('#staff-customer', slug);
    await page.locator('#tenant-key dt', { hasText: 'Current version' }).waitFor();
    await shot('08-staff');
    await pending.locator('button', { hasText: 'Execute' }).click();
    await page.locator('#confirm-dialog[open]').waitFor();
    await page.fill('#confirm-input', '24');
    await page.click('#confirm-ok');
    await pending.waitFor({ state: 'detached' });
    await page.locator('#tenant-key dd', { hasText: 'Yes: both components are accepted' }).waitFor();
    const state = await services.useCases.masterComponents.status(slug);
    expect(state.inGrace).toBe(true);
    expect(new Date(state.customer.graceEndsAt!).getTime() - Date.now()).toBeGreaterThan(23 * 3_600_000);
  });

  it('takes a token handed over in the address fragment only for the sign-in this tab started, and drops it from the address', async () => {
    await page.click('#sign-out');
    await page.locator('#view-sign-in').waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    const token = await portalToken(services, { customer: slug, roles: ['CustomerAdmin'], name: 'Handed Over' });

    // A link someone else made (no state, or a state this tab never issued): refused, said so, not stored.
    for (const fragment of [`access_token=${encodeURIComponent(token)}`, `access_token=${encodeURIComponent(token)}&state=forged`]) {
      await page.goto(`${app.url}/portal#${fragment}`);
      await page.locator('#sign-in-notice', { hasText: 'not started from this page' }).waitFor();
      expect(await page.evaluate('sessionStorage.getItem("veriproof.portal.token")')).toBeNull();
      expect(page.url()).toBe(`${app.url}/portal`);
    }
    // A mangled fragment: the sign-in with a message, never a page stuck on "loading".
    await page.evaluate('sessionStorage.setItem("veriproof.portal.sign-in-state", "s0")');
    await page.goto(`${app.url}/portal#access_token=%E0%A4%A&state=s0`);
    await page.locator('#sign-in-notice', { hasText: 'usable session token' }).waitFor();
    expect(await page.isHidden('#loading')).toBe(true);

    // The answer to this tab's own sign-in (its one-time state): taken, and the state used up.
    await page.evaluate('sessionStorage.setItem("veriproof.portal.sign-in-state", "s1")');
    await page.goto(`${app.url}/portal#access_token=${encodeURIComponent(token)}&state=s1`);
    await page.locator('#keys-table tbody tr').first().waitFor();
    expect(await page.textContent('#account-name')).toContain('Handed Over');
    expect(page.url()).toBe(`${app.url}/portal`);
    expect(await page.evaluate('sessionStorage.getItem("veriproof.portal.token")')).toBe(token);
    expect(await page.evaluate('sessionStorage.getItem("veriproof.portal.sign-in-state")')).toBeNull();
    expect(await page.evaluate('localStorage.length')).toBe(0);

    // Another user's sign-in arriving in this open tab is asked about first.
    const other = await portalToken(services, { roles: ['Staff'], name: 'Someone Else', sub: 'staff-9' });
    await page.evaluate('sessionStorage.setItem("veriproof.portal.sign-in-state", "s2")');
    await page.evaluate(`location.hash = ${JSON.stringify(`access_token=${encodeURIComponent(other)}&state=s2`)}`);
    await page.locator('#confirm-dialog[open]', { hasText: 'Someone Else' }).waitFor();
    await shot('09-switch-user');
    await page.keyboard.press('Escape');
    expect(await page.textContent('#account-name')).toContain('Handed Over');
    expect(await page.evaluate('sessionStorage.getItem("veriproof.portal.token")')).toBe(token);

    // A token the API no longer accepts sends the user back to sign-in rather than leaving a broken page.
    // Expired two minutes ago: past the 30 s the verifier allows for clocks that differ.
    const expired = await portalToken(services, { customer: slug, roles: ['CustomerAdmin'] }, -120);
    await page.evaluate(`sessionStorage.setItem("veriproof.portal.token", ${JSON.stringify(expired)})`);
    await page.click('[data-refresh="keys"]');
    await page.locator('#view-sign-in').waitFor();
    expect(await page.evaluate('sessionStorage.getItem("veriproof.portal.token")')).toBeNull();
  });
});
