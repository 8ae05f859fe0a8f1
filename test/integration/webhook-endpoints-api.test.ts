import { randomBytes } from 'node:crypto';
import type { ServiceContext } from '../../app/context';
import { createServices } from '../../app/compose';
import { MemorySecretStore } from '../../shared/adapters/memory/memory-secret-store';
import { TableWebhookEndpointRepository } from '../../shared/adapters/table/table-webhook-endpoint-repository';
import { ManualClock } from '../../shared/clock';
import { WEBHOOK_EVENT_TYPES } from '../../shared/domain';
import { MAX_JSON_BODY_BYTES } from '../../shared/http/body';
import { WEBHOOK_SECRET_PATTERN } from '../../shared/webhooks/secrets';
import { caller, serveApp, type AnswerBody } from '../support/http';
import { portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { testConfig, testServices } from '../support/services';

type App = Awaited<ReturnType<typeof serveApp>>;
type Body = AnswerBody;

const DAY_MS = 86_400_000;

/** An endpoint as a customer's admin would add it. */
const endpointBody = (overrides: Body = {}): Body => ({
  url: 'https://hooks.acme.example/veriproof?token=abc',
  events: ['key.revoked', 'key.exposed'],
  description: 'PagerDuty bridge',
  ...overrides,
});

/** One host over HTTP against Azurite: its app, a request helper, staff-made customers and their admins' tokens. */
async function host(services: ServiceContext) {
  const app: App = await serveApp(services, { timers: false });
  const staffToken = await portalToken(services, { roles: ['Staff'], sub: 'staff-1', name: 'Sam Staff' });
  const call = caller(app);

  /** A customer created by staff over HTTP, and a CustomerAdmin token for it. */
  async function newCustomer(plan = 'pro') {
    const slug = `we${randomBytes(4).toString('hex')}`;
    const created = await call('POST', '/v1/staff/customers', { token: staffToken, body: { slug, name: `Customer ${slug}`, plan } });
    expect(created.status).toBe(201);
    const token = await portalToken(services, { customer: slug, roles: ['CustomerAdmin'], sub: `admin-${slug}`, name: 'Ada Admin' });
    return { slug, token };
  }

  return { app, call, newCustomer, staffToken };
}

/** Every row of a customer's partition, as JSON text: what Table Storage holds of it. */
async function storedRows(services: ServiceContext, slug: string): Promise<string> {
  const rows: unknown[] = [];
  for await (const row of services.storage.clients.customers.listEntities({ queryOptions: { filter: `PartitionKey eq '${slug}'` } }))
    rows.push(row);
  return JSON.stringify(rows);
}

describe('webhook endpoints API, against Azurite', () => {
  let services: ServiceContext;
  let clock: ManualClock;
  let h: Awaited<ReturnType<typeof host>>;

  beforeAll(async () => {
    clock = new ManualClock(new Date());
    // pro's cap lowered from 10 through PLANS, so the race below runs into it.
    services = testServices({ PLANS: '{"pro":{"webhookEndpointLimit":4}}' }, { clock });
    h = await host(services);
  });
  afterAll(async () => {
    await h.app.close();
    await services.dispose();
  });

  const create = async (token: string, body: Body) => {
    const response = await h.call('POST', '/v1/webhook-endpoints', { token, body });
    if (typeof response.body?.secret === 'string') trackSecret(response.body.secret);
    return response;
  };
  const endpointOf = (slug: string, id: string) => services.useCases.webhookEndpoints.get(slug, id);

  describe('happy path', () => {
    it('creates an endpoint with a secret shown once, lists, reads, changes and deletes it, and audits each change', async () => {
      const { slug, token } = await h.newCustomer();
      const empty = await h.call('GET', '/v1/webhook-endpoints', { token });
      expect(empty.body).toEqual({
        customer: slug,
        sandbox: false,
        webhookEndpointCount: 0,
        webhookEndpointLimit: 4,
        webhookEndpoints: [],
      });

      const createdAt = clock.now().toISOString();
      const created = await create(token, endpointBody({ events: ['key.exposed', 'key.revoked'], description: '  PagerDuty bridge ' }));
      expect(created.status).toBe(201);
      const { secret, ...shown } = created.body!;
      expect(secret).toMatch(WEBHOOK_SECRET_PATTERN);
      expect(Buffer.from((secret as string).slice('whsec_'.length), 'base64')).toHaveLength(32);
      const actor = { type: 'user', id: `admin-${slug}`, name: 'Ada Admin' };
      const endpoint = {
        id: shown.id as string,
        url: 'https://hooks.acme.example/veriproof?token=abc',
        // In the catalogue's order, whatever order they were sent in.
        events: ['key.revoked', 'key.exposed'],
        description: 'PagerDuty bridge',
        status: 'active',
        disabledAt: null,
        disabledReason: null,
        failingSince: null,
        lastSuccessAt: null,
        previousSecretExpiresAt: null,
        createdAt,
        createdBy: actor,
        updatedAt: createdAt,
      };
      expect(endpoint.id).toMatch(/^we_[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(shown).toEqual(endpoint);

      // Never shown again, and stored only sealed; it opens to sign.
      const listed = await h.call('GET', '/v1/webhook-endpoints', { token });
      expect(listed.body).toEqual({
        customer: slug,
        sandbox: false,
        webhookEndpointCount: 1,
        webhookEndpointLimit: 4,
        webhookEndpoints: [endpoint],
      });
      expect((await h.call('GET', `/v1/webhook-endpoints/${endpoint.id}`, { token })).body).toEqual(endpoint);
      const stored = await storedRows(services, slug);
      expect(stored).toContain(endpoint.id);
      expect(stored).not.toContain((secret as string).slice('whsec_'.length, 30));
      expect(await services.useCases.webhookEndpoints.signingSecrets(await endpointOf(slug, endpoint.id))).toEqual([secret]);

      clock.advance(60_000);
      const patched = await h.call('PATCH', `/v1/webhook-endpoints/${endpoint.id}`, {
        token,
        body: { url: 'https://hooks.acme.example/v2', events: ['*'], description: null },
      });
      const changed = {
        ...endpoint,
        url: 'https://hooks.acme.example/v2',
        events: ['*'],
        description: null,
        updatedAt: clock.now().toISOString(),
      };
      expect(patched.status).toBe(200);
      expect(patched.body).toEqual(changed);
      expect((await h.call('GET', `/v1/webhook-endpoints/${endpoint.id}`, { token })).body).toEqual(changed);
      // The same values again change nothing (and audit nothing).
      const same = await h.call('PATCH', `/v1/webhook-endpoints/${endpoint.id}`, { token, body: { events: ['*'], enabled: true } });
      expect(same.body).toEqual(changed);

      clock.advance(60_000);
      const deleted = await h.call('DELETE', `/v1/webhook-endpoints/${endpoint.id}`, { token });
      expect(deleted.status).toBe(204);
      expect(deleted.text).toBe('');
      expect((await h.call('GET', `/v1/webhook-endpoints/${endpoint.id}`, { token })).body).toMatchObject({
        status: 404,
        code: 'not_found',
      });
      expect((await h.call('PATCH', `/v1/webhook-endpoints/${endpoint.id}`, { token, body: { enabled: true } })).status).toBe(404);
      expect((await h.call('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { token })).status).toBe(404);
      expect((await h.call('GET', '/v1/webhook-endpoints', { token })).body).toMatchObject({
        webhookEndpointCount: 0,
        webhookEndpoints: [],
      });
      // Idempotent, like a key's revocation.
      expect((await h.call('DELETE', `/v1/webhook-endpoints/${endpoint.id}`, { token })).status).toBe(204);

      const events = (await h.call('GET', '/v1/customer-keys/audit', { token })).body!.events as Body[];
      expect(events.map((e) => e.type)).toEqual(['webhook_endpoint.deleted', 'webhook_endpoint.updated', 'webhook_endpoint.created']);
      // The URL without its query (it may carry the receiver's token); never a secret.
      expect(events[2]).toMatchObject({
        actor,
        keyId: null,
        requestId: created.headers.get('x-request-id'),
        details: {
          webhookEndpointId: endpoint.id,
          url: 'https://hooks.acme.example/veriproof',
          events: ['key.revoked', 'key.exposed'],
          description: 'PagerDuty bridge',
          status: 'active',
        },
      });
      expect(events[1]).toMatchObject({
        requestId: patched.headers.get('x-request-id'),
        details: {
          webhookEndpointId: endpoint.id,
          before: { url: 'https://hooks.acme.example/veriproof', events: ['key.revoked', 'key.exposed'], description: 'PagerDuty bridge' },
          after: { url: 'https://hooks.acme.example/v2', events: ['*'], description: null },
        },
      });
      expect(events[0]).toMatchObject({
        requestId: deleted.headers.get('x-request-id'),
        details: { webhookEndpointId: endpoint.id, url: 'https://hooks.acme.example/v2' },
      });
      expect(JSON.stringify(events)).not.toContain('token=abc');
      expect(JSON.stringify(events)).not.toContain(secret);
    });

    it('rotates the secret: the new one is shown once, the old one keeps signing for 24 hours, then stops', async () => {
      const { slug, token } = await h.newCustomer();
      const created = await create(token, endpointBody());
      const id = created.body!.id as string;
      const first = created.body!.secret as string;

      clock.advance(60_000);
      const rotated = await h.call('POST', `/v1/webhook-endpoints/${id}/rotate-secret`, { token });
      expect(rotated.status).toBe(200);
      const second = trackSecret(rotated.body!.secret as string);
      expect(second).toMatch(WEBHOOK_SECRET_PATTERN);
      expect(second).not.toBe(first);
      const overlapEnds = new Date(clock.millis() + DAY_MS).toISOString();
      expect(rotated.body).toEqual({
        ...created.body,
        secret: second,
        previousSecretExpiresAt: overlapEnds,
        updatedAt: clock.now().toISOString(),
      });
      expect((await h.call('GET', `/v1/webhook-endpoints/${id}`, { token })).body!.previousSecretExpiresAt).toBe(overlapEnds);
      expect(await services.useCases.webhookEndpoints.signingSecrets(await endpointOf(slug, id))).toEqual([second, first]);

      clock.advance(DAY_MS - 1);
      expect(await services.useCases.webhookEndpoints.signingSecrets(await endpointOf(slug, id))).toEqual([second, first]);
      clock.advance(1);
      expect(await services.useCases.webhookEndpoints.signingSecrets(await endpointOf(slug, id))).toEqual([second]);
      expect((await h.call('GET', `/v1/webhook-endpoints/${id}`, { token })).body!.previousSecretExpiresAt).toBeNull();

      // A second rotation inside an overlap ends the first one's: two secrets sign at most.
      const third = trackSecret((await h.call('POST', `/v1/webhook-endpoints/${id}/rotate-secret`, { token })).body!.secret as string);
      const fourth = trackSecret((await h.call('POST', `/v1/webhook-endpoints/${id}/rotate-secret`, { token })).body!.secret as string);
      expect(await services.useCases.webhookEndpoints.signingSecrets(await endpointOf(slug, id))).toEqual([fourth, third]);

      const events = (await h.call('GET', '/v1/customer-keys/audit', { token })).body!.events as Body[];
      expect(events.map((e) => e.type)).toEqual([
        'webhook_endpoint.secret_rotated',
        'webhook_endpoint.secret_rotated',
        'webhook_endpoint.secret_rotated',
        'webhook_endpoint.created',
      ]);
      expect(events[2]).toMatchObject({
        requestId: rotated.headers.get('x-request-id'),
        details: { webhookEndpointId: id, previousSecretExpiresAt: overlapEnds },
      });
      for (const s of [first, second, third, fourth]) expect(JSON.stringify(events)).not.toContain(s.slice(6));
    });

    it('disables and re-enables an endpoint; one the delivery side disabled for failing comes back with its failures forgotten', async () => {
      const { slug, token } = await h.newCustomer();
      const created = await create(token, endpointBody());
      const id = created.body!.id as string;

      clock.advance(1000);
      const off = await h.call('PATCH', `/v1/webhook-endpoints/${id}`, { token, body: { enabled: false } });
      expect(off.body).toMatchObject({ status: 'disabled', disabledAt: clock.now().toISOString(), disabledReason: 'customer' });
      // Still listed, still holding its place.
      expect((await h.call('GET', '/v1/webhook-endpoints', { token })).body!.webhookEndpoints).toHaveLength(1);
      clock.advance(1000);
      const on = await h.call('PATCH', `/v1/webhook-endpoints/${id}`, { token, body: { enabled: true } });
      expect(on.body).toMatchObject({ status: 'active', disabledAt: null, disabledReason: null });

      // The delivery side: a failed delivery recorded (through the port, as its worker does), then,
      // three days on, the endpoint disabled through the service.
      const failedAt = clock.now().toISOString();
      const port = new TableWebhookEndpointRepository(services.storage);
      expect((await port.recordOutcome(slug, id, { success: false, at: failedAt }))?.failingSince).toBe(failedAt);
      clock.advance(3 * DAY_MS);
      const endpoints = services.useCases.webhookEndpoints;
      expect(await endpoints.disable(slug, id, { when: (current) => current.failingSince === undefined })).toBeUndefined();
      const disabled = await endpoints.disable(slug, id, {
        when: (current) => current.failingSince !== undefined && clock.millis() - Date.parse(current.failingSince) >= 3 * DAY_MS,
      });
      expect(disabled).toMatchObject({ status: 'disabled', disabledReason: 'failing', failingSince: failedAt });
      expect((await h.call('GET', `/v1/webhook-endpoints/${id}`, { token })).body).toMatchObject({
        status: 'disabled',
        disabledReason: 'failing',
        disabledAt: clock.now().toISOString(),
        failingSince: failedAt,
      });
      // Disabling again changes nothing.
      expect(await endpoints.disable(slug, id)).toBeUndefined();

      clock.advance(1000);
      const back = await h.call('PATCH', `/v1/webhook-endpoints/${id}`, { token, body: { enabled: true } });
      expect(back.body).toMatchObject({ status: 'active', disabledAt: null, disabledReason: null, failingSince: null });

      const events = (await h.call('GET', '/v1/customer-keys/audit', { token })).body!.events as Body[];
      expect(events.map((e) => e.type)).toEqual([
        'webhook_endpoint.updated',
        'webhook_endpoint.disabled',
        'webhook_endpoint.updated',
        'webhook_endpoint.updated',
        'webhook_endpoint.created',
      ]);
      expect(events[1]).toMatchObject({
        actor: { type: 'system', id: 'webhook-delivery' },
        details: { webhookEndpointId: id, reason: 'failing', failingSince: failedAt, url: 'https://hooks.acme.example/veriproof' },
      });
      expect(events[0]!.details).toMatchObject({ before: { status: 'disabled' }, after: { status: 'active' } });
    });

    it('lets a management key manage endpoints, recorded by its label', async () => {
      const { token } = await h.newCustomer();
      const issued = await h.call('POST', '/v1/customer-keys/issue', {
        token,
        body: { label: 'automation', application: 'ops', type: 'management' },
      });
      const key = trackSecret(issued.body!.key as string);
      const created = await h.call('POST', '/v1/webhook-endpoints', { key, body: endpointBody() });
      trackSecret(created.body!.secret as string);
      expect(created.status).toBe(201);
      expect(created.body!.createdBy).toEqual({ type: 'key', id: issued.body!.metadata.id, name: 'automation' });
      const id = created.body!.id as string;
      expect((await h.call('GET', '/v1/webhook-endpoints', { key })).body!.webhookEndpoints).toHaveLength(1);
      expect((await h.call('PATCH', `/v1/webhook-endpoints/${id}`, { key, body: { events: ['key.issued'] } })).body).toMatchObject({
        events: ['key.issued'],
      });
      const rotated = await h.call('POST', `/v1/webhook-endpoints/${id}/rotate-secret`, { key });
      trackSecret(rotated.body!.secret as string);
      expect(rotated.status).toBe(200);
      expect((await h.call('DELETE', `/v1/webhook-endpoints/${id}`, { key })).status).toBe(204);
    });
  });

  describe('rules', () => {
    it("caps the endpoints by the customer's plan, a disabled one included", async () => {
      const { slug, token } = await h.newCustomer('starter');
      const a = await create(token, endpointBody());
      expect(a.status).toBe(201);
      const b = await create(token, endpointBody());
      expect(b.status).toBe(201);
      await h.call('PATCH', `/v1/webhook-endpoints/${a.body!.id}`, { token, body: { enabled: false } });
      const third = await create(token, endpointBody());
      expect(third.status).toBe(409);
      expect(third.body).toMatchObject({ code: 'webhook_endpoint_limit_reached', webhookEndpointLimit: 2 });
      expect((await h.call('GET', '/v1/webhook-endpoints', { token })).body).toMatchObject({
        webhookEndpointCount: 2,
        webhookEndpointLimit: 2,
      });

      await h.call('DELETE', `/v1/webhook-endpoints/${b.body!.id}`, { token });
      expect((await create(token, endpointBody())).status).toBe(201);
      // A plan with more room (enterprise: 50) takes more at once.
      await h.call('PATCH', `/v1/staff/customers/${slug}`, { token: h.staffToken, body: { plan: 'enterprise' } });
      expect((await create(token, endpointBody())).status).toBe(201);
      expect((await h.call('GET', '/v1/webhook-endpoints', { token })).body).toMatchObject({
        webhookEndpointCount: 3,
        webhookEndpointLimit: 50,
      });
    });

    it('holds the cap under 20 parallel creates: exactly 4 endpoints on a cap of 4', async () => {
      const { token } = await h.newCustomer('pro');
      const results = await Promise.all(Array.from({ length: 20 }, () => create(token, endpointBody())));
      expect(results.filter((r) => r.status === 201)).toHaveLength(4);
      expect(results.filter((r) => r.status === 409 && r.body!.code === 'webhook_endpoint_limit_reached')).toHaveLength(16);
      expect((await h.call('GET', '/v1/webhook-endpoints', { token })).body!.webhookEndpoints).toHaveLength(4);
    });

    it('takes every event type of the catalogue, and `*` alone', async () => {
      const { token } = await h.newCustomer('enterprise');
      for (const type of WEBHOOK_EVENT_TYPES) {
        const response = await create(token, endpointBody({ events: [type] }));
        expect({ type, status: response.status, events: response.body!.events }).toEqual({ type, status: 201, events: [type] });
      }
      const all = await create(token, endpointBody({ events: [...WEBHOOK_EVENT_TYPES].reverse() }));
      expect(all.body!.events).toEqual([...WEBHOOK_EVENT_TYPES]);
      expect((await create(token, endpointBody({ events: ['*'] }))).body!.events).toEqual(['*']);
    });
  });

  describe('error path: bad input', () => {
    const invalid: Array<[string, Body, string]> = [
      ['an unknown event type', endpointBody({ events: ['key.revoked', 'key.deleted'] }), 'events.1'],
      ['an audit type that is not a webhook event', endpointBody({ events: ['keys.stale'] }), 'events.0'],
      ['`*` beside a type', endpointBody({ events: ['*', 'key.revoked'] }), 'events'],
      ['a type twice', endpointBody({ events: ['key.revoked', 'key.revoked'] }), 'events'],
      ['no event type', endpointBody({ events: [] }), 'events'],
      ['no events at all', endpointBody({ events: undefined }), 'events'],
      ['events as text', endpointBody({ events: 'key.revoked' }), 'events'],
      ['no url', endpointBody({ url: undefined }), 'url'],
      ['an http URL on a host that is not this machine', endpointBody({ url: 'http://hooks.acme.example/x' }), 'url'],
      ['a URL with a fragment', endpointBody({ url: 'https://hooks.acme.example/x#frag' }), 'url'],
      ['a URL with credentials', endpointBody({ url: 'https://me:pw@hooks.acme.example/x' }), 'url'],
      ['a URL that is not one', endpointBody({ url: 'hooks.acme.example/x' }), 'url'],
      ['a URL of another scheme', endpointBody({ url: 'ftp://hooks.acme.example/x' }), 'url'],
      ['a URL with a space', endpointBody({ url: 'https://hooks.acme.example/a b' }), 'url'],
      ['a URL over 2048 characters', endpointBody({ url: `https://hooks.acme.example/${'x'.repeat(2030)}` }), 'url'],
      ['a description over 256 characters', endpointBody({ description: 'x'.repeat(257) }), 'description'],
      ['a description with an invisible character', endpointBody({ description: 'Pager\u200BDuty' }), 'description'],
    ];

    it.each(invalid)('refuses %s with 400 validation_failed naming the field', async (_name, body, path) => {
      const { token } = await h.newCustomer();
      const response = await create(token, body);
      expect({ status: response.status, code: response.body!.code }).toEqual({ status: 400, code: 'validation_failed' });
      expect((response.body!.errors as Array<{ path: string }>).map((e) => e.path)).toContain(path);
      expect((await h.call('GET', '/v1/webhook-endpoints', { token })).body!.webhookEndpoints).toEqual([]);
    });

    it('refuses a patch that names nothing or breaks a rule, changing nothing', async () => {
      const { token } = await h.newCustomer();
      const created = await create(token, endpointBody());
      const { secret: _secret, ...shown } = created.body!;
      for (const body of [
        {},
        { events: [] },
        { events: ['nope'] },
        { url: 'http://hooks.acme.example' },
        { enabled: 'yes' },
        { description: '' },
        { id: 'we_x' },
      ]) {
        const response = await h.call('PATCH', `/v1/webhook-endpoints/${created.body!.id}`, { token, body });
        expect({ body, status: response.status, code: response.body!.code }).toEqual({ body, status: 400, code: 'validation_failed' });
      }
      expect((await h.call('GET', `/v1/webhook-endpoints/${created.body!.id}`, { token })).body).toEqual(shown);
    });

    it('refuses a body over the JSON bound with 413 payload_too_large', async () => {
      const { token } = await h.newCustomer();
      const response = await create(token, endpointBody({ description: 'x'.repeat(MAX_JSON_BODY_BYTES) }));
      expect({ status: response.status, code: response.body!.code }).toEqual({ status: 413, code: 'payload_too_large' });
      expect((await h.call('GET', '/v1/webhook-endpoints', { token })).body!.webhookEndpoints).toEqual([]);
    });

    it('takes an http URL on a loopback host in local mode (a developer’s or a test’s receiver)', async () => {
      const { token } = await h.newCustomer();
      for (const url of ['http://127.0.0.1:8443/hooks', 'http://localhost:8443', 'http://[::1]:8443/x']) {
        const response = await create(token, endpointBody({ url }));
        expect({ url, status: response.status }).toEqual({ url, status: 201 });
      }
    });
  });

  describe('security path', () => {
    it("answers another customer's endpoint, and an unknown one, with 404 and leaves it alone", async () => {
      const owner = await h.newCustomer();
      const other = await h.newCustomer();
      const created = await create(owner.token, endpointBody());
      const { secret: _secret, ...shown } = created.body!;
      const path = `/v1/webhook-endpoints/${created.body!.id}`;
      for (const [method, suffix, body] of [
        ['GET', ''],
        ['PATCH', '', { url: 'https://mallory.example/steal' }],
        ['DELETE', ''],
        ['POST', '/rotate-secret'],
      ] as Array<[string, string, Body?]>) {
        const response = await h.call(method, `${path}${suffix}`, { token: other.token, ...(body ? { body } : {}) });
        expect({ method, suffix, status: response.status, code: response.body?.code }).toEqual({
          method,
          suffix,
          status: 404,
          code: 'not_found',
        });
        expect(response.body?.secret).toBeUndefined();
      }
      expect((await h.call('GET', '/v1/webhook-endpoints', { token: other.token })).body!.webhookEndpoints).toEqual([]);
      expect((await h.call('GET', path, { token: owner.token })).body).toEqual(shown);
      for (const id of ['we_01JQ8Z5M3T4V6W7X8Y9Z0A1B2C', 'tp_01JQ8Z5M3T4V6W7X8Y9Z0A1B2C', 'nope']) {
        expect((await h.call('GET', `/v1/webhook-endpoints/${id}`, { token: owner.token })).status).toBe(404);
        expect((await h.call('DELETE', `/v1/webhook-endpoints/${id}`, { token: owner.token })).status).toBe(404);
        expect((await h.call('POST', `/v1/webhook-endpoints/${id}/rotate-secret`, { token: owner.token })).status).toBe(404);
      }
    });

    it('refuses an ingest key on every route (403 forbidden), a missing token (401) and a token without CustomerAdmin (403)', async () => {
      const { token } = await h.newCustomer();
      const created = await create(token, endpointBody());
      const { secret: _secret, ...shown } = created.body!;
      const ingest = await h.call('POST', '/v1/customer-keys/issue', { token, body: { label: 'ingest', application: 'checkout' } });
      const ingestKey = trackSecret(ingest.body!.key as string);
      const id = created.body!.id as string;
      const routes: Array<[string, string, Body?]> = [
        ['GET', '/v1/webhook-endpoints'],
        ['POST', '/v1/webhook-endpoints', endpointBody({ url: 'https://mallory.example/planted' })],
        ['GET', `/v1/webhook-endpoints/${id}`],
        ['PATCH', `/v1/webhook-endpoints/${id}`, { url: 'https://mallory.example/steal' }],
        ['DELETE', `/v1/webhook-endpoints/${id}`],
        ['POST', `/v1/webhook-endpoints/${id}/rotate-secret`],
      ];
      for (const [method, path, body] of routes) {
        const asKey = await h.call(method, path, { key: ingestKey, ...(body ? { body } : {}) });
        expect({ method, path, status: asKey.status, code: asKey.body!.code }).toEqual({ method, path, status: 403, code: 'forbidden' });
        const anonymous = await h.call(method, path, body ? { body } : {});
        expect({ method, path, status: anonymous.status, code: anonymous.body!.code }).toEqual({
          method,
          path,
          status: 401,
          code: 'unauthenticated',
        });
        const staff = await h.call(method, path, { token: h.staffToken, ...(body ? { body } : {}) });
        expect({ method, path, status: staff.status, code: staff.body!.code }).toEqual({ method, path, status: 403, code: 'forbidden' });
      }
      expect((await h.call('GET', '/v1/webhook-endpoints', { token })).body!.webhookEndpoints).toEqual([shown]);
    });

    it('reads the shared sandbox read-only with X-Veriproof-Sandbox: true', async () => {
      const { token } = await h.newCustomer();
      const headers = { 'x-veriproof-sandbox': 'true' };
      expect((await h.call('GET', '/v1/webhook-endpoints', { token, headers })).body).toMatchObject({ customer: 'sandbox', sandbox: true });
      const write = await h.call('POST', '/v1/webhook-endpoints', { token, headers, body: endpointBody() });
      expect({ status: write.status, code: write.body!.code }).toEqual({ status: 403, code: 'sandbox_read_only' });
    });
  });
});

describe('webhook endpoints outside local mode', () => {
  let services: ServiceContext;
  let h: Awaited<ReturnType<typeof host>>;

  beforeAll(async () => {
    // The production rule for URLs (what `runtime` decides); storage and portal tokens stay the test ones.
    services = createServices({ ...testConfig(), runtime: 'production' }, { secrets: new MemorySecretStore(), background: false });
    h = await host(services);
  });
  afterAll(async () => {
    await h.app.close();
    await services.dispose();
  });

  it('refuses an http URL, even on a loopback host, with 400 validation_failed; takes https', async () => {
    const { token } = await h.newCustomer();
    for (const url of ['http://127.0.0.1:8443/hooks', 'http://localhost', 'http://hooks.acme.example']) {
      const response = await h.call('POST', '/v1/webhook-endpoints', { token, body: endpointBody({ url }) });
      expect({ url, status: response.status, code: response.body!.code, errors: response.body!.errors }).toEqual({
        url,
        status: 400,
        code: 'validation_failed',
        errors: [{ path: 'url', message: 'must be https' }],
      });
    }
    const created = await h.call('POST', '/v1/webhook-endpoints', { token, body: endpointBody() });
    trackSecret(created.body!.secret as string);
    expect(created.status).toBe(201);
    const patched = await h.call('PATCH', `/v1/webhook-endpoints/${created.body!.id}`, { token, body: { url: 'http://127.0.0.1:8443' } });
    expect({ status: patched.status, code: patched.body!.code }).toEqual({ status: 400, code: 'validation_failed' });
    expect((await h.call('GET', `/v1/webhook-endpoints/${created.body!.id}`, { token })).body!.url).toBe(
      'https://hooks.acme.example/veriproof?token=abc',
    );
  });
});
