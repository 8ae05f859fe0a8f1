import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ServiceContext } from '../../app/context';
import { SCREENSHOT_DIR, describeWithBrowser, launchBrowser } from '../support/browser';
import { serveApp } from '../support/http';
import { expectReadable, measureLayout } from '../support/layout';
import { op, portalToken } from '../support/portal';
import { testServices } from '../support/services';

const EMPTY =
  'No trust policies. A trust policy lets a workload (a CI job, a service in Azure or Kubernetes) send traces with no long-lived key: the identity token its platform gives it is traded for a short-lived ingest token when the token’s issuer, audience and subject match the policy. Add one with “New trust policy” above (see /docs).';
const SANDBOX_EMPTY = 'The shared sandbox has no trust policies. Sandbox mode is read-only: turn it off to manage your own.';
const AT_CAP = 'You have 2 of 2 trust policies, the most your plan allows: delete one to add another.';

/** A policy as the form is filled in, and as the API takes it. */
const GITHUB = {
  label: 'checkout deploy',
  issuer: 'https://token.actions.githubusercontent.com',
  subject: 'repo:acme/checkout:ref:refs/heads/*',
  audience: 'acme-ingest',
  claims: { repository_owner: 'acme', job_workflow_ref: 'acme/checkout/.github/workflows/deploy.yml@refs/heads/main' },
  application: 'checkout',
  environment: 'test',
  tokenLifetimeMinutes: 30,
};

/**
 * The Workload identities panel in headless Chromium against the local host: a customer admin
 * sees what a trust policy is while there are none, gets the API's own validation messages under
 * the fields they are about, creates policies up to the plan's cap (starter: 2), where the create
 * button is disabled with the reason beside it, deletes one after a confirmation; sandbox mode is
 * read-only as on the Keys tab, staff do not see the tab, and on a 375 px phone nothing scrolls
 * sideways. Screenshots land in test-results/portal/identities-*.png.
 */
