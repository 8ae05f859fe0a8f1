import type { ServiceContext } from '../../app/context';
import { problemOf, serveApp } from '../support/http';
import { op, portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { customerWithKey, testServices } from '../support/services';
import { SteppingClock } from '../support/stepping-clock';

const HOUR = 3_600_000;

/**
 * The key lifecycle against real Azurite and the local host: rolling with an overlap, expiry,
 * IP allowlists and rotation reminders, each enforced at the door from the cached identity.
 */
describe('key lifecycle: roll, expiry, IP allowlists, rotation reminders', () => {
  let clock: SteppingClock;
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;

  const whoami = (key: string, headers: Record<string, string> = {}) =>
    app.fetch('/v1/whoami', { headers: { 'x-api-key': key, ...headers } });
  const codeOf = async (response: Response) => (response.status === 200 ? 'ok' : (await problemOf(response)).code);
  const admin = (slug: string) => portalToken(services, { customer: slug, roles: ['CustomerAdmin'] });
  const call = async (token: string, method: string, path: string, body?: unknown) =>
    app.fetch(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const roll = async (token: string, keyId: string, overlapHours: number) =>
    call(token, 'POST', `/v1/customer-keys/${keyId}/roll`, { overlapHours });

  beforeAll(async () => {
    clock = new SteppingClock();
    services = testServices({}, { clock });
    await services.revocations.poll();
    app = await serveApp(services, { timers: false }); // the tests run the timers themselves, on the moved clock
  });
  afterAll(async () => {
    await app?.close();
    await services?.dispose();
  });

  it('rolls with a 24-hour overlap: both keys work, the old one until the second it expires, then 401 api_key_expired', async () => {
    const { customer, key, keyId } = await customerWithKey(services, { label: 'checkout' });
    const token = await admin(customer.slug);
    expect(await codeOf(await whoami(key))).toBe('ok'); // cached from here on
    const response = await roll(token, keyId, 24);
    expect(response.status).toBe(201);
    const rolled = (await response.json()) as {
      key: string;
      metadata: { id: string; label: string; rolledFrom: string | null };
      old: { id: string; expiresAt: string; rolledTo: string | null; status: string };
    };
    trackSecret(rolled.key);
    expect(rolled.metadata).toMatchObject({ label: 'checkout', rolledFrom: keyId });
    expect(rolled.old).toMatchObject({ id: keyId, status: 'active', rolledTo: rolled.metadata.id });
    expect(Date.parse(rolled.old.expiresAt) - clock.millis()).toBeGreaterThan(24 * HOUR - 60_000);
    expect(await codeOf(await whoami(key))).toBe('ok');
    expect(await codeOf(await whoami(rolled.key))).toBe('ok');

    clock.moveTo(rolled.old.expiresAt, -1000);
    expect(await codeOf(await whoami(key))).toBe('ok');
    clock.moveTo(rolled.old.expiresAt);
    const expired = await whoami(key);
    expect(expired.status).toBe(401);
    expect(await problemOf(expired)).toMatchObject({ code: 'api_key_expired' });
    expect(expired.headers.get('www-authenticate')).toContain('invalid_token');
    expect(await codeOf(await whoami(rolled.key))).toBe('ok');

    // The timer revokes the old key, which gives its place back; the listing links the two.
    expect(await services.useCases.revocation.expireDue()).toBeGreaterThanOrEqual(1);
    expect(await services.useCases.revocation.expireDue()).toBe(0); // idempotent
    const listing = (await (await call(token, 'GET', '/v1/customer-keys')).json()) as {
      activeKeyCount: number;
      keys: Array<{ id: string; rolledTo: string | null; rolledFrom: string | null; status: string; revokedReason: string | null }>;
    };
    expect(listing.keys.find((k) => k.id === keyId)).toMatchObject({
      rolledTo: rolled.metadata.id,
      status: 'revoked',
      revokedReason: 'expired',
    });
    expect(listing.keys.find((k) => k.id === rolled.metadata.id)).toMatchObject({ rolledFrom: keyId, status: 'active' });
    expect(listing.activeKeyCount).toBe(1);
    expect((await services.useCases.customers.get(customer.slug))!.activeKeyCount).toBe(1);
    expect(await codeOf(await whoami(key))).toBe('api_key_invalid');
  });

  it('counts a key rolling out until it stops, and keeps the label with the new key, under 20 parallel rolls and issues racing them', async () => {
    const { customer, keyId } = await customerWithKey(services, { plan: 'pro', label: 'one' });
    const second = await services.useCases.keys.issue(customer.slug, { label: 'two', application: 'a' }, op());
    trackSecret(second.key);
    const token = await admin(customer.slug);
    const count = async () => (await services.useCases.customers.require(customer.slug)).activeKeyCount;
    const codesOf = async (calls: Response[]) => {
      for (const r of calls.filter((c) => c.status === 201)) trackSecret(((await r.clone().json()) as { key: string }).key);
      return Promise.all(calls.map(async (r) => (r.status === 201 ? 201 : (await problemOf(r)).code)));
    };
    // Cap 5, two keys: 10 rolls of each key at once make one new key each.
    const rolls = await codesOf(
      await Promise.all([
        ...Array.from({ length: 10 }, () => roll(token, keyId, 24)),
        ...Array.from({ length: 10 }, () => roll(token, second.metadata.id, 1)),
      ]),
    );
    expect(rolls.slice(0, 10).filter((c) => c === 201)).toHaveLength(1);
    expect(rolls.slice(0, 10).filter((c) => c === 'key_rolling_out')).toHaveLength(9);
    expect(rolls.slice(10).filter((c) => c === 201)).toHaveLength(1);
    expect(await count()).toBe(4); // two rolling out, two new: each holds a place
    // One place is left for six issues at once (one of them with the label the new key took).
    const issues = await codesOf(
      await Promise.all([
        ...Array.from({ length: 5 }, (_, i) => call(token, 'POST', '/v1/customer-keys/issue', { label: `extra-${i}`, application: 'a' })),
        call(token, 'POST', '/v1/customer-keys/issue', { label: 'one', application: 'a' }),
      ]),
    );
    expect(issues.filter((c) => c === 201)).toHaveLength(1);
    expect(issues.slice(0, 5).filter((c) => c !== 201)).toEqual(Array(4).fill('key_limit_reached'));
    expect(['key_limit_reached', 'label_taken']).toContain(issues[5]);
    const keys = await services.useCases.keys.list(customer.slug);
    expect(keys.filter((k) => k.status === 'active')).toHaveLength(5);
    expect(await count()).toBe(5);
    const newOne = keys.find((k) => k.rolledFrom === keyId)!;
    expect(newOne.label).toBe('one');
    // While the old key rolls out its successor cannot be rolled; revoking the old key frees its place.
    expect((await problemOf(await roll(token, newOne.id, 1))).code).toBe('key_rolling_out');
    await services.useCases.keys.revoke(customer.slug, keyId, op());
    expect(await count()).toBe(4);
    const again = await roll(token, keyId, 1);
    expect(again.status).toBe(409);
    expect((await problemOf(again)).code).toBe('conflict');
    expect(await codesOf([await roll(token, newOne.id, 1)])).toEqual([201]);
    expect(await count()).toBe(5);
  });

  it('replaces at once with no overlap: the old key is revoked (reason rolled) and refused at once', async () => {
    const { customer, key, keyId } = await customerWithKey(services);
    const token = await admin(customer.slug);
    expect(await codeOf(await whoami(key))).toBe('ok');
    const response = await roll(token, keyId, 0);
    expect(response.status).toBe(201);
    const rolled = (await response.json()) as { key: string; old: { status: string; revokedReason: string | null } };
    trackSecret(rolled.key);
    expect(rolled.old).toMatchObject({ status: 'revoked', revokedReason: 'rolled' });
    expect(await codeOf(await whoami(key))).toBe('api_key_invalid');
    expect(await codeOf(await whoami(rolled.key))).toBe('ok');
    expect((await services.useCases.customers.get(customer.slug))!.activeKeyCount).toBe(1);
    for (const bad of [-1, 169, 1.5]) {
      const refused = await roll(token, keyId, bad);
      expect(refused.status).toBe(400);
    }
  });

  it('resets a customer with a key rolling out: every old key stops, one new key per label, the count right', async () => {
    const { customer, key, keyId } = await customerWithKey(services, { label: 'web' });
    const token = await admin(customer.slug);
    const rolled = (await (await roll(token, keyId, 24)).json()) as { key: string };
    trackSecret(rolled.key);
    const reset = await call(token, 'POST', '/v1/customer-keys/reset');
    expect(reset.status).toBe(200);
    const result = (await reset.json()) as { keys: Array<{ key: string; metadata: { label: string } }> };
    for (const k of result.keys) trackSecret(k.key);
    expect(result.keys.map((k) => k.metadata.label)).toEqual(['web']);
    expect(await codeOf(await whoami(key))).toBe('api_key_invalid');
    expect(await codeOf(await whoami(rolled.key))).toBe('api_key_invalid');
    expect(await codeOf(await whoami(result.keys[0]!.key))).toBe('ok');
    const active = (await services.useCases.keys.list(customer.slug)).filter((k) => k.status === 'active');
    expect(active.map((k) => k.label)).toEqual(['web']);
    expect((await services.useCases.customers.get(customer.slug))!.activeKeyCount).toBe(1);
  });

  it('lets the request flow roll a key at once, and keeps a management key from rolling a management key', async () => {
    const { customer, keyId } = await customerWithKey(services);
    const token = await admin(customer.slug);
    const submitted = await call(token, 'POST', '/v1/customer-keys/requests/roll-key', { keyId, overlapHours: 2 });
    expect(submitted.status).toBe(201);
    const outcome = (await submitted.json()) as { request: { status: string }; key: string; metadata: { rolledFrom: string } };
    trackSecret(outcome.key);
    expect(outcome.request.status).toBe('executed');
    expect(outcome.metadata.rolledFrom).toBe(keyId);

    const management = await services.useCases.keys.issue(customer.slug, { label: 'ops', application: 'ops', type: 'management' }, op());
    trackSecret(management.key);
    const byKey = await app.fetch(`/v1/customer-keys/${management.metadata.id}/roll`, {
      method: 'POST',
      headers: { 'x-api-key': management.key, 'content-type': 'application/json' },
      body: JSON.stringify({ overlapHours: 1 }),
    });
    expect(byKey.status).toBe(403);
    expect((await problemOf(byKey)).code).toBe('forbidden');
  });

  it('expires a key at its expiry without the timer, on a cached identity, and takes a new expiry or none', async () => {
    const { customer, key } = await customerWithKey(services);
    const token = await admin(customer.slug);
    await services.revocations.poll();
    // Within the auth cache's five minutes, so the expiry is decided on the cached identity.
    const at = new Date(clock.millis() + 120_000).toISOString();
    const issued = await call(token, 'POST', '/v1/customer-keys/issue', { label: 'short-lived', application: 'ci', expiresAt: at });
    expect(issued.status).toBe(201);
    const { key: short, metadata } = (await issued.json()) as { key: string; metadata: { id: string; expiresAt: string } };
    trackSecret(short);
    expect(metadata.expiresAt).toBe(at);
    expect(await codeOf(await whoami(short))).toBe('ok');
    clock.moveTo(at, -1000);
    await services.revocations.poll(); // a healthy instance has read its feed in the last second
    expect(await codeOf(await whoami(short))).toBe('ok');
    clock.moveTo(at);
    const before = services.storage.operations.snapshot();
    expect(await codeOf(await whoami(short))).toBe('api_key_expired');
    expect(services.storage.operations.snapshot().total - before.total).toBe(0);
    await services.revocations.poll();
    // Past its expiry a key stays expired: its expiry can no longer be moved or cleared.
    const revive = await call(token, 'PATCH', `/v1/customer-keys/${metadata.id}`, { expiresAt: null });
    expect(revive.status).toBe(409);

    // Cleared before it passes: the key works after the old expiry, on this instance's cache too.
    const later = new Date(clock.millis() + 120_000).toISOString();
    const other = await services.useCases.keys.issue(customer.slug, { label: 'second', application: 'ci', expiresAt: later }, op());
    trackSecret(other.key);
    expect(await codeOf(await whoami(other.key))).toBe('ok');
    const cleared = await call(token, 'PATCH', `/v1/customer-keys/${other.metadata.id}`, { expiresAt: null });
    expect(cleared.status).toBe(200);
    expect(((await cleared.json()) as { expiresAt: string | null }).expiresAt).toBeNull();
    clock.moveTo(later, 60_000);
    await services.revocations.poll();
    expect(await codeOf(await whoami(other.key))).toBe('ok');

    for (const [expiresAt, message] of [
      [new Date(clock.millis() - 1000).toISOString(), /in the future/],
      [new Date(clock.millis() + 400 * 86_400_000).toISOString(), /at most one year ahead/],
      ['tomorrow', /expiresAt/],
    ] as const) {
      const refused = await call(token, 'PATCH', `/v1/customer-keys/${other.metadata.id}`, { expiresAt });
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { detail: string }).detail).toMatch(message);
    }
    expect((await call(token, 'PATCH', `/v1/customer-keys/${other.metadata.id}`, {})).status).toBe(400);
    await services.useCases.keys.revoke(customer.slug, other.metadata.id, op());
    const onRevoked = await call(token, 'PATCH', `/v1/customer-keys/${other.metadata.id}`, { allowedIps: [] });
    expect(onRevoked.status).toBe(409);
    expect(await codeOf(await whoami(key))).toBe('ok');
  });

  it('refuses a request from outside the allowlist with 403 ip_not_allowed, counted in usage; a spoofed X-Forwarded-For changes nothing', async () => {
    const { customer, key, keyId } = await customerWithKey(services);
    const token = await admin(customer.slug);
    const set = await call(token, 'PATCH', `/v1/customer-keys/${keyId}`, { allowedIps: ['203.0.113.0/24', '2001:db8::/32'] });
    expect(set.status).toBe(200);
    expect(((await set.json()) as { allowedIps: string[] }).allowedIps).toEqual(['203.0.113.0/24', '2001:db8::/32']);
    const outside = await whoami(key);
    expect(outside.status).toBe(403);
    expect(await problemOf(outside)).toMatchObject({ code: 'ip_not_allowed' });
    expect(outside.headers.get('www-authenticate')).toBeNull();
    // The client's own X-Forwarded-For comes before the address the host appends: never read.
    expect((await whoami(key, { 'x-forwarded-for': '203.0.113.9' })).status).toBe(403);
    // Loopback on the list (the socket may say ::ffff:127.0.0.1: the same address).
    expect((await call(token, 'PATCH', `/v1/customer-keys/${keyId}`, { allowedIps: ['127.0.0.1', '::1'] })).status).toBe(200);
    expect(await codeOf(await whoami(key))).toBe('ok');
    const bad = await call(token, 'PATCH', `/v1/customer-keys/${keyId}`, { allowedIps: ['10.0.0.0/8', '10.0.0.1/33'] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toContain('"10.0.0.1/33"');
    // Cleared: any address again.
    expect((await call(token, 'PATCH', `/v1/customer-keys/${keyId}`, { allowedIps: [] })).status).toBe(200);
    await services.usageRecorder.flush();
    const usage = (await (await call(token, 'GET', `/v1/customer-keys/${keyId}/usage?granularity=hour`)).json()) as {
      totals: { accepted: number; ipRefused: number };
    };
    expect(usage.totals.ipRefused).toBe(2);
    expect(usage.totals.accepted).toBeGreaterThanOrEqual(1);
  });

  it('takes the client address the configured number of proxies from the end of X-Forwarded-For', async () => {
    const proxied = testServices({ TRUSTED_PROXY_HOPS: '2', TABLES_PREFIX: services.useCases.config.tables.prefix });
    const proxiedApp = await serveApp(proxied, { timers: false });
    try {
      // The secret alone: this second instance holds no master components to check a whole key's.
      const { secret, keyId, customer } = await customerWithKey(services);
      await services.useCases.keys.updateAccess(customer.slug, keyId, { allowedIps: ['198.51.100.7'] }, op());
      const via = (forwarded?: string) =>
        proxiedApp.fetch('/v1/whoami', { headers: { 'x-api-key': secret, ...(forwarded ? { 'x-forwarded-for': forwarded } : {}) } });
      // A trusted proxy appended 198.51.100.7, then the host appended the socket's address.
      expect((await via('198.51.100.7')).status).toBe(200);
      expect((await via('198.51.100.7, 203.0.113.5')).status).toBe(403); // the client wrote the first entry
      expect((await via()).status).toBe(403); // fewer entries than hops: no address, not allowed
    } finally {
      await proxiedApp.close();
      await proxied.dispose();
    }
  });

  it('marks keys older than 90 days as due for rotation, and the daily review records it for the customer and staff', async () => {
    const { customer, keyId } = await customerWithKey(services);
    clock.forward(91 * 86_400_000);
    await services.revocations.poll();
    const fresh = await services.useCases.keys.issue(customer.slug, { label: 'fresh', application: 'a' }, op());
    trackSecret(fresh.key);
    const token = await admin(customer.slug);
    const listing = (await (await call(token, 'GET', '/v1/customer-keys')).json()) as { keys: Array<{ id: string; rotationDue: boolean }> };
    expect(listing.keys.map((k) => [k.id, k.rotationDue])).toEqual([
      [keyId, true],
      [fresh.metadata.id, false],
    ]);
    await services.useCases.staleKeys.run();
    const events = (await services.useCases.audit.list(customer.slug, { limit: 50 })).items.filter((e) => e.type === 'keys.rotation-due');
    expect(events).toEqual([expect.objectContaining({ details: { keys: [expect.objectContaining({ id: keyId })] } })]);
    const staff = await portalToken(services, { roles: ['Staff'] });
    const seen = (await (await call(staff, 'GET', `/v1/staff/customers/${customer.slug}`)).json()) as {
      keyReview: { rotationDue: number; stale: number } | null;
    };
    expect(seen.keyReview).toMatchObject({ rotationDue: 1 });
    // Rolling it clears the reminder.
    const rolled = await roll(token, keyId, 1);
    trackSecret(((await rolled.json()) as { key: string }).key);
    const after = (await (await call(token, 'GET', '/v1/customer-keys')).json()) as { keys: Array<{ id: string; rotationDue: boolean }> };
    expect(after.keys.find((k) => k.id === keyId)!.rotationDue).toBe(false);
  });
});
