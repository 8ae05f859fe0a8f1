import { randomBytes } from 'node:crypto';
import type { ServiceContext } from '../../app/context';
import { createServices } from '../../app/compose';
import { MemorySecretStore } from '../../shared/adapters/memory/memory-secret-store';
import { ManualClock } from '../../shared/clock';
import { caller, serveApp, type AnswerBody } from '../support/http';
import { portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { testConfig, testServices } from '../support/services';

type App = Awaited<ReturnType<typeof serveApp>>;
type Body = AnswerBody;

/** A policy as a customer's admin would write it for GitHub Actions. */
const githubPolicy = (overrides: Body = {}): Body => ({
  label: 'github-deploy',
  issuer: 'https://token.actions.githubusercontent.com',
  audience: 'veriproof',
  subject: 'repo:acme/checkout:ref:refs/heads/main',
  claims: { repository_owner: 'acme' },
  application: 'checkout',
  environment: 'live',
  ...overrides,
});

/** One host over HTTP against Azurite: its app, a request helper, staff-made customers and their admins' tokens. */
async function host(services: ServiceContext) {
  const app: App = await serveApp(services, { timers: false });
  const staffToken = await portalToken(services, { roles: ['Staff'], sub: 'staff-1', name: 'Sam Staff' });

  const call = caller(app);

  /** A customer created by staff over HTTP, and a CustomerAdmin token for it. */
  async function newCustomer(plan = 'pro') {
    const slug = `tp${randomBytes(4).toString('hex')}`;
    const created = await call('POST', '/v1/staff/customers', { token: staffToken, body: { slug, name: `Customer ${slug}`, plan } });
    expect(created.status).toBe(201);
    const token = await portalToken(services, { customer: slug, roles: ['CustomerAdmin'], sub: `admin-${slug}`, name: 'Ada Admin' });
    return { slug, token };
  }

  return { app, call, newCustomer, staffToken };
}

describe('trust policies API (workload identity federation), against Azurite', () => {
  let services: ServiceContext;
  let clock: ManualClock;
  let h: Awaited<ReturnType<typeof host>>;

  beforeAll(async () => {
    clock = new ManualClock(new Date());
    // pro's cap lowered from 10 through PLANS, so the race below runs into it.
    services = testServices({ PLANS: '{"pro":{"trustPolicyLimit":4}}' }, { clock });
    h = await host(services);
  });
  afterAll(async () => {
    await h.app.close();
    await services.dispose();
  });

  const create = (token: string, body: Body) => h.call('POST', '/v1/trust-policies', { token, body });

  describe('happy path', () => {
    it('creates, lists, reads, changes and deletes a policy, and audits each change', async () => {
      const { slug, token } = await h.newCustomer();
      const empty = await h.call('GET', '/v1/trust-policies', { token });
      expect(empty.body).toEqual({ customer: slug, sandbox: false, trustPolicyCount: 0, trustPolicyLimit: 4, trustPolicies: [] });

      const createdAt = clock.now().toISOString();
      const created = await create(token, githubPolicy({ label: '  github-deploy  ' }));
      expect(created.status).toBe(201);
      const policy = {
        id: created.body!.id as string,
        ...githubPolicy(),
        tokenLifetimeMinutes: 15,
        createdAt,
        createdBy: { type: 'user', id: `admin-${slug}`, name: 'Ada Admin' },
        updatedAt: createdAt,
        lastUsedAt: null,
      };
      expect(policy.id).toMatch(/^tp_[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(created.body).toEqual(policy);

      expect((await h.call('GET', '/v1/trust-policies', { token })).body).toEqual({
        customer: slug,
        sandbox: false,
        trustPolicyCount: 1,
        trustPolicyLimit: 4,
        trustPolicies: [policy],
      });
      expect((await h.call('GET', `/v1/trust-policies/${policy.id}`, { token })).body).toEqual(policy);

      clock.advance(60_000);
      const patched = await h.call('PATCH', `/v1/trust-policies/${policy.id}`, {
        token,
        body: { subject: 'repo:acme/checkout:*', claims: {}, tokenLifetimeMinutes: 30 },
      });
      const changed = {
        ...policy,
        subject: 'repo:acme/checkout:*',
        claims: {},
        tokenLifetimeMinutes: 30,
        updatedAt: clock.now().toISOString(),
      };
      expect(patched.status).toBe(200);
      expect(patched.body).toEqual(changed);
      expect((await h.call('GET', `/v1/trust-policies/${policy.id}`, { token })).body).toEqual(changed);
      // The same values again change nothing (and audit nothing).
      const same = await h.call('PATCH', `/v1/trust-policies/${policy.id}`, { token, body: { tokenLifetimeMinutes: 30 } });
      expect(same.body).toEqual(changed);

      clock.advance(60_000);
      const deleted = await h.call('DELETE', `/v1/trust-policies/${policy.id}`, { token });
      expect(deleted.status).toBe(204);
      expect(deleted.text).toBe('');
      expect((await h.call('GET', `/v1/trust-policies/${policy.id}`, { token })).body).toMatchObject({ status: 404, code: 'not_found' });
      expect((await h.call('PATCH', `/v1/trust-policies/${policy.id}`, { token, body: { audience: 'x' } })).status).toBe(404);
      expect((await h.call('GET', '/v1/trust-policies', { token })).body).toMatchObject({ trustPolicyCount: 0, trustPolicies: [] });
      // Idempotent, like a key's revocation.
      expect((await h.call('DELETE', `/v1/trust-policies/${policy.id}`, { token })).status).toBe(204);

      const audit = await h.call('GET', '/v1/customer-keys/audit', { token });
      const events = audit.body!.events as Body[];
      expect(events.map((e) => e.type)).toEqual(['trust_policy.deleted', 'trust_policy.updated', 'trust_policy.created']);
      const actor = { type: 'user', id: `admin-${slug}`, name: 'Ada Admin' };
      expect(events[2]).toMatchObject({
        actor,
        keyId: null,
        requestId: created.headers.get('x-request-id'),
        details: {
          trustPolicyId: policy.id,
          label: 'github-deploy',
          issuer: 'https://token.actions.githubusercontent.com',
          audience: 'veriproof',
          subject: 'repo:acme/checkout:ref:refs/heads/main',
          claims: { repository_owner: 'acme' },
          application: 'checkout',
          environment: 'live',
          tokenLifetimeMinutes: 15,
        },
      });
      expect(events[1]).toMatchObject({
        actor,
        requestId: patched.headers.get('x-request-id'),
        details: {
          trustPolicyId: policy.id,
          label: 'github-deploy',
          before: { subject: 'repo:acme/checkout:ref:refs/heads/main', claims: { repository_owner: 'acme' }, tokenLifetimeMinutes: 15 },
          after: { subject: 'repo:acme/checkout:*', claims: {}, tokenLifetimeMinutes: 30 },
        },
      });
      expect(events[0]).toMatchObject({
        actor,
        requestId: deleted.headers.get('x-request-id'),
        details: { trustPolicyId: policy.id, label: 'github-deploy' },
      });
    });

    it('lets a management key manage policies, recorded by its label', async () => {
      const { token } = await h.newCustomer();
      const issued = await h.call('POST', '/v1/customer-keys/issue', {
        token,
        body: { label: 'automation', application: 'ops', type: 'management' },
      });
      trackSecret(issued.body!.key);
      const key = issued.body!.key as string;
      const created = await h.call('POST', '/v1/trust-policies', { key, body: githubPolicy() });
      expect(created.status).toBe(201);
      expect(created.body!.createdBy).toEqual({ type: 'key', id: issued.body!.metadata.id, name: 'automation' });
      expect((await h.call('GET', '/v1/trust-policies', { key })).body!.trustPolicies).toHaveLength(1);
      expect((await h.call('PATCH', `/v1/trust-policies/${created.body!.id}`, { key, body: { environment: 'test' } })).body).toMatchObject({
        environment: 'test',
      });
      expect((await h.call('DELETE', `/v1/trust-policies/${created.body!.id}`, { key })).status).toBe(204);
    });
  });

  describe('rules', () => {
    it('keeps labels unique among the policies as key labels are (trimmed, any case, compatibility forms), frees one on delete', async () => {
      const { token } = await h.newCustomer();
      const first = await create(token, githubPolicy({ label: 'Deploy' }));
      expect(first.status).toBe(201);
      for (const label of ['Deploy', 'deploy', '  DEPLOY ', 'ＤＥＰＬＯＹ']) {
        const clash = await create(token, githubPolicy({ label }));
        expect({ label, status: clash.status, code: clash.body!.code }).toEqual({ label, status: 409, code: 'label_taken' });
      }
      const second = await create(token, githubPolicy({ label: 'nightly' }));
      const renamed = await h.call('PATCH', `/v1/trust-policies/${second.body!.id}`, { token, body: { label: 'DEPLOY' } });
      expect(renamed.body).toMatchObject({ status: 409, code: 'label_taken', label: 'DEPLOY' });
      // A key may carry the same label: keys and policies are counted apart.
      const key = await h.call('POST', '/v1/customer-keys/issue', { token, body: { label: 'deploy', application: 'checkout' } });
      expect(key.status).toBe(201);
      trackSecret(key.body!.key);

      expect((await h.call('DELETE', `/v1/trust-policies/${first.body!.id}`, { token })).status).toBe(204);
      expect((await h.call('PATCH', `/v1/trust-policies/${second.body!.id}`, { token, body: { label: 'deploy' } })).body).toMatchObject({
        label: 'deploy',
      });
      // The rename freed its old label.
      expect((await create(token, githubPolicy({ label: 'Nightly' }))).status).toBe(201);
    });

    it("caps the policies by the customer's plan", async () => {
      const { slug, token } = await h.newCustomer('starter');
      expect((await create(token, githubPolicy({ label: 'a' }))).status).toBe(201);
      const b = await create(token, githubPolicy({ label: 'b' }));
      expect(b.status).toBe(201);
      const third = await create(token, githubPolicy({ label: 'c' }));
      expect(third.status).toBe(409);
      expect(third.body).toMatchObject({ code: 'trust_policy_limit_reached', trustPolicyLimit: 2 });
      expect((await h.call('GET', '/v1/trust-policies', { token })).body).toMatchObject({ trustPolicyCount: 2, trustPolicyLimit: 2 });

      await h.call('DELETE', `/v1/trust-policies/${b.body!.id}`, { token });
      expect((await create(token, githubPolicy({ label: 'c' }))).status).toBe(201);
      // A plan with more room (enterprise: 50) takes more at once.
      await h.call('PATCH', `/v1/staff/customers/${slug}`, { token: h.staffToken, body: { plan: 'enterprise' } });
      expect((await create(token, githubPolicy({ label: 'd' }))).status).toBe(201);
    });

    it('holds the cap under 20 parallel creates: exactly 4 policies on a cap of 4', async () => {
      const { token } = await h.newCustomer('pro');
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => create(token, githubPolicy({ label: `race-${i}` }))));
      expect(results.filter((r) => r.status === 201)).toHaveLength(4);
      expect(results.filter((r) => r.status === 409 && r.body!.code === 'trust_policy_limit_reached')).toHaveLength(16);
      expect((await h.call('GET', '/v1/trust-policies', { token })).body!.trustPolicies).toHaveLength(4);
    });
  });

  describe('error path: bad input', () => {
    const invalid: Array<[string, Body, string]> = [
      ['a lifetime under 5 minutes', githubPolicy({ tokenLifetimeMinutes: 4 }), 'tokenLifetimeMinutes'],
      ['a lifetime over 60 minutes', githubPolicy({ tokenLifetimeMinutes: 61 }), 'tokenLifetimeMinutes'],
      ['a lifetime that is not whole', githubPolicy({ tokenLifetimeMinutes: 15.5 }), 'tokenLifetimeMinutes'],
      ['a lifetime as text', githubPolicy({ tokenLifetimeMinutes: '15' }), 'tokenLifetimeMinutes'],
      ['no environment', githubPolicy({ environment: undefined }), 'environment'],
      ['an unknown environment', githubPolicy({ environment: 'prod' }), 'environment'],
      ['an http issuer on a host that is not this machine', githubPolicy({ issuer: 'http://issuer.example.com' }), 'issuer'],
      ['an issuer with a query', githubPolicy({ issuer: 'https://issuer.example.com/?tenant=a' }), 'issuer'],
      ['an issuer with a fragment', githubPolicy({ issuer: 'https://issuer.example.com/#a' }), 'issuer'],
      ['an issuer with credentials', githubPolicy({ issuer: 'https://me:pw@issuer.example.com' }), 'issuer'],
      ['an issuer that is not a URL', githubPolicy({ issuer: 'token.actions.githubusercontent.com' }), 'issuer'],
      ['no audience', githubPolicy({ audience: '   ' }), 'audience'],
      ['a subject of stars alone', githubPolicy({ subject: '**' }), 'subject'],
      ['an empty subject', githubPolicy({ subject: '' }), 'subject'],
      ['21 claims', githubPolicy({ claims: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`c${i}`, 'v'])) }), 'claims'],
      ['a claim the policy states elsewhere', githubPolicy({ claims: { sub: 'repo:acme/x' } }), 'claims.sub'],
      ['a claim name with a space', githubPolicy({ claims: { 'repo owner': 'acme' } }), 'claims.repo owner'],
      ['a claim value that is not text', githubPolicy({ claims: { run_attempt: 1 } }), 'claims.run_attempt'],
      ['an empty claim value', githubPolicy({ claims: { ref: '' } }), 'claims.ref'],
      ['a label with an invisible character', githubPolicy({ label: 'de\u200Bploy' }), 'label'],
      ['a label over 64 characters', githubPolicy({ label: 'x'.repeat(65) }), 'label'],
    ];

    it.each(invalid)('refuses %s with 400 validation_failed naming the field', async (_name, body, path) => {
      const { token } = await h.newCustomer();
      const response = await create(token, body);
      expect({ status: response.status, code: response.body!.code }).toEqual({ status: 400, code: 'validation_failed' });
      expect((response.body!.errors as Array<{ path: string }>).map((e) => e.path)).toContain(path);
      expect((await h.call('GET', '/v1/trust-policies', { token })).body!.trustPolicies).toEqual([]);
    });

    it('refuses a patch that names nothing or breaks a rule, changing nothing', async () => {
      const { token } = await h.newCustomer();
      const created = await create(token, githubPolicy());
      for (const body of [{}, { tokenLifetimeMinutes: 0 }, { subject: '*' }, { issuer: 'http://issuer.example.com' }, { id: 'tp_x' }]) {
        const response = await h.call('PATCH', `/v1/trust-policies/${created.body!.id}`, { token, body });
        expect({ body, status: response.status, code: response.body!.code }).toEqual({ body, status: 400, code: 'validation_failed' });
      }
      expect((await h.call('GET', `/v1/trust-policies/${created.body!.id}`, { token })).body).toEqual(created.body);
    });

    it('takes an http issuer on a loopback host in local mode (a developer’s or a test’s issuer)', async () => {
      const { token } = await h.newCustomer();
      for (const [label, issuer] of [
        ['v4', 'http://127.0.0.1:8443/issuer'],
        ['name', 'http://localhost:8443'],
        ['v6', 'http://[::1]:8443'],
      ]) {
        const response = await create(token, githubPolicy({ label, issuer }));
        expect({ issuer, status: response.status }).toEqual({ issuer, status: 201 });
      }
    });
  });

  describe('security path', () => {
    it("answers another customer's policy, and an unknown one, with 404 and leaves it alone", async () => {
      const owner = await h.newCustomer();
      const other = await h.newCustomer();
      const policy = await create(owner.token, githubPolicy());
      const path = `/v1/trust-policies/${policy.body!.id}`;
      for (const [method, body] of [['GET'], ['PATCH', { audience: 'mallory' }], ['DELETE']] as Array<[string, Body?]>) {
        const response = await h.call(method, path, { token: other.token, ...(body ? { body } : {}) });
        expect({ method, status: response.status, code: response.body?.code }).toEqual({ method, status: 404, code: 'not_found' });
      }
      expect((await h.call('GET', '/v1/trust-policies', { token: other.token })).body!.trustPolicies).toEqual([]);
      expect((await h.call('GET', path, { token: owner.token })).body).toEqual(policy.body);
      for (const id of ['tp_01JQ8Z5M3T4V6W7X8Y9Z0A1B2C', 'key_01JQ8Z5M3T4V6W7X8Y9Z0A1B2C', 'nope']) {
        expect((await h.call('GET', `/v1/trust-policies/${id}`, { token: owner.token })).status).toBe(404);
        expect((await h.call('DELETE', `/v1/trust-policies/${id}`, { token: owner.token })).status).toBe(404);
      }
    });

    it('refuses an ingest key on every route (403 forbidden), a missing token (401) and a token without CustomerAdmin (403)', async () => {
      const { token } = await h.newCustomer();
      const policy = await create(token, githubPolicy());
      const ingest = await h.call('POST', '/v1/customer-keys/issue', { token, body: { label: 'ingest', application: 'checkout' } });
      trackSecret(ingest.body!.key);
      const routes: Array<[string, string, Body?]> = [
        ['GET', '/v1/trust-policies'],
        ['POST', '/v1/trust-policies', githubPolicy({ label: 'planted' })],
        ['GET', `/v1/trust-policies/${policy.body!.id}`],
        ['PATCH', `/v1/trust-policies/${policy.body!.id}`, { subject: 'repo:mallory/*' }],
        ['DELETE', `/v1/trust-policies/${policy.body!.id}`],
      ];
      for (const [method, path, body] of routes) {
        const asKey = await h.call(method, path, { key: ingest.body!.key, ...(body ? { body } : {}) });
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
      expect((await h.call('GET', '/v1/trust-policies', { token })).body!.trustPolicies).toEqual([policy.body]);
    });

    it('reads the shared sandbox read-only with X-Veriproof-Sandbox: true', async () => {
      const { token } = await h.newCustomer();
      const headers = { 'x-veriproof-sandbox': 'true' };
      expect((await h.call('GET', '/v1/trust-policies', { token, headers })).body).toMatchObject({ customer: 'sandbox', sandbox: true });
      const write = await h.call('POST', '/v1/trust-policies', { token, headers, body: githubPolicy() });
      expect({ status: write.status, code: write.body!.code }).toEqual({ status: 403, code: 'sandbox_read_only' });
    });
  });
});