describeWithBrowser('the Workload identities panel in a real browser', () => {
  jest.setTimeout(60_000);
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const slug = `wi-${randomBytes(3).toString('hex')}`;

  const shot = (name: string) => page.screenshot({ path: join(SCREENSHOT_DIR, `identities-${name}.png`), fullPage: true });
  const text = async (selector: string) => ((await page.textContent(selector)) ?? '').replace(/\s+/g, ' ').trim();
  const loaded = (view: string) => page.locator(`body[data-view="${view}"]:not([aria-busy])`).waitFor({ state: 'attached' });
  const open = async () => {
    await page.click('#tabs a[href="#identities"]');
    await loaded('identities');
  };
  const rows = () => page.locator('#trust-policies-table tbody tr:not(.empty)');
  const row = (label: string) => page.locator('#trust-policies-table tbody tr', { hasText: label });
  const focusedId = () => page.evaluate('document.activeElement?.id');
  /** The policies as the API lists them (a token of the customer's admin, outside the page). */
  const listed = async (customer = slug) => {
    const token = await portalToken(services, { customer, roles: ['CustomerAdmin'] });
    const response = await app.fetch('/v1/trust-policies', { headers: { authorization: `Bearer ${token}` } });
    return (await response.json()) as { trustPolicyCount: number; trustPolicies: Array<Record<string, unknown>> };
  };
  /** What the API answers to a policy sent as it is. */
  const apiErrors = async (body: Record<string, unknown>) => {
    const token = await portalToken(services, { customer: slug, roles: ['CustomerAdmin'] });
    const response = await app.fetch('/v1/trust-policies', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(400);
    return ((await response.json()) as { errors: Array<{ path: string; message: string }> }).errors;
  };
  /** Fills the form (claims as its `name=value` lines); fields left out stay as they are. */
  const fill = async (values: Partial<Record<keyof typeof GITHUB, string>>) => {
    for (const [name, value] of Object.entries(values)) {
      if (name === 'environment') await page.selectOption('#tp-environment', value);
      else await page.fill(`#tp-${name}`, value);
    }
  };
  const githubForm = {
    ...GITHUB,
    claims: Object.entries(GITHUB.claims)
      .map(([n, v]) => `${n}=${v}`)
      .join('\n'),
    tokenLifetimeMinutes: String(GITHUB.tokenLifetimeMinutes),
  };

  async function signIn(role: 'CustomerAdmin' | 'Staff', customer = slug) {
    if (page.url().startsWith(app.url)) await page.evaluate(() => sessionStorage.clear());
    await page.goto(`${app.url}/portal`);
    await page.locator('#view-sign-in').waitFor();
    await page.selectOption('#sign-in-role', role);
    if (role === 'CustomerAdmin') await page.selectOption('#sign-in-customer', customer);
    await page.fill('#sign-in-name', role === 'Staff' ? 'Sam Staff' : 'Ada Admin');
    await page.click('#sign-in-form button[type=submit]');
    await loaded(role === 'Staff' ? 'staff' : 'keys');
  }

  beforeAll(async () => {
    services = testServices();
    app = await serveApp(services);
    // The starter plan holds 2 trust policies.
    await services.useCases.customers.create({ slug, name: 'Identity Bank', plan: 'starter' });
    await services.useCases.customers.ensureSandbox();
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  });
  // A step that failed with a dialog open would leave it over the page for the next steps.
  afterEach(async () => {
    if (await page.locator('dialog[open]').count()) await page.keyboard.press('Escape');
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await services?.dispose();
  });

  it('beside Keys for a customer admin: the empty state says what a trust policy is and links the docs; the cap reads 0 of 2', async () => {
    await signIn('CustomerAdmin');
    const tabs = await page.$$eval('#tabs a:not([hidden])', (links) => links.map((a) => a.textContent));
    expect(tabs.slice(0, 2)).toEqual(['Keys', 'Workload identities']);
    await open();
    expect(await page.title()).toBe('Workload identities · Veriproof');
    expect(await text('#trust-policies-table tbody tr.empty td')).toBe(EMPTY);
    expect(await page.getAttribute('#trust-policies-table tbody tr.empty a', 'href')).toBe('/docs#/Trust%20policies');
    expect(await text('#identities-summary')).toBe(`0 of 2 trust policies · ${slug}`);
    expect(await page.isEnabled('#new-trust-policy')).toBe(true);
    expect(await page.isHidden('#trust-policy-cap')).toBe(true);
    await shot('01-empty');
  });

  it('shows the API’s own validation messages under their fields, keeps the dialog open and creates nothing', async () => {
    await page.focus('#new-trust-policy');
    await page.keyboard.press('Enter');
    await page.locator('#trust-policy-dialog[open]').waitFor();
    expect(await focusedId()).toBe('tp-label');

    // A malformed issuer and a subject of nothing but `*` (the test host runs in local mode, where
    // an http issuer on a loopback host is allowed: these are refused in every mode).
    const bad = { ...githubForm, issuer: 'token.actions.githubusercontent.com', subject: '*' };
    await fill(bad);
    await page.click('#trust-policy-form button[type=submit]');
    await page.locator('#tp-issuer-error:not([hidden])').waitFor();
    const errors = await apiErrors({ ...GITHUB, issuer: bad.issuer, subject: bad.subject });
    expect(errors.map((e) => e.path).sort()).toEqual(['issuer', 'subject']);
    for (const { path, message } of errors) {
      expect(await text(`#tp-${path}-error`)).toBe(`${path === 'issuer' ? 'Issuer' : 'Subject'} ${message}`);
      expect(await page.getAttribute(`#tp-${path}`, 'aria-invalid')).toBe('true');
      // Read with the field: the error is part of its description.
      expect(await page.getAttribute(`#tp-${path}`, 'aria-describedby')).toContain(`tp-${path}-error`);
    }
    expect(await text('#tp-subject-error')).toContain('must hold more than `*`');
    // The other fields are fine and say nothing; focus is on the first field in error.
    expect(await page.isHidden('#tp-label-error')).toBe(true);
    expect(await page.getAttribute('#tp-label', 'aria-invalid')).toBeNull();
    expect(await focusedId()).toBe('tp-issuer');
    await shot('02-validation');

    // A claim the policy states elsewhere: the API's message for that claim, by name.
    await fill({ issuer: GITHUB.issuer, subject: GITHUB.subject, claims: 'sub=repo:acme/checkout' });
    await page.click('#trust-policy-form button[type=submit]');
    await page.locator('#tp-claims-error:not([hidden])').waitFor();
    const [claimError] = await apiErrors({ ...GITHUB, claims: { sub: 'repo:acme/checkout' } });
    expect(claimError!.path).toBe('claims.sub');
    expect(await text('#tp-claims-error')).toMatch(/^Claim “sub”/);
    expect(await text('#tp-claims-error')).toContain(claimError!.message);
    expect(await page.isHidden('#tp-issuer-error')).toBe(true);
    // A line that is not name=value is caught before anything is sent.
    await fill({ claims: 'repository_owner=acme\nacme' });
    await page.click('#trust-policy-form button[type=submit]');
    expect(await text('#tp-claims-error')).toBe('Line 2: write each claim as name=value, one a line.');
    expect(await page.isVisible('#trust-policy-dialog')).toBe(true);

    // Escape closes it and focus returns to the button that opened it; nothing was created.
    await page.keyboard.press('Escape');
    await page.locator('#trust-policy-dialog[open]').waitFor({ state: 'detached' });
    expect(await focusedId()).toBe('new-trust-policy');
    expect((await listed()).trustPolicies).toEqual([]);
  });

  it('creates a policy, listed with its fields, and the count moves', async () => {
    await page.click('#new-trust-policy');
    await page.locator('#trust-policy-dialog[open]').waitFor();
    // The form opens empty again: the errors of the last attempt are gone.
    expect(await page.inputValue('#tp-issuer')).toBe('');
    expect(await page.isHidden('#tp-issuer-error')).toBe(true);
    await fill(githubForm);
    await page.click('#trust-policy-form button[type=submit]');
    await page.locator('#trust-policy-dialog[open]').waitFor({ state: 'detached' });
    await row(GITHUB.label).waitFor();
    expect(await text('#toast')).toBe(`Created the trust policy “${GITHUB.label}”.`);
    expect(await text('#identities-summary')).toBe(`1 of 2 trust policies · ${slug}`);

    const cells = await row(GITHUB.label).locator('td').allTextContents();
    expect(cells.slice(0, 9)).toEqual([
      GITHUB.label,
      GITHUB.issuer,
      GITHUB.subject,
      GITHUB.audience,
      // Claims in the API's order (by name).
      `job_workflow_ref=${GITHUB.claims.job_workflow_ref}repository_owner=acme`,
      'checkout · Test',
      '30 min',
      'Never',
      expect.stringMatching(/by Ada Admin$/) as unknown as string,
    ]);
    // Focus lands on the new row's action, not back at the top of the page.
    expect(await page.evaluate("document.activeElement?.getAttribute('aria-label')")).toBe(`Delete trust policy ${GITHUB.label}`);
    const [policy] = (await listed()).trustPolicies;
    expect(policy).toMatchObject({ ...GITHUB, lastUsedAt: null, createdBy: expect.objectContaining({ name: 'Ada Admin' }) });
    expect(await page.getAttribute(`#trust-policies-table tr[data-policy-id="${String(policy!.id)}"]`, 'data-policy-id')).toMatch(/^tp_/);
    await shot('03-one-policy');
  });

  it('refuses a label already taken (in any case) under the label field', async () => {
    await page.click('#new-trust-policy');
    await page.locator('#trust-policy-dialog[open]').waitFor();
    await fill({ ...githubForm, label: GITHUB.label.toUpperCase() });
    await page.click('#trust-policy-form button[type=submit]');
    await page.locator('#tp-label-error:not([hidden])').waitFor();
    expect(await text('#tp-label-error')).toBe('Another trust policy of this customer already has that label. Choose another label.');
    expect(await focusedId()).toBe('tp-label');
    await page.click('#trust-policy-dialog [data-close]');
    expect((await listed()).trustPolicyCount).toBe(1);
  });

  it('at the plan’s cap (starter: 2) the create button is disabled, with the reason beside it', async () => {
    await page.click('#new-trust-policy');
    await page.locator('#trust-policy-dialog[open]').waitFor();
    // Only what is required: no claims, the lifetime left to its default.
    await fill({
      label: 'nightly export',
      issuer: 'https://login.microsoftonline.com/contoso/v2.0',
      subject: '1a2b3c',
      audience: 'api://acme',
    });
    await fill({ application: 'exporter' });
    await page.click('#trust-policy-form button[type=submit]');
    await row('nightly export').waitFor();
    expect(await row('nightly export').locator('td').allTextContents()).toEqual(
      expect.arrayContaining(['None', 'exporter · Live', '15 min', 'Never']),
    );

    expect(await text('#identities-summary')).toBe(`2 of 2 trust policies · ${slug}`);
    expect(await page.isDisabled('#new-trust-policy')).toBe(true);
    expect(await page.isVisible('#trust-policy-cap')).toBe(true);
    expect(await text('#trust-policy-cap')).toBe(AT_CAP);
    expect(await page.getAttribute('#new-trust-policy', 'title')).toBe(AT_CAP);
    expect(await page.getAttribute('#new-trust-policy', 'aria-describedby')).toBe('trust-policy-cap');
    // The focus moved to the new row's action: a disabled button cannot hold it.
    expect(await page.evaluate("document.activeElement?.getAttribute('aria-label')")).toBe('Delete trust policy nightly export');
    // Another view's load (Keys sets its own write state) leaves it disabled.
    await page.click('#tabs a[href="#keys"]');
    await loaded('keys');
    await open();
    expect(await page.isDisabled('#new-trust-policy')).toBe(true);
    await shot('04-at-cap');
  });

  it('the Usage tab lists the policies as workload identities, beside the keys', async () => {
    const policies = (await listed()).trustPolicies as Array<{ id: string; label: string }>;
    expect(policies).toHaveLength(2);
    await page.click('#tabs a[href="#usage"]');
    await loaded('usage');
    for (const policy of policies) {
      const usageRow = page.locator(`#usage-table tbody tr[data-key-id="${policy.id}"]`);
      expect(await usageRow.locator('.badge.federated').textContent()).toBe('Workload identity');
      expect(await usageRow.locator('td').first().textContent()).toContain(policy.label);
      expect(await page.textContent(`#usage-key option[value="${policy.id}"]`)).toBe(`${policy.label} (workload identity)`);
    }
    await open();
  });

  it('deletes after a confirmation that names the policy (Escape cancels); under the cap again, creation is enabled', async () => {
    const remove = row(GITHUB.label).getByRole('button', { name: `Delete trust policy ${GITHUB.label}` });
    await remove.click();
    await page.locator('#confirm-dialog[open]').waitFor();
    expect(await text('#confirm-title')).toBe(`Delete “${GITHUB.label}”?`);
    expect(await text('#confirm-body')).toContain(GITHUB.issuer);
    await page.keyboard.press('Escape');
    await page.locator('#confirm-dialog[open]').waitFor({ state: 'detached' });
    expect((await listed()).trustPolicyCount).toBe(2);
    expect(await rows().count()).toBe(2);

    await remove.click();
    await page.locator('#confirm-dialog[open]').waitFor();
    expect(await text('#confirm-ok')).toBe('Delete trust policy');
    await page.click('#confirm-ok');
    await row(GITHUB.label).waitFor({ state: 'detached' });
    expect(await text('#toast')).toBe(`Deleted the trust policy “${GITHUB.label}”.`);
    expect(await text('#identities-summary')).toBe(`1 of 2 trust policies · ${slug}`);
    expect(await page.isEnabled('#new-trust-policy')).toBe(true);
    expect(await page.isHidden('#trust-policy-cap')).toBe(true);
    expect(await page.getAttribute('#new-trust-policy', 'title')).toBeNull();
    expect(await focusedId()).toBe('new-trust-policy');
    expect((await listed()).trustPolicies.map((p) => p.label)).toEqual(['nightly export']);
  });

  it('sandbox mode shows the shared sandbox read-only, as on the Keys tab', async () => {
    await page.check('#sandbox-toggle');
    await page.locator('#identities-summary', { hasText: 'shared sandbox (read-only)' }).waitFor();
    await loaded('identities');
    expect(await text('#identities-summary')).toMatch(/^0 of \d+ trust policies · shared sandbox \(read-only\)$/);
    expect(await text('#trust-policies-table tbody tr.empty td')).toBe(SANDBOX_EMPTY);
    expect(await page.isDisabled('#new-trust-policy')).toBe(true);
    expect(await page.getAttribute('#new-trust-policy', 'title')).toMatch(/^Read-only in sandbox mode/);
    await page.uncheck('#sandbox-toggle');
    await row('nightly export').waitFor();
    await loaded('identities');
    expect(await page.isEnabled('#new-trust-policy')).toBe(true);
    expect(await page.isEnabled(`#trust-policies-table button`)).toBe(true);
  });

  it('staff do not see the tab, and its address does not show it to them', async () => {
    await signIn('Staff');
    expect(await page.isHidden('#tabs a[href="#identities"]')).toBe(true);
    await page.evaluate("location.hash = '#identities'");
    await loaded('staff');
    expect(await page.isHidden('#view-identities')).toBe(true);
  });

  describe('on a phone, 375 px wide', () => {
    const fresh = `wm-${randomBytes(3).toString('hex')}`;
    beforeAll(async () => {
      await context.close();
      context = await browser.newContext({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
      page = await context.newPage();
      page.setDefaultTimeout(10_000);
      page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
      await services.useCases.customers.create({ slug: fresh, name: 'Phone Bank', plan: 'starter' });
    });
    const readable = async (where: string) => expectReadable(await measureLayout(page), where);

    it('the empty state, the form with errors, and a list at the cap: nothing scrolls sideways', async () => {
      await signIn('CustomerAdmin', fresh);
      await open();
      await readable('identities, empty');
      expect(await text('#trust-policies-table tbody tr.empty td')).toBe(EMPTY);
      await shot('mobile-01-empty');

      await page.click('#new-trust-policy');
      await page.locator('#trust-policy-dialog[open]').waitFor();
      await page.click('#trust-policy-form button[type=submit]');
      await page.locator('#tp-label-error:not([hidden])').waitFor();
      expect(await text('#tp-label-error')).toBe('Label must not be empty');
      // Two messages for one field: a line each.
      const lines = await page.$eval('#tp-subject-error', (p) => (p as unknown as { innerText: string }).innerText.split('\n'));
      expect(lines).toEqual(['Subject must not be empty', expect.stringMatching(/^Subject must hold more than `\*`/)]);
      await readable('identities, the form with errors');
      // The dialog scrolls up and down, never sideways (the page's check skips what is inside a scroller).
      expect(await page.$eval('#trust-policy-dialog', (d) => d.scrollWidth - d.clientWidth)).toBe(0);
      await shot('mobile-02-form');
      await page.keyboard.press('Escape');

      // Long values: every field at its longest kind (a long issuer path, a long subject, claims).
      await services.useCases.trustPolicies.create(
        fresh,
        {
          ...GITHUB,
          environment: 'live',
          issuer: `https://login.microsoftonline.com/${'0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'}/v2.0`,
          subject: 'repo:acme-corporation/checkout-service-with-a-long-name:environment:production-eu-west',
        },
        op('setup'),
      );
      await services.useCases.trustPolicies.create(fresh, { ...GITHUB, label: 'second', environment: 'live', claims: {} }, op('setup'));
      await page.click('[data-refresh="identities"]');
      await rows().nth(1).waitFor();
      await loaded('identities');
      await readable('identities, two policies at the cap');
      expect(await page.isDisabled('#new-trust-policy')).toBe(true);
      // Each row is a card of values labelled with their column's header.
      const labels = await page.$$eval('#trust-policies-table tbody tr td', (cells) =>
        cells.map((cell) => ({
          label: (cell as unknown as { dataset: { label?: string } }).dataset.label,
          shown: (globalThis as unknown as { getComputedStyle: (e: unknown, p: string) => { content: string } }).getComputedStyle(
            cell,
            '::before',
          ).content,
        })),
      );
      const labelled = labels.filter((l) => l.label);
      expect(labelled.map((l) => l.shown)).toEqual(labelled.map((l) => `"${l.label}"`));
      expect(labelled.map((l) => l.label)).toEqual(expect.arrayContaining(['Label', 'Issuer', 'Subject', 'Last used']));
      await shot('mobile-03-at-cap');
    });

    it('the audit log lists the policies’ creation, their ids and addresses readable on the phone', async () => {
      await page.click('#tabs a[href="#activity"]');
      await loaded('activity');
      const created = page.locator('#audit-table tbody tr', { hasText: 'trust_policy.created' });
      await created.first().waitFor();
      expect(await created.count()).toBe(2);
      expect(await created.first().locator('code', { hasText: /^tp_/ }).count()).toBe(1);
      await readable('requests and audit, with trust policy events');
      await shot('mobile-04-audit');
      for (const width of [320, 768, 1280]) {
        await page.setViewportSize({ width, height: 800 });
        await readable(`requests and audit, with trust policy events, at ${width} px`);
      }
      await page.setViewportSize({ width: 375, height: 812 });
      await open();
    });

    it('at every width from 320 to 1440 px the panel neither scrolls sideways nor squeezes its text', async () => {
      await open();
      const widths = [...Array.from({ length: 29 }, (_, i) => 320 + i * 40), 641, 896, 897, 1248, 1249].sort((a, b) => a - b);
      for (const width of widths) {
        await page.setViewportSize({ width, height: 800 });
        await readable(`identities at ${width} px`);
      }
    });
  });
});
