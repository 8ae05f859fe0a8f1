import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ServiceContext } from '../../app/context';
import { verifyWebhook } from '../../sdks/typescript/src/index';
import { TableWebhookEndpointRepository } from '../../shared/adapters/table/table-webhook-endpoint-repository';
import { SCREENSHOT_DIR, describeWithBrowser, launchBrowser } from '../support/browser';
import { serveApp } from '../support/http';
import { expectReadable, measureLayout } from '../support/layout';
import { op, portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { testServices } from '../support/services';

const EMPTY =
  'No webhook endpoints. An endpoint is an https URL of yours that key events are POSTed to as they happen (a key revoked, found in public, about to expire), signed so that your receiver can check they come from us. Add one with “Add endpoint” above (see /docs).';
const SANDBOX_EMPTY = 'The shared sandbox has no webhook endpoints. Sandbox mode is read-only: turn it off to manage your own.';
const AT_CAP = 'You have 2 of 2 webhook endpoints, the most your plan allows (disabled ones count): delete one to add another.';
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;
const DAY_MS = 86_400_000;

/** An endpoint as the form is filled in, and as the API takes it. */
const SECURITY = {
  url: 'https://hooks.acme.example/veriproof?token=abc123',
  events: ['key.revoked', 'key.exposed'],
  description: 'Security team',
};

interface Listed {
  webhookEndpointCount: number;
  webhookEndpoints: Array<Record<string, unknown> & { id: string; status: string }>;
}

/**
 * The Webhooks panel in headless Chromium against the local host: a customer admin sees what an
 * endpoint is while there are none, gets the API's own validation messages under the fields they
 * are about, adds endpoints (for chosen events, or all) and sees each signing secret once with a
 * copy button (the very secret the service signs with), hits the plan's cap (starter: 2) where
 * adding is disabled with the reason (and, when the cap is reached meanwhile, the API's message),
 * disables and enables an endpoint, reads why one is disabled and since when one fails, rotates a
 * secret (the new one shown once, the old one signing 24 h more), deletes after a confirmation;
 * sandbox mode is read-only, staff do not see the tab. Against a loopback receiver, with the test
 * as the queue's worker: a test event listed pending, then delivered (the receiver verifies it
 * with the secret the page showed); a failed delivery's attempt (503, duration, next attempt) and a
 * retry under the same `webhook-id`; a refused connection saying why; a disabled endpoint that
 * cannot be sent to. On a 375 px phone nothing scrolls sideways. Screenshots land in
 * test-results/portal/webhooks-*.png.
 */
describeWithBrowser('the Webhooks panel in a real browser', () => {
  jest.setTimeout(60_000);
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let server: Server;
  const slug = `wh-${randomBytes(3).toString('hex')}`;
  /** The customer whose endpoint is the loopback receiver. */
  const hooked = `whd-${randomBytes(3).toString('hex')}`;
  /** A receiver on 127.0.0.1 (local mode sends http to loopback): what it was sent, and what it answers. */
  const receiver = { url: '', status: 200, requests: [] as Array<{ headers: IncomingHttpHeaders; body: string }> };

  const shot = (name: string) => page.screenshot({ path: join(SCREENSHOT_DIR, `webhooks-${name}.png`), fullPage: true });
  const text = async (selector: string) => ((await page.textContent(selector)) ?? '').replace(/\s+/g, ' ').trim();
  const loaded = (view: string) => page.locator(`body[data-view="${view}"]:not([aria-busy])`).waitFor({ state: 'attached' });
  const open = async () => {
    await page.click('#tabs a[href="#webhooks"]');
    await loaded('webhooks');
  };
  const rows = () => page.locator('#webhooks-table tbody tr:not(.empty)');
  const row = (name: string) => page.locator('#webhooks-table tbody tr', { hasText: name });
  /** A row's cells as they read (a line break between a cell's blocks reads as a space). */
  const cells = async (name: string) => (await row(name).locator('td').allInnerTexts()).map((c) => c.replace(/\s+/g, ' ').trim());
  const focusedId = () => page.evaluate('document.activeElement?.id');
  const focusedLabel = () => page.evaluate("document.activeElement?.getAttribute('aria-label')");
  /** What the API answers the customer's admin (a token outside the page). */
  const api = async (path: string, init: { method?: string; body?: unknown } = {}, customer = slug) => {
    const token = await portalToken(services, { customer, roles: ['CustomerAdmin'] });
    return app.fetch(path, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
  };
  const listed = async (customer = slug) => (await (await api('/v1/webhook-endpoints', {}, customer)).json()) as Listed;
  const endpointOf = async (description: string) => (await listed()).webhookEndpoints.find((e) => e.description === description)!;
  /** The API's validation errors for an endpoint sent as it is. */
  const apiErrors = async (body: Record<string, unknown>) => {
    const response = await api('/v1/webhook-endpoints', { method: 'POST', body });
    expect(response.status).toBe(400);
    return ((await response.json()) as { errors: Array<{ path: string; message: string }> }).errors;
  };
  /** The secrets the service signs the endpoint's deliveries with now, newest first. */
  const signingSecrets = async (id: string) => {
    const endpoint = await services.useCases.webhookEndpoints.get(slug, id);
    return services.useCases.webhookEndpoints.signingSecrets(endpoint);
  };
  /** The secret in the open dialog, tracked so that the log check would catch it anywhere. */
  const shownSecret = async () => {
    await page.locator('#webhook-secret-dialog[open]').waitFor();
    return trackSecret(await page.inputValue('#webhook-secret-value input'));
  };
  /** Closes the secret's dialog: the secret is gone from the page (the page's work after a close is done then). */
  const closeSecret = async () => {
    await page.click('#webhook-secret-dialog [data-close]');
    await page.locator('#webhook-secret-value input').waitFor({ state: 'detached' });
  };
  /** Fills the form: the URL, the events (`*`: all, else the types ticked) and the description. */
  const fill = async (values: { url?: string; events?: string[]; description?: string }) => {
    if (values.url !== undefined) await page.fill('#wh-url', values.url);
    if (values.events?.[0] === '*') await page.check('#wh-events input[value="all"]');
    else if (values.events) {
      await page.check('#wh-events input[value="some"]');
      for (const type of values.events) await page.check(`#wh-event-list input[value="${type}"]`);
    }
    if (values.description !== undefined) await page.fill('#wh-description', values.description);
  };
  const submit = () => page.click('#webhook-form button[type=submit]');

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

  /** Works the visible queue messages as the worker would (handle, then delete) until none is left; what came of each. */
  const drain = async () => {
    const queue = services.queues.webhookDeliveries;
    const outcomes: string[] = [];
    for (;;) {
      const messages = await queue.receive({ max: 32, visibilityTimeoutMs: 60_000 });
      if (messages.length === 0) return outcomes.filter((o) => o !== 'stale'); // a duplicate message: its attempt was made
      for (const message of messages) {
        outcomes.push(await services.useCases.webhookDeliveries.handle(message.body));
        await queue.delete(message);
      }
    }
  };
  /** The endpoint's deliveries as the API lists them. */
  const deliveriesOf = async (id: string, customer = hooked) =>
    (
      (await (await api(`/v1/webhook-endpoints/${id}/deliveries`, {}, customer)).json()) as {
        deliveries: Array<{
          id: string;
          eventId: string;
          eventType: string;
          status: string;
          nextAttemptAt: string | null;
          attempts: Array<Record<string, unknown>>;
        }>;
      }
    ).deliveries;
  const delivery = (text: string) => page.locator('#deliveries-table tbody tr', { hasText: text });
  const deliveryCells = async (text: string) =>
    (await delivery(text).locator('td').allInnerTexts()).map((c) => c.replace(/\s+/g, ' ').trim());

  beforeAll(async () => {
    // A failed delivery's retry is an hour away: what the test's worker sees is only what is due now.
    services = testServices({ WEBHOOK_RETRY_DELAYS_SECONDS: '3600' });
    // No timers and no queue poller: the test makes each attempt (drain), so a delivery is seen pending first.
    app = await serveApp(services, { timers: false });
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        receiver.requests.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        response.writeHead(receiver.status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
    await services.useCases.customers.create({ slug: hooked, name: 'Receiver Bank', plan: 'starter' });
    // The starter plan holds 2 webhook endpoints.
    await services.useCases.customers.create({ slug, name: 'Hook Bank', plan: 'starter' });
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
    await new Promise((resolve) => server?.close(resolve));
    await app?.close();
    await services?.dispose();
  });

  it('beside Workload identities for a customer admin: the empty state says what an endpoint is and links the docs; the cap reads 0 of 2', async () => {
    await signIn('CustomerAdmin');
    const tabs = await page.$$eval('#tabs a:not([hidden])', (links) => links.map((a) => a.textContent));
    expect(tabs.slice(0, 3)).toEqual(['Keys', 'Workload identities', 'Webhooks']);
    await open();
    expect(await page.title()).toBe('Webhooks · Veriproof');
    expect(await text('#webhooks-table tbody tr.empty td')).toBe(EMPTY);
    expect(await page.getAttribute('#webhooks-table tbody tr.empty a', 'href')).toBe('/docs#/Webhooks');
    expect(await text('#webhooks-summary')).toBe(`0 of 2 endpoints · ${slug}`);
    expect(await page.isEnabled('#new-webhook')).toBe(true);
    expect(await page.isHidden('#webhook-cap')).toBe(true);
    await shot('01-empty');
  });

  it('offers all events or a choice from the catalogue, and shows the API’s own messages under their fields; nothing is created', async () => {
    await page.focus('#new-webhook');
    await page.keyboard.press('Enter');
    await page.locator('#webhook-dialog[open]').waitFor();
    expect(await focusedId()).toBe('wh-url');
    // All events by default; a type can be ticked only under “Only these”.
    expect(await page.isChecked('#wh-events input[value="all"]')).toBe(true);
    const choices = await page.$$eval('#wh-event-list input', (boxes) => boxes.map((b) => (b as unknown as { value: string }).value));
    expect(choices).toEqual(expect.arrayContaining(['key.issued', 'key.revoked', 'key.exposed', 'key.expiring', 'key_request.rejected']));
    expect(choices).toHaveLength(13);
    expect(await page.isDisabled('#wh-event-list input[value="key.revoked"]')).toBe(true);
    await page.check('#wh-events input[value="some"]');
    expect(await page.isEnabled('#wh-event-list input[value="key.revoked"]')).toBe(true);

    // A URL without a scheme, and “Only these” with none ticked.
    await fill({ url: 'hooks.acme.example/veriproof' });
    await submit();
    await page.locator('#wh-url-error:not([hidden])').waitFor();
    const errors = await apiErrors({ url: 'hooks.acme.example/veriproof', events: [] });
    expect(errors.map((e) => e.path).sort()).toEqual(['events', 'url']);
    for (const { path, message } of errors) {
      expect(await text(`#wh-${path}-error`)).toBe(`${path === 'url' ? 'URL' : 'Events'} ${message}`);
      expect(await page.getAttribute(`#wh-${path}`, 'aria-invalid')).toBe('true');
      // Read with the field: the error is part of its description.
      expect(await page.getAttribute(`#wh-${path}`, 'aria-describedby')).toContain(`wh-${path}-error`);
    }
    expect(await text('#wh-events-error')).toBe('Events must name at least one event type, or "*"');
    expect(await page.isHidden('#wh-description-error')).toBe(true);
    expect(await focusedId()).toBe('wh-url');
    await shot('02-validation');

    // An http URL on a host that is not loopback: the service's rule, in its words.
    await fill({ url: 'http://hooks.acme.example/veriproof', events: ['*'] });
    await submit();
    await page.locator('#wh-url-error', { hasText: 'must be https' }).waitFor();
    expect(await page.isHidden('#wh-events-error')).toBe(true);
    const [modeError] = await apiErrors({ url: 'http://hooks.acme.example/veriproof', events: ['*'] });
    expect(modeError!.path).toBe('url');
    expect(await text('#wh-url-error')).toBe(`URL ${modeError!.message}`);
    expect(await page.isVisible('#webhook-dialog')).toBe(true);

    // Escape closes it and focus returns to the button that opened it; nothing was created.
    await page.keyboard.press('Escape');
    await page.locator('#webhook-dialog[open]').waitFor({ state: 'detached' });
    expect(await focusedId()).toBe('new-webhook');
    expect((await listed()).webhookEndpoints).toEqual([]);
  });

  it('adds an endpoint for chosen events: its secret shown once with a copy button, the one the service signs with; then listed', async () => {
    await page.click('#new-webhook');
    await page.locator('#webhook-dialog[open]').waitFor();
    // The form opens empty again: the errors of the last attempt are gone.
    expect(await page.inputValue('#wh-url')).toBe('');
    expect(await page.isHidden('#wh-url-error')).toBe(true);
    await fill(SECURITY);
    await submit();

    const secret = await shownSecret();
    expect(secret).toMatch(SECRET);
    expect(await text('#webhook-secret-title')).toBe('Signing secret');
    expect(await text('#webhook-secret-warning')).toMatch(/^Copy it now: you will not see it again\./);
    expect(await text('#webhook-secret-for')).toBe(`For ${SECURITY.url}`);
    expect(await page.isHidden('#webhook-secret-note')).toBe(true);
    // The focus is on the copy button; the secret is a property of the field, never in the markup.
    expect(await focusedLabel()).toBe(`Copy the signing secret for ${SECURITY.description}`);
    expect(await page.content()).not.toContain(secret);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url });
    await page.click('#webhook-secret-value button');
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(secret);
    expect(await text('#webhook-secret-value button')).toBe('Copied');
    await shot('03-secret');
    await closeSecret();
    expect(await page.isHidden('#webhook-secret-dialog')).toBe(true);
    expect(await text('#toast')).toBe(`Added the endpoint “${SECURITY.description}”.`);

    await row(SECURITY.description).waitFor();
    expect(await text('#webhooks-summary')).toBe(`1 of 2 endpoints · ${slug}`);
    expect((await cells(SECURITY.description)).slice(0, 5)).toEqual([
      `${SECURITY.description} ${SECURITY.url}`,
      'key.revoked key.exposed',
      'Active',
      'Never',
      expect.stringMatching(/by Ada Admin$/) as unknown as string,
    ]);
    // Focus lands on the new row's first action, not back at the top of the page.
    expect(await focusedLabel()).toBe(`Disable ${SECURITY.description}`);
    const endpoint = await endpointOf(SECURITY.description);
    expect(endpoint).toMatchObject({ ...SECURITY, status: 'active', createdBy: expect.objectContaining({ name: 'Ada Admin' }) });
    expect(endpoint).not.toHaveProperty('secret');
    expect(await page.getAttribute(`#webhooks-table tr[data-endpoint-id="${endpoint.id}"]`, 'data-endpoint-id')).toMatch(/^we_/);
    // What the page showed is what deliveries are signed with.
    expect(await signingSecrets(endpoint.id)).toEqual([secret]);
  });

  it('at the plan’s cap (starter: 2): a cap reached while the form is open is the API’s message; then adding is disabled, with the reason beside it', async () => {
    await page.click('#new-webhook');
    await page.locator('#webhook-dialog[open]').waitFor();
    await fill({ url: 'https://ops.acme.example/hooks', events: ['*'] });
    // Meanwhile another admin adds the second endpoint the plan allows.
    const other = await services.useCases.webhookEndpoints.create(
      slug,
      { url: 'https://pager.acme.example/in', events: ['*'], description: 'Pager bridge' },
      op('other-admin'),
    );
    trackSecret(other.secret);
    await submit();
    await page.locator('#webhook-error:not([hidden])').waitFor();
    const refused = await api('/v1/webhook-endpoints', { method: 'POST', body: { url: 'https://ops.acme.example/hooks', events: ['*'] } });
    expect(refused.status).toBe(409);
    const problem = (await refused.json()) as { code: string; detail: string };
    expect(problem.code).toBe('webhook_endpoint_limit_reached');
    expect(await text('#webhook-error')).toBe(problem.detail);
    expect(await page.isHidden('#wh-url-error')).toBe(true);
    await shot('04-cap-reached');
    await page.click('#webhook-dialog [data-close]');
    await page.locator('#webhook-dialog[open]').waitFor({ state: 'detached' });

    await row('Pager bridge').waitFor();
    expect(await cells('Pager bridge')).toEqual(
      expect.arrayContaining(['Pager bridge https://pager.acme.example/in', 'All events', 'Active']),
    );
    expect(await text('#webhooks-summary')).toBe(`2 of 2 endpoints · ${slug}`);
    expect(await page.isDisabled('#new-webhook')).toBe(true);
    expect(await text('#webhook-cap')).toBe(AT_CAP);
    expect(await page.getAttribute('#new-webhook', 'title')).toBe(AT_CAP);
    expect(await page.getAttribute('#new-webhook', 'aria-describedby')).toBe('webhook-cap');
    // Another view's load (Keys sets its own write state) leaves it disabled.
    await page.click('#tabs a[href="#keys"]');
    await loaded('keys');
    await open();
    expect(await page.isDisabled('#new-webhook')).toBe(true);
    expect((await listed()).webhookEndpointCount).toBe(2);
  });

  it('disables and enables an endpoint; says why one is disabled and since when one fails; enabling forgets the failures', async () => {
    const { id } = await endpointOf(SECURITY.description);
    await row(SECURITY.description)
      .getByRole('button', { name: `Disable ${SECURITY.description}` })
      .click();
    await row(SECURITY.description)
      .getByRole('button', { name: `Enable ${SECURITY.description}` })
      .waitFor();
    expect(await text('#toast')).toBe(`Disabled the endpoint “${SECURITY.description}”: it receives no events until you enable it.`);
    expect(await endpointOf(SECURITY.description)).toMatchObject({ status: 'disabled', disabledReason: 'customer' });
    const [, , status] = await cells(SECURITY.description);
    expect(status).toMatch(/^Disabled Disabled by an admin .+\. Enable it to receive events again\.$/);
    expect(await focusedLabel()).toBe(`Enable ${SECURITY.description}`);
    await page.keyboard.press('Enter');
    await row(SECURITY.description)
      .getByRole('button', { name: `Disable ${SECURITY.description}` })
      .waitFor();
    expect((await cells(SECURITY.description))[2]).toBe('Active');
    expect((await endpointOf(SECURITY.description)).status).toBe('active');

    // What the delivery side records: a success, then failures; then it disables the endpoint.
    const outcomes = new TableWebhookEndpointRepository(services.storage);
    const lastSuccess = new Date(Date.now() - 5 * DAY_MS).toISOString();
    const failingSince = new Date(Date.now() - 4 * DAY_MS).toISOString();
    await outcomes.recordOutcome(slug, id, { success: true, at: lastSuccess });
    await outcomes.recordOutcome(slug, id, { success: false, at: failingSince });
    await page.click('[data-refresh="webhooks"]');
    await loaded('webhooks');
    const cell = (n: number) => row(SECURITY.description).locator(`td:nth-child(${n})`);
    expect(await cell(3).textContent()).toMatch(/^Failing\s*Failing since /);
    expect(await cell(3).locator('time').getAttribute('datetime')).toBe(failingSince);
    expect(await cell(4).locator('time').getAttribute('datetime')).toBe(lastSuccess);
    expect(await cell(4).textContent()).toBe('5 d ago');

    await services.useCases.webhookEndpoints.disable(slug, id);
    await page.click('[data-refresh="webhooks"]');
    await loaded('webhooks');
    expect(await cell(3).textContent()).toMatch(
      /^Disabled\s*Disabled .+: its deliveries failed for 3 days\. Fix the receiver, then enable it\.\s*Failing since /,
    );
    expect(await cell(3).locator('time').last().getAttribute('datetime')).toBe(failingSince);
    await shot('05-disabled-failing');
    await row(SECURITY.description)
      .getByRole('button', { name: `Enable ${SECURITY.description}` })
      .click();
    await row(SECURITY.description)
      .getByRole('button', { name: `Disable ${SECURITY.description}` })
      .waitFor();
    expect((await cells(SECURITY.description))[2]).toBe('Active');
    expect(await endpointOf(SECURITY.description)).toMatchObject({ status: 'active', failingSince: null, lastSuccessAt: lastSuccess });
  });

  it('rotates the secret after a confirmation (Escape cancels): the new one shown once, the old one signing for 24 hours more', async () => {
    const { id } = await endpointOf(SECURITY.description);
    const [before] = await signingSecrets(id);
    const rotate = row(SECURITY.description).getByRole('button', { name: `Rotate secret ${SECURITY.description}` });
    await rotate.click();
    await page.locator('#confirm-dialog[open]').waitFor();
    expect(await text('#confirm-title')).toBe(`Rotate the signing secret of “${SECURITY.description}”?`);
    expect(await text('#confirm-body')).toContain('The current one keeps signing beside it for 24 hours');
    await page.keyboard.press('Escape');
    await page.locator('#confirm-dialog[open]').waitFor({ state: 'detached' });
    expect(await signingSecrets(id)).toEqual([before]);

    await rotate.click();
    await page.locator('#confirm-dialog[open]').waitFor();
    expect(await text('#confirm-ok')).toBe('Rotate secret');
    await page.click('#confirm-ok');
    const secret = await shownSecret();
    expect(secret).toMatch(SECRET);
    expect(secret).not.toBe(before);
    expect(await text('#webhook-secret-title')).toBe('New signing secret');
    expect(await text('#webhook-secret-warning')).toMatch(/you will not see it again/);
    expect(await text('#webhook-secret-note')).toMatch(
      /^The previous secret keeps signing for 24 hours, until .+: each delivery carries both signatures until then/,
    );
    await shot('06-rotated');
    await closeSecret();
    expect(await text('#toast')).toBe(`Rotated the signing secret of “${SECURITY.description}”.`);
    expect(await focusedLabel()).toBe(`Rotate secret ${SECURITY.description}`);
    // Both sign now: the new one first; the old one until 24 hours after the rotation.
    expect(await signingSecrets(id)).toEqual([secret, before]);
    const endpoint = await endpointOf(SECURITY.description);
    const until = String(endpoint.previousSecretExpiresAt);
    expect(Date.parse(until) - Date.parse(String(endpoint.updatedAt))).toBe(DAY_MS);
    const note = row(SECURITY.description).locator('td:nth-child(3) .note', { hasText: 'Previous secret signs until' });
    expect(await note.locator('time').getAttribute('datetime')).toBe(until);
  });

  it('deletes after a confirmation that names the endpoint (Escape cancels); under the cap again, adding is enabled', async () => {
    const remove = row(SECURITY.description).getByRole('button', { name: `Delete ${SECURITY.description}` });
    await remove.click();
    await page.locator('#confirm-dialog[open]').waitFor();
    expect(await text('#confirm-title')).toBe(`Delete the endpoint “${SECURITY.description}”?`);
    expect(await text('#confirm-body')).toContain(SECURITY.url);
    await page.keyboard.press('Escape');
    await page.locator('#confirm-dialog[open]').waitFor({ state: 'detached' });
    expect((await listed()).webhookEndpointCount).toBe(2);
    expect(await rows().count()).toBe(2);

    await remove.click();
    await page.locator('#confirm-dialog[open]').waitFor();
    expect(await text('#confirm-ok')).toBe('Delete endpoint');
    await page.click('#confirm-ok');
    await row(SECURITY.description).waitFor({ state: 'detached' });
    expect(await text('#toast')).toBe(`Deleted the endpoint “${SECURITY.description}”.`);
    expect(await text('#webhooks-summary')).toBe(`1 of 2 endpoints · ${slug}`);
    expect(await page.isEnabled('#new-webhook')).toBe(true);
    expect(await page.isHidden('#webhook-cap')).toBe(true);
    expect(await page.getAttribute('#new-webhook', 'title')).toBeNull();
    expect(await focusedId()).toBe('new-webhook');
    expect((await listed()).webhookEndpoints.map((e) => e.description)).toEqual(['Pager bridge']);
  });

  it('sandbox mode shows the shared sandbox read-only, as on the Keys tab', async () => {
    await page.check('#sandbox-toggle');
    await page.locator('#webhooks-summary', { hasText: 'shared sandbox (read-only)' }).waitFor();
    await loaded('webhooks');
    expect(await text('#webhooks-summary')).toMatch(/^0 of \d+ endpoints · shared sandbox \(read-only\)$/);
    expect(await text('#webhooks-table tbody tr.empty td')).toBe(SANDBOX_EMPTY);
    expect(await page.isDisabled('#new-webhook')).toBe(true);
    expect(await page.getAttribute('#new-webhook', 'title')).toMatch(/^Read-only in sandbox mode/);
    await page.uncheck('#sandbox-toggle');
    await row('Pager bridge').waitFor();
    await loaded('webhooks');
    expect(await page.isEnabled('#new-webhook')).toBe(true);
    expect(await page.isEnabled('#webhooks-table button')).toBe(true);
  });

  it('staff do not see the tab, and its address does not show it to them', async () => {
    await signIn('Staff');
    expect(await page.isHidden('#tabs a[href="#webhooks"]')).toBe(true);
    await page.evaluate("location.hash = '#webhooks'");
    await loaded('staff');
    expect(await page.isHidden('#view-webhooks')).toBe(true);
  });

  describe('deliveries, against a loopback receiver (the test is the queue’s worker)', () => {
    let secret: string;
    let endpointId: string;

    it('sends a test event: listed pending, then delivered (200, its duration) once the attempt is made; the receiver verifies it with the secret shown once', async () => {
      await signIn('CustomerAdmin', hooked);
      await open();
      await page.click('#new-webhook');
      await page.locator('#webhook-dialog[open]').waitFor();
      await fill({ url: receiver.url, events: ['key.issued'], description: 'Receiver' });
      await submit();
      secret = await shownSecret();
      await closeSecret();
      endpointId = (await listed(hooked)).webhookEndpoints[0]!.id;

      await row('Receiver').getByRole('button', { name: 'Send a test event to Receiver' }).click();
      await page.locator('#deliveries-dialog[open]').waitFor();
      expect(await text('#toast')).toBe('Sent a test event to “Receiver”.');
      expect(await text('#deliveries-for')).toBe(`To ${receiver.url}`);
      const [test] = await deliveriesOf(endpointId);
      expect(test).toMatchObject({ eventType: 'webhook.test', status: 'pending', attempts: [] });
      expect((await deliveryCells('webhook.test')).slice(0, 4)).toEqual([
        `webhook.test ${test!.eventId}`,
        expect.any(String) as unknown as string,
        expect.stringMatching(/^Pending Next attempt /) as unknown as string,
        'None yet',
      ]);
      expect(receiver.requests).toHaveLength(0);

      // The worker makes the attempt; the open list reads itself again (no click) and shows it.
      expect(await drain()).toEqual(['delivered']);
      await delivery('webhook.test')
        .locator('td:nth-child(3)', { hasText: /^Delivered$/ })
        .waitFor();
      const [made] = await deliveriesOf(endpointId);
      const attempt = made!.attempts[0]!;
      expect(attempt).toMatchObject({ status: 'delivered', responseCode: 200, error: null });
      const cells = await deliveryCells('webhook.test');
      expect(cells[3]).toMatch(new RegExp(`^Delivered: 200 in ${String(attempt.durationMs)} ms, `));
      expect(await delivery('webhook.test').locator('li time').getAttribute('datetime')).toBe(attempt.at);
      // What arrived is signed with the secret the page showed once.
      expect(receiver.requests).toHaveLength(1);
      const event = verifyWebhook(receiver.requests[0]!.body, receiver.requests[0]!.headers, secret);
      expect(event).toMatchObject({ id: test!.eventId, type: 'webhook.test', customer: { slug: hooked } });
      await shot('07-test-delivered');

      // Closed, the list of endpoints is read again: it was delivered to just now.
      await page.click('#deliveries-dialog [data-close]');
      await page.locator('#deliveries-dialog[open]').waitFor({ state: 'detached' });
      await row('Receiver').locator('td:nth-child(4)', { hasText: 'Within the hour' }).waitFor();
      expect(await focusedLabel()).toBe('Send a test event to Receiver');
    });

    it('a failed delivery shows its attempt (503, duration) and its next attempt; Retry sends it again now, under the same webhook-id, and it is delivered', async () => {
      receiver.status = 503;
      await services.useCases.keys.issue(hooked, { label: 'checkout', application: 'web' }, op('setup'));
      await services.useCases.webhookDispatch.dispatch(hooked);
      expect(await drain()).toEqual(['retrying']);
      const [issued] = await deliveriesOf(endpointId);
      expect(issued).toMatchObject({ eventType: 'key.issued', status: 'pending' });

      await row('Receiver').getByRole('button', { name: 'Recent deliveries to Receiver' }).click();
      await page.locator('#deliveries-dialog[open]').waitFor();
      // Newest first: the key's event, then the test event.
      expect(await page.$$eval('#deliveries-table tbody tr td:first-child > code', (c) => c.map((n) => n.textContent))).toEqual([
        'key.issued',
        'webhook.test',
      ]);
      const failed = issued!.attempts[0]!;
      const cells = await deliveryCells('key.issued');
      expect(cells[2]).toMatch(/^Pending Next attempt /);
      expect(await delivery('key.issued').locator('td:nth-child(3) time').getAttribute('datetime')).toBe(issued!.nextAttemptAt);
      expect(cells[3]).toMatch(new RegExp(`^Failed: 503 in ${String(failed.durationMs)} ms, `));
      await shot('08-failed');

      receiver.status = 200;
      const retry = delivery('key.issued').getByRole('button', { name: `Retry key.issued ${issued!.eventId}` });
      await retry.click();
      // Said once the API took it (its message queued).
      await page.locator('#toast', { hasText: 'Retrying key.issued now: the same event, under the same webhook-id.' }).waitFor();
      expect(await drain()).toEqual(['delivered']);
      await delivery('key.issued')
        .locator('td:nth-child(3)', { hasText: /^Delivered$/ })
        .waitFor();
      expect(await delivery('key.issued').locator('li').allInnerTexts()).toEqual([
        expect.stringMatching(/^Failed: 503 in \d+ ms, /),
        expect.stringMatching(/^Delivered: 200 in \d+ ms, /),
      ]);
      // The list read itself again; the focus stayed on the row's button.
      expect(await focusedLabel()).toBe(`Retry key.issued ${issued!.eventId}`);
      // Both attempts carried the same event under the same webhook-id, each signed.
      const sent = receiver.requests.filter((r) => r.headers['webhook-id'] === issued!.eventId);
      expect(sent).toHaveLength(2);
      for (const request of sent) expect(verifyWebhook(request.body, request.headers, secret).type).toBe('key.issued');
      expect(sent[0]!.body).toBe(sent[1]!.body);
    });

    it('an endpoint that refuses connections: the test event fails once and says why; a disabled endpoint cannot be sent to, and says so', async () => {
      const refusing = 'http://127.0.0.1:1/hooks';
      expect((await api(`/v1/webhook-endpoints/${endpointId}`, { method: 'PATCH', body: { url: refusing } }, hooked)).status).toBe(200);
      await page.click('[data-refresh="webhooks"]');
      await row(refusing).waitFor();
      await row('Receiver').getByRole('button', { name: 'Send a test event to Receiver' }).click();
      await page.locator('#deliveries-dialog[open]').waitFor();
      expect(await drain()).toEqual(['failed']);
      const [refused] = await deliveriesOf(endpointId);
      const attempt = refused!.attempts[0]!;
      expect(attempt).toMatchObject({ status: 'failed', responseCode: null });
      expect(attempt.error).toEqual(expect.any(String));
      const first = page.locator('#deliveries-table tbody tr').first();
      await first.locator('td:nth-child(3)', { hasText: /^Failed$/ }).waitFor();
      // The outcome and when on a line, then why.
      const [outcome, why] = (await first.locator('li').innerText()).split('\n');
      expect(outcome).toMatch(/^Failed: no answer in \d+(\.\d)? m?s, /);
      expect(why).toBe(attempt.error);
      await shot('09-refused');
      await page.click('#deliveries-dialog [data-close]');
      await page.locator('#deliveries-dialog[open]').waitFor({ state: 'detached' });
      // Failing since the refused attempt.
      expect(await row('Receiver').locator('td:nth-child(3) .note time').getAttribute('datetime')).toBe(attempt.at);

      await row('Receiver').getByRole('button', { name: 'Disable Receiver' }).click();
      await row('Receiver').getByRole('button', { name: 'Enable Receiver' }).waitFor();
      const test = row('Receiver').getByRole('button', { name: 'Send a test event to Receiver' });
      expect(await test.isDisabled()).toBe(true);
      expect(await test.getAttribute('title')).toBe('The endpoint is disabled: enable it to send to it');
      // Its deliveries can still be read, not retried.
      await row('Receiver').getByRole('button', { name: 'Recent deliveries to Receiver' }).click();
      await page.locator('#deliveries-dialog[open]').waitFor();
      for (const button of await page.locator('#deliveries-table tbody button').all()) {
        expect(await button.isDisabled()).toBe(true);
        expect(await button.getAttribute('title')).toBe('The endpoint is disabled: enable it to send to it');
      }
      await page.keyboard.press('Escape');
      await page.locator('#deliveries-dialog[open]').waitFor({ state: 'detached' });
    });
  });

  describe('on a phone, 375 px wide', () => {
    const fresh = `whm-${randomBytes(3).toString('hex')}`;
    beforeAll(async () => {
      await context.close();
      context = await browser.newContext({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
      page = await context.newPage();
      page.setDefaultTimeout(10_000);
      page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
      await services.useCases.customers.create({ slug: fresh, name: 'Phone Bank', plan: 'starter' });
    });
    const readable = async (where: string) => expectReadable(await measureLayout(page), where);

    it('the empty state, the form with errors, the secret, and a list at the cap: nothing scrolls sideways', async () => {
      await signIn('CustomerAdmin', fresh);
      await open();
      await readable('webhooks, empty');
      expect(await text('#webhooks-table tbody tr.empty td')).toBe(EMPTY);
      await shot('mobile-01-empty');

      await page.click('#new-webhook');
      await page.locator('#webhook-dialog[open]').waitFor();
      await page.check('#wh-events input[value="some"]');
      await submit();
      await page.locator('#wh-url-error:not([hidden])').waitFor();
      expect(await text('#wh-events-error')).toBe('Events must name at least one event type, or "*"');
      await readable('webhooks, the form with errors');
      // The dialog scrolls up and down, never sideways (the page's check skips what is inside a scroller).
      expect(await page.$eval('#webhook-dialog', (d) => d.scrollWidth - d.clientWidth)).toBe(0);
      await shot('mobile-02-form');

      // A long URL with a query, every event type listed, a long description.
      const long = {
        url: `https://webhooks.receiver-of-a-long-name.acme-corporation.example/veriproof/key-events/production?token=${'a1b2c3d4'.repeat(6)}`,
        description: 'Security operations centre, Microsoft Sentinel bridge (production)',
      };
      await fill({ url: long.url, description: long.description, events: ['key.issued', 'key.revoked', 'key.exposed', 'key.expiring'] });
      await submit();
      await shownSecret();
      await readable('webhooks, the secret shown once');
      expect(await page.$eval('#webhook-secret-dialog', (d) => d.scrollWidth - d.clientWidth)).toBe(0);
      await shot('mobile-03-secret');
      await closeSecret();
      await row(long.description).waitFor();

      // The second: every status at once (failing, then disabled; a previous secret still signing).
      const second = await services.useCases.webhookEndpoints.create(
        fresh,
        { url: 'https://hooks.acme.example/all', events: ['*'] },
        op('setup'),
      );
      trackSecret(second.secret);
      trackSecret((await services.useCases.webhookEndpoints.rotateSecret(fresh, second.endpoint.id, op('setup'))).secret);
      await new TableWebhookEndpointRepository(services.storage).recordOutcome(fresh, second.endpoint.id, {
        success: false,
        at: new Date(Date.now() - 4 * DAY_MS).toISOString(),
      });
      await services.useCases.webhookEndpoints.disable(fresh, second.endpoint.id);
      await page.click('[data-refresh="webhooks"]');
      await rows().nth(1).waitFor();
      await loaded('webhooks');
      await readable('webhooks, two endpoints at the cap');
      expect(await page.isDisabled('#new-webhook')).toBe(true);
      // Each row is a card of values labelled with their column's header.
      const labels = await page.$$eval('#webhooks-table tbody tr td', (cells) =>
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
      expect(labelled.map((l) => l.label)).toEqual(expect.arrayContaining(['Endpoint', 'Events', 'Status', 'Last delivered']));
      await shot('mobile-04-at-cap');
    });

    it('an endpoint’s deliveries (a failed attempt saying why, a retried one) read on the phone', async () => {
      await signIn('CustomerAdmin', hooked);
      await open();
      await row('Receiver').getByRole('button', { name: 'Recent deliveries to Receiver' }).click();
      await page.locator('#deliveries-dialog[open]').waitFor();
      await page.locator('#deliveries-table tbody tr').nth(2).waitFor();
      await readable('webhooks, recent deliveries');
      expect(await page.$eval('#deliveries-dialog', (d) => d.scrollWidth - d.clientWidth)).toBe(0);
      await shot('mobile-05-deliveries');
      for (const width of [320, 768, 1280]) {
        await page.setViewportSize({ width, height: 800 });
        await readable(`webhooks, recent deliveries, at ${width} px`);
      }
      await page.setViewportSize({ width: 375, height: 812 });
      await page.keyboard.press('Escape');
      await page.locator('#deliveries-dialog[open]').waitFor({ state: 'detached' });
      await signIn('CustomerAdmin', fresh);
    });

    it('the audit log lists the endpoints’ changes, their ids and addresses readable on the phone', async () => {
      await page.click('#tabs a[href="#activity"]');
      await loaded('activity');
      const created = page.locator('#audit-table tbody tr', { hasText: 'webhook_endpoint.created' });
      await created.first().waitFor();
      expect(await created.count()).toBe(2);
      expect(await created.first().locator('code', { hasText: /^we_/ }).count()).toBe(1);
      expect(await page.locator('#audit-table tbody tr', { hasText: 'webhook_endpoint.disabled' }).count()).toBe(1);
      await readable('requests and audit, with webhook endpoint events');
      await shot('mobile-06-audit');
      for (const width of [320, 768, 1280]) {
        await page.setViewportSize({ width, height: 800 });
        await readable(`requests and audit, with webhook endpoint events, at ${width} px`);
      }
      await page.setViewportSize({ width: 375, height: 812 });
      await open();
    });

    it('at every width from 320 to 1440 px the panel neither scrolls sideways nor squeezes its text', async () => {
      await open();
      const widths = [...Array.from({ length: 29 }, (_, i) => 320 + i * 40), 641, 896, 897, 1248, 1249].sort((a, b) => a - b);
      for (const width of widths) {
        await page.setViewportSize({ width, height: 800 });
        await readable(`webhooks at ${width} px`);
      }
    });
  });
});