describe('trust policies outside local mode', () => {
  let services: ServiceContext;
  let h: Awaited<ReturnType<typeof host>>;

  beforeAll(async () => {
    // The production rules for issuers (what `runtime` decides); storage and portal tokens stay the test ones.
    services = createServices({ ...testConfig(), runtime: 'production' }, { secrets: new MemorySecretStore(), background: false });
    h = await host(services);
  });
  afterAll(async () => {
    await h.app.close();
    await services.dispose();
  });

  it('refuses an http issuer, even on a loopback host, with 400 validation_failed; takes https', async () => {
    const { token } = await h.newCustomer();
    for (const issuer of ['http://127.0.0.1:8443/issuer', 'http://localhost', 'http://issuer.example.com']) {
      const response = await h.call('POST', '/v1/trust-policies', { token, body: githubPolicy({ issuer }) });
      expect({ issuer, status: response.status, code: response.body!.code, errors: response.body!.errors }).toEqual({
        issuer,
        status: 400,
        code: 'validation_failed',
        errors: [{ path: 'issuer', message: 'must be https' }],
      });
    }
    const created = await h.call('POST', '/v1/trust-policies', { token, body: githubPolicy() });
    expect(created.status).toBe(201);
    const patched = await h.call('PATCH', `/v1/trust-policies/${created.body!.id}`, { token, body: { issuer: 'http://127.0.0.1:8443' } });
    expect({ status: patched.status, code: patched.body!.code }).toEqual({ status: 400, code: 'validation_failed' });
    expect((await h.call('GET', `/v1/trust-policies/${created.body!.id}`, { token })).body!.issuer).toBe(
      'https://token.actions.githubusercontent.com',
    );
  });
});
