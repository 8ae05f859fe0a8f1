import { SecretClient } from '@azure/keyvault-secrets';
import { randomBytes } from 'node:crypto';
import { KeyVaultSecretStore, componentSecretName } from '../../shared/adapters/keyvault/key-vault-secret-store';
import { ManualClock } from '../../shared/clock';
import { loadConfig } from '../../shared/config';
import { silentLogger } from '../../shared/logging';
import { createServices } from '../../app/compose';
import { toTenantKeyBody } from '../../shared/schemas/view-mappers';
import type { ServiceContext } from '../../app/context';
import { serveApp } from '../support/http';
import { FAKE_VAULT_URL, FakeCredential, FakeKeyVault } from '../support/key-vault-fake';
import { portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { testEnv } from '../support/services';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

type App = Awaited<ReturnType<typeof serveApp>>;

/**
 * The master-component story through the HTTP API: two instances of the app on one Azurite and
 * one (fake) Key Vault, with an injected clock.
 */
describe('tenant-key rotation with a 7-day grace period', () => {
  const clock = new ManualClock('2026-06-01T00:00:00.000Z');
  const vault = new FakeKeyVault();
  const env = testEnv({ REVOCATION_FEED_MAX_STALENESS_SECONDS: '3600' });
  const instances: Array<{ services: ServiceContext; app: App }> = [];

  function newInstance(): ServiceContext {
    const client = new SecretClient(FAKE_VAULT_URL, new FakeCredential(), { httpClient: vault, retryOptions: { maxRetries: 0 } });
    return createServices(loadConfig(env), { clock, secrets: new KeyVaultSecretStore(client), background: false, log: silentLogger });
  }

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const services = newInstance();
      instances.push({ services, app: await serveApp(services, { timers: false }) }); // timers run when the test says
    }
  });
  afterAll(async () => {
    for (const { app, services } of instances) {
      await app.close();
      await services.dispose();
    }
  });

  const [A, B] = [0, 1];
  const app = (i: number) => instances[i]!.app;
  const services = (i: number) => instances[i]!.services;
  /** Each instance reads the revocation feed, so its auth cache is trusted (and warm copies are used). */
  const pollAll = () => Promise.all(instances.map(({ services }) => services.revocations.poll()));

  async function call(
    i: number,
    method: string,
    path: string,
    options: { token?: string; headers?: Record<string, string>; body?: unknown } = {},
  ) {
    const response = await app(i).fetch(path, {
      method,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, any>) : undefined, text };
  }

  async function newCustomer() {
    const slug = `t${randomBytes(4).toString('hex')}`;
    const staff = await portalToken(services(A), { roles: ['Staff'], sub: 'staff-1', name: 'Sam Staff' });
    expect((await call(A, 'POST', '/v1/staff/customers', { token: staff, body: { slug, name: slug, plan: 'pro' } })).status).toBe(201);
    const admin = await portalToken(services(A), { customer: slug, roles: ['CustomerAdmin'], name: 'Ada Admin' });
    const issue = async (label: string) => {
      const issued = await call(A, 'POST', '/v1/customer-keys/issue', { token: admin, body: { label, application: 'sdk' } });
      expect(issued.status).toBe(201);
      trackSecret(issued.body!.key);
      return issued.body!.key as string;
    };
    return { slug, staff, admin, issue };
  }

  const parts = (key: string) => {
    const [, component, secret] = key.split('.') as [string, string, string];
    return { component, secret };
  };
  /** whoami with the key sent as the SDK does: the secret in X-API-Key, the component in x-functions-key. */
  const sdkCall = (i: number, key: string, component = parts(key).component) =>
    call(i, 'GET', '/v1/whoami', { headers: { 'x-api-key': parts(key).secret, 'x-functions-key': component } });
  const wholeKeyCall = (i: number, key: string) => call(i, 'GET', '/v1/whoami', { headers: { 'x-api-key': key } });

  it('rotates on day 0: old component accepted at 6 d 23 h, refused at 7 d 0 h 1 m on every instance, timer or not', async () => {
    const start = clock.now().getTime();
    const { slug, staff, admin, issue } = await newCustomer();
    const oldKey = await issue('before-rotation');
    const c1 = parts(oldKey).component;

    for (const i of [A, B]) {
      expect((await wholeKeyCall(i, oldKey)).status).toBe(200);
      expect((await sdkCall(i, oldKey)).status).toBe(200);
      const wrong = await sdkCall(i, oldKey, 'Z'.repeat(32));
      expect(wrong.status).toBe(401);
      expect(wrong.body).toMatchObject({ code: 'component_invalid' });
      expect((await call(i, 'GET', '/v1/whoami', { headers: { 'x-api-key': parts(oldKey).secret } })).status).toBe(200); // secret only
    }

    // The customer asks; staff execute.
    const submitted = await call(A, 'POST', '/v1/customer-keys/requests/rotate-tenant-key', { token: admin, body: { reason: 'yearly' } });
    expect(submitted.status).toBe(202);
    const executed = await call(A, 'POST', `/v1/staff/customer-keys/requests/${submitted.body!.request.id}/execute`, { token: staff });
    expect(executed.status).toBe(200);
    expect(executed.body!.request).toMatchObject({ status: 'executed', result: { graceEndsAt: new Date(start + 7 * DAY).toISOString() } });

    const state = await call(B, 'GET', `/v1/staff/customers/${slug}/tenant-key`, { token: staff });
    expect(state.body).toMatchObject({
      customer: slug,
      inGrace: true,
      graceEndsAt: new Date(start + 7 * DAY).toISOString(),
      previousVersion: expect.any(String),
    });
    expect(state.body!.currentVersion).not.toBe(state.body!.previousVersion);
    expect(state.text).not.toContain(c1);

    const newKey = await issue('after-rotation');
    const c2 = parts(newKey).component;
    expect(c2).not.toBe(c1); // keys issued from now on carry the new component
    for (const i of [A, B]) {
      expect((await wholeKeyCall(i, newKey)).status).toBe(200);
      expect((await sdkCall(i, oldKey, c2)).status).toBe(200); // an old secret with the new component
    }

    clock.set(new Date(start + 6 * DAY + 23 * HOUR));
    await pollAll();
    for (const i of [A, B]) expect((await wholeKeyCall(i, oldKey)).status).toBe(200);

    // Warm both instances' caches just before the end, then cross it without running the timer.
    clock.set(new Date(start + 7 * DAY - 30_000));
    await pollAll();
    for (const i of [A, B]) expect((await sdkCall(i, oldKey)).status).toBe(200);
    clock.set(new Date(start + 7 * DAY + 60_000));
    await pollAll();
    for (const i of [A, B]) {
      const refused = await wholeKeyCall(i, oldKey);
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({ code: 'component_invalid' });
      expect((await sdkCall(i, oldKey, c2)).status).toBe(200);
      expect((await wholeKeyCall(i, newKey)).status).toBe(200);
    }
    expect(vault.isEnabled(componentSecretName(slug), state.body!.previousVersion)).toBe(true); // the timer has not run

    // The timer, twice at once, then again: one retirement, the same state.
    const [first, second] = await Promise.all([
      services(A).useCases.masterComponents.retireDue(),
      services(B).useCases.masterComponents.retireDue(),
    ]);
    expect(first.retired + second.retired).toBe(1);
    const afterTimer = toTenantKeyBody(await services(A).useCases.masterComponents.status(slug));
    expect(await services(B).useCases.masterComponents.retireDue()).toEqual({ retired: 0, checked: 0 });
    expect(toTenantKeyBody(await services(A).useCases.masterComponents.status(slug))).toEqual(afterTimer);
    expect(afterTimer).toMatchObject({
      previousVersion: null,
      graceEndsAt: null,
      inGrace: false,
      currentVersion: state.body!.currentVersion,
    });
    expect(vault.isEnabled(componentSecretName(slug), state.body!.previousVersion)).toBe(false);
    const audit = await call(A, 'GET', '/v1/customer-keys/audit', { token: admin });
    const types = audit.body!.events.map((e: { type: string }) => e.type);
    expect(types.filter((t: string) => t === 'tenant-key.grace-ended')).toHaveLength(1);
    expect(types).toContain('tenant-key.rotated');
  });

  it('lets staff rotate with no grace, and end a grace period early', async () => {
    const { slug, staff, issue } = await newCustomer();
    const key = await issue('k');
    const rotated = await call(A, 'POST', `/v1/staff/customers/${slug}/tenant-key/rotate`, { token: staff, body: { gracePeriodHours: 0 } });
    expect(rotated.body).toMatchObject({ previousVersion: null, inGrace: false });
    await pollAll();
    for (const i of [A, B]) expect((await wholeKeyCall(i, key)).body).toMatchObject({ code: 'component_invalid' });

    const next = await issue('k2');
    const graceful = await call(A, 'POST', `/v1/staff/customers/${slug}/tenant-key/rotate`, { token: staff, body: {} });
    expect(graceful.body).toMatchObject({ inGrace: true });
    expect((await wholeKeyCall(B, next)).status).toBe(200);
    const ended = await call(A, 'POST', `/v1/staff/customers/${slug}/tenant-key/end-grace`, { token: staff });
    expect(ended.body).toMatchObject({ previousVersion: null, inGrace: false });
    await pollAll();
    for (const i of [A, B]) expect((await wholeKeyCall(i, next)).body).toMatchObject({ code: 'component_invalid' });
    expect(vault.isEnabled(componentSecretName(slug), graceful.body!.previousVersion)).toBe(false);
  });

  it('requires the component for a customer when staff turn requireComponent on', async () => {
    const { slug, staff, issue } = await newCustomer();
    const key = await issue('k');
    expect((await call(A, 'PATCH', `/v1/staff/customers/${slug}`, { token: staff, body: { requireComponent: true } })).body).toMatchObject({
      requireComponent: true,
    });
    await pollAll();
    for (const i of [A, B]) {
      const bare = await call(i, 'GET', '/v1/whoami', { headers: { 'x-api-key': parts(key).secret } });
      expect(bare.status).toBe(401);
      expect(bare.body).toMatchObject({ code: 'component_required' });
      expect((await sdkCall(i, key)).status).toBe(200);
    }
  });

  it('never calls Key Vault per request, and bad components cannot drive storage or vault traffic', async () => {
    const { issue } = await newCustomer();
    const key = await issue('busy');
    await pollAll();
    expect((await sdkCall(B, key)).status).toBe(200); // warm
    const vaultBefore = vault.requests;
    const storageBefore = services(B).storage.operations.snapshot().total;
    for (let i = 0; i < 100; i++) expect((await sdkCall(B, key)).status).toBe(200);
    for (let i = 0; i < 50; i++) expect((await sdkCall(B, key, `${'Q'.repeat(31)}${i % 10}`)).status).toBe(401);
    expect(vault.requests - vaultBefore).toBe(0);
    // At most one re-read of the key after the first mismatch (one refresh per customer per minute).
    expect(services(B).storage.operations.snapshot().total - storageBefore).toBeLessThanOrEqual(1);
  });

  it('keeps cached customers working while Key Vault is down; a cold customer gets 503', async () => {
    const warm = await newCustomer();
    const warmKey = await warm.issue('warm');
    const cold = await newCustomer();
    const coldKey = await cold.issue('cold');
    await pollAll();
    expect((await sdkCall(B, warmKey)).status).toBe(200);

    const fresh = newInstance(); // a new instance: nothing cached
    const freshApp = await serveApp(fresh, { timers: false });
    await fresh.revocations.poll();
    try {
      expect((await freshApp.fetch('/v1/whoami', { headers: { 'x-api-key': warmKey } })).status).toBe(200);
      vault.failure = 'network';
      expect((await sdkCall(B, warmKey)).status).toBe(200);
      const down = await freshApp.fetch('/v1/whoami', { headers: { 'x-api-key': coldKey } });
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('5');
      expect(await down.json()).toMatchObject({ code: 'dependency_unavailable' });
      // Without a component nothing needs the vault.
      expect((await freshApp.fetch('/v1/whoami', { headers: { 'x-api-key': parts(coldKey).secret } })).status).toBe(200);
    } finally {
      vault.failure = undefined;
      await freshApp.close();
      await fresh.dispose();
    }
    expect((await sdkCall(B, coldKey)).status).toBe(200);
  });
});
