import { randomBytes } from 'node:crypto';
import type { ServiceContext } from '../../app/context';
import { LoopbackOidcIssuer, OidcTestIssuer } from '../../fixtures/oidc-issuer';
import { createServices } from '../../app/compose';
import { MemoryHostResolver } from '../../shared/adapters/memory/memory-host-resolver';
import { MemorySecretStore } from '../../shared/adapters/memory/memory-secret-store';
import { lookupPartition } from '../../shared/adapters/table/key-rows';
import { TOKEN_ROW_PREFIX } from '../../shared/adapters/table/federated-token-rows';
import { ManualClock } from '../../shared/clock';
import { hashSecret } from '../../shared/keys/compound-key';
import {
  GRANT_TYPE_TOKEN_EXCHANGE,
  INVALID_GRANT_DESCRIPTION,
  TOKEN_TYPE_ID_TOKEN,
  TOKEN_TYPE_JWT,
} from '../../shared/oauth/token-request';
import { absentIfNotFound } from '../../shared/adapters/azure-errors';
import { caller, serveApp, type AnswerBody } from '../support/http';
import { oneSpanExport } from '../support/otel';
import { portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { testConfig, testServices } from '../support/services';

type App = Awaited<ReturnType<typeof serveApp>>;
type Body = AnswerBody;

/** A form of the exchange: each value sent as given (an array: the parameter repeated). */
type Form = Record<string, string | string[] | undefined>;

const encode = (form: Form): string => {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(form)) for (const v of [value ?? []].flat()) params.append(name, v);
  return params.toString();
};

/** One host over HTTP against Azurite, with an OpenID issuer (on loopback, or only named) whose tokens its customers trust. */
async function host(services: ServiceContext, issuer: OidcTestIssuer) {
  const app: App = await serveApp(services, { timers: false });
  const staffToken = await portalToken(services, { roles: ['Staff'], sub: 'staff-1', name: 'Sam Staff' });

  const call = caller(app);

  /** A customer created by staff, its admin's token, and (unless told not to) a policy trusting the issuer's `main` of acme/checkout. */
  async function newCustomer(options: { plan?: string; policy?: Body | null } = {}) {
    const slug = `tx${randomBytes(4).toString('hex')}`;
    const created = await call('POST', '/v1/staff/customers', {
      token: staffToken,
      body: { slug, name: `Customer ${slug}`, plan: options.plan ?? 'pro' },
    });
    expect(created.status).toBe(201);
    const admin = await portalToken(services, { customer: slug, roles: ['CustomerAdmin'], sub: `admin-${slug}`, name: 'Ada Admin' });
    let policy: Body | undefined;
    if (options.policy !== null) {
      const made = await call('POST', '/v1/trust-policies', {
        token: admin,
        body: {
          label: 'checkout-deploy',
          issuer: issuer.issuer,
          audience: slug,
          subject: 'repo:acme/checkout:ref:refs/heads/main',
          claims: { repository_owner: 'acme' },
          application: 'checkout',
          environment: 'live',
          ...options.policy,
        },
      });
      expect(made.status).toBe(201);
      policy = made.body;
    }
    return { slug, admin, policy: policy! };
  }

  /** POST /v1/oauth/token with this form (the content type unless told otherwise). */
  async function exchange(form: Form, headers: Record<string, string> = {}) {
    const result = await call('POST', '/v1/oauth/token', {
      body: encode(form),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });
    if (typeof result.body?.access_token === 'string') trackSecret(result.body.access_token);
    return result;
  }

  /** The exchange of a well-formed request for `slug` with the issuer's token of these claims. */
  const exchangeFor = (slug: string, claims: Body = {}, form: Form = {}) =>
    exchange({
      grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
      subject_token: issuer.sign({ aud: slug, repository_owner: 'acme', ...claims }),
      subject_token_type: TOKEN_TYPE_JWT,
      audience: slug,
      ...form,
    });

  /** A fresh access token for `slug` (its policy must trust the default claims). */
  async function accessToken(slug: string): Promise<string> {
    const answer = await exchangeFor(slug);
    expect(answer.status).toBe(200);
    return answer.body!.access_token as string;
  }

  const audit = async (admin: string) => (await call('GET', '/v1/customer-keys/audit?limit=200', { token: admin })).body!.events as Body[];

  return { app, call, newCustomer, exchange, exchangeFor, accessToken, audit, staffToken };
}

describe('token exchange (RFC 8693) and federated access tokens, against Azurite and a loopback issuer', () => {
  let clock: ManualClock;
  let services: ServiceContext;
  let issuer: LoopbackOidcIssuer;
  let h: Awaited<ReturnType<typeof host>>;

  beforeAll(async () => {
    clock = new ManualClock(new Date());
    issuer = await LoopbackOidcIssuer.start({ now: () => clock.millis() });
    issuer.addKey('ES256');
    services = testServices({}, { clock });
    await services.revocations.poll();
    h = await host(services, issuer);
  });
  afterAll(async () => {
    await h.app.close();
    await services.dispose();
    await issuer.close();
  });

  describe('happy path', () => {
    it('exchanges an identity token for an access token that ingests as the policy, shows in whoami, sessions, audit and usage', async () => {
      const { slug, admin, policy } = await h.newCustomer();
      const answer = await h.exchangeFor(slug);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(answer.headers.get('pragma')).toBe('no-cache');
      const token = answer.body!.access_token as string;
      expect(answer.body).toEqual({
        access_token: token,
        issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        token_type: 'Bearer',
        // The policy's 15 minutes, not capped at the identity token's own expiry (five minutes).
        expires_in: 900,
      });
      expect(token).toMatch(new RegExp(`^vp_fed_${slug}\\.[A-Za-z0-9_-]{43}$`));

      // The same door as a key, in both headers.
      const expected = {
        customer: { id: expect.stringMatching(/^cus_/), slug, plan: 'pro' },
        key: { id: policy.id, label: 'checkout-deploy', application: 'checkout', environment: 'live', type: 'federated' },
        trustPolicy: { id: policy.id, label: 'checkout-deploy' },
      };
      for (const headers of [{ authorization: `Bearer ${token}` }, { 'x-api-key': token }] as Array<Record<string, string>>) {
        const whoami = await h.call('GET', '/v1/whoami', { headers });
        expect(whoami.status).toBe(200);
        expect(whoami.body).toEqual(expected);
        expect(whoami.headers.get('ratelimit-policy')).toBe('"per-key";q=200;w=2');
      }
      // No component: the customer's requireComponent does not apply, and x-functions-key is not read.
      await h.call('PATCH', `/v1/staff/customers/${slug}`, { token: h.staffToken, body: { requireComponent: true } });
      expect((await h.call('GET', '/v1/whoami', { headers: { 'x-api-key': token, 'x-functions-key': 'Z'.repeat(32) } })).status).toBe(200);

      const ingested = await h.call('POST', '/v1/traces', { token, body: oneSpanExport('fed-session-1') });
      expect(ingested.status).toBe(200);
      const sessions = await h.call('GET', '/v1/sessions?keyLabel=checkout-deploy', { token: admin });
      expect(sessions.body!.sessions).toEqual([
        expect.objectContaining({ sessionId: 'fed-session-1', keyId: policy.id, keyLabel: 'checkout-deploy', application: 'checkout' }),
      ]);

      const exchanged = (await h.audit(admin)).find((e) => e.type === 'token.exchanged');
      expect(exchanged).toMatchObject({
        actor: { type: 'system', id: 'token-exchange', name: 'token exchange' },
        requestId: answer.headers.get('x-request-id'),
        details: {
          trustPolicyId: policy.id,
          label: 'checkout-deploy',
          issuer: issuer.issuer,
          subject: 'repo:acme/checkout:ref:refs/heads/main',
          application: 'checkout',
          environment: 'live',
          expiresAt: new Date(clock.millis() + 900_000).toISOString(),
        },
      });
      expect(JSON.stringify(await h.audit(admin))).not.toContain(token.split('.')[1]);

      // Usage and last use count for the policy.
      await services.usageRecorder.flush();
      const hour = `${clock.now().toISOString().slice(0, 13)}:00:00.000Z`;
      expect((await h.call('GET', `/v1/trust-policies/${policy.id}`, { token: admin })).body!.lastUsedAt).toBe(hour);
    });

    it('takes an id_token as the subject token type too, and ignores scope', async () => {
      const { slug } = await h.newCustomer();
      const answer = await h.exchangeFor(slug, {}, { subject_token_type: TOKEN_TYPE_ID_TOKEN, scope: 'ingest' });
      expect(answer.status).toBe(200);
    });

    it('tries the policies in their listed order: the first the token satisfies decides what it ingests as', async () => {
      const { slug, admin } = await h.newCustomer({
        policy: { label: 'any-branch', subject: 'repo:acme/checkout:*', application: 'first' },
      });
      clock.advance(1); // ids order policies by their creation, to the millisecond
      await h.call('POST', '/v1/trust-policies', {
        token: admin,
        body: {
          label: 'main-only',
          issuer: issuer.issuer,
          audience: slug,
          subject: 'repo:acme/checkout:ref:refs/heads/main',
          application: 'second',
          environment: 'test',
        },
      });
      const token = await h.accessToken(slug);
      expect((await h.call('GET', '/v1/whoami', { token })).body!.key).toMatchObject({ label: 'any-branch', application: 'first' });
    });

    it('expires the token at expires_in to the millisecond, on the injected clock', async () => {
      const { slug } = await h.newCustomer({ policy: { tokenLifetimeMinutes: 5 } });
      const answer = await h.exchangeFor(slug);
      expect(answer.body!.expires_in).toBe(300);
      const token = answer.body!.access_token as string;
      const expiresAt = clock.millis() + 300_000;
      expect((await h.call('GET', '/v1/whoami', { token })).status).toBe(200);
      clock.set(new Date(expiresAt - 1));
      expect((await h.call('GET', '/v1/whoami', { token })).status).toBe(200);
      clock.set(new Date(expiresAt));
      const expired = await h.call('GET', '/v1/whoami', { token });
      expect(expired.status).toBe(401);
      expect(expired.body).toMatchObject({ code: 'api_key_expired', detail: expect.stringContaining('POST /v1/oauth/token') });
      expect(expired.headers.get('www-authenticate')).toBe('Bearer realm="veriproof", error="invalid_token"');
      await services.revocations.poll();
    });
  });

  describe('error path: the request (RFC 6749 §5.2 errors, 400, uncached)', () => {
    let slug: string;
    let subjectToken: string;
    beforeAll(async () => {
      ({ slug } = await h.newCustomer());
      subjectToken = issuer.sign({ aud: slug, repository_owner: 'acme' });
    });
    const good = (): Form => ({
      grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
      subject_token: subjectToken,
      subject_token_type: TOKEN_TYPE_JWT,
      audience: slug,
    });

    const cases: Array<[string, () => Form, string, Record<string, string>?]> = [
      ['no grant_type', () => ({ ...good(), grant_type: undefined }), 'invalid_request'],
      ['another grant type', () => ({ ...good(), grant_type: 'client_credentials' }), 'unsupported_grant_type'],
      ['grant_type twice', () => ({ ...good(), grant_type: [GRANT_TYPE_TOKEN_EXCHANGE, GRANT_TYPE_TOKEN_EXCHANGE] }), 'invalid_request'],
      ['no subject_token', () => ({ ...good(), subject_token: undefined }), 'invalid_request'],
      ['subject_token twice', () => ({ ...good(), subject_token: [subjectToken, subjectToken] }), 'invalid_request'],
      ['no subject_token_type', () => ({ ...good(), subject_token_type: undefined }), 'invalid_request'],
      ['a SAML subject_token_type', () => ({ ...good(), subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }), 'invalid_request'],
      [
        'an actor_token (delegation)',
        () => ({ ...good(), actor_token: subjectToken, actor_token_type: TOKEN_TYPE_JWT }),
        'invalid_request',
      ],
      [
        'a refresh token requested',
        () => ({ ...good(), requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }),
        'invalid_request',
      ],
      ['no audience', () => ({ ...good(), audience: undefined }), 'invalid_request'],
      ['an audience that is no slug', () => ({ ...good(), audience: 'Not A Slug' }), 'invalid_target'],
      ['two audiences', () => ({ ...good(), audience: [slug, slug] }), 'invalid_target'],
      ['a resource', () => ({ ...good(), resource: 'https://ingest.example.com' }), 'invalid_target'],
      ['a JSON body', () => good(), 'invalid_request', { 'content-type': 'application/json' }],
      ['no content type', () => good(), 'invalid_request', { 'content-type': '' }],
    ];

    it.each(cases)('%s', async (_name, form, error, headers = {}) => {
      const answer = await h.exchange(form(), headers);
      expect(answer.status).toBe(400);
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(answer.headers.get('pragma')).toBe('no-cache');
      expect(answer.body).toEqual({ error, error_description: expect.any(String) });
      expect(answer.text).not.toContain(subjectToken);
    });

    it('answers an unknown customer and a customer without policies alike: invalid_grant, revealing no slug', async () => {
      const bare = await h.newCustomer({ policy: null });
      const unknown = await h.exchange({ ...good(), audience: `nobody${randomBytes(3).toString('hex')}` });
      const without = await h.exchange({ ...good(), audience: bare.slug });
      for (const answer of [unknown, without]) {
        expect(answer.status).toBe(400);
        expect(answer.body).toEqual({ error: 'invalid_grant', error_description: INVALID_GRANT_DESCRIPTION });
      }
      expect((await h.audit(bare.admin)).find((e) => e.type === 'token.refused')).toMatchObject({
        details: { reason: 'no_trust_policy' },
      });
    });

    it('refuses a body over 64 KiB as a problem, unread past the bound', async () => {
      const answer = await h.exchange({ ...good(), subject_token: 'x'.repeat(70 * 1024) });
      expect(answer.status).toBe(413);
      expect(answer.body).toMatchObject({ code: 'payload_too_large' });
    });
  });

  describe('security path: every identity token a policy does not trust is one invalid_grant, its reason audited', () => {
    let slug: string;
    let admin: string;
    let other: LoopbackOidcIssuer;
    beforeAll(async () => {
      ({ slug, admin } = await h.newCustomer());
      other = await LoopbackOidcIssuer.start({ now: () => clock.millis() });
      other.addKey('RS256');
    });
    afterAll(() => other.close());

    const cases: Array<[string, () => string, string]> = [
      ['another issuer', () => other.sign({ aud: slug, repository_owner: 'acme' }), 'untrusted_issuer'],
      ['another issuer naming ours as iss', () => other.sign({ iss: issuer.issuer, aud: slug, repository_owner: 'acme' }), 'unknown_key'],
      ['another audience', () => issuer.sign({ aud: 'someone-else', repository_owner: 'acme' }), 'audience_mismatch'],
      [
        'another subject',
        () => issuer.sign({ aud: slug, sub: 'repo:acme/checkout:ref:refs/heads/dev', repository_owner: 'acme' }),
        'subject_mismatch',
      ],
      ['a claim that differs', () => issuer.sign({ aud: slug, repository_owner: 'evil' }), 'claim_mismatch'],
      ['a claim of another type', () => issuer.sign({ aud: slug, repository_owner: ['acme'] }), 'claim_mismatch'],
      [
        'expired (beyond the skew)',
        () =>
          issuer.sign({
            aud: slug,
            repository_owner: 'acme',
            iat: Math.floor(clock.millis() / 1000) - 600,
            exp: Math.floor(clock.millis() / 1000) - 61,
          }),
        'expired',
      ],
      [
        'not yet valid',
        () => issuer.sign({ aud: slug, repository_owner: 'acme', nbf: Math.floor(clock.millis() / 1000) + 120 }),
        'not_yet_valid',
      ],
      ['alg none', () => issuer.unsigned({ aud: slug, repository_owner: 'acme' }), 'unsupported_algorithm'],
      ['HMAC-signed with the public key', () => issuer.hmacWithPublicKey({ aud: slug, repository_owner: 'acme' }), 'unsupported_algorithm'],
      ['a bad signature', () => `${issuer.sign({ aud: slug, repository_owner: 'acme' }).slice(0, -6)}AAAAAA`, 'bad_signature'],
      ['not a JWT', () => 'not-a-jwt', 'malformed'],
    ];

    it.each(cases)('%s', async (_name, subjectToken, reason) => {
      const token = subjectToken();
      const answer = await h.exchange({
        grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
        subject_token: token,
        subject_token_type: TOKEN_TYPE_JWT,
        audience: slug,
      });
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({ error: 'invalid_grant', error_description: INVALID_GRANT_DESCRIPTION });
      const refused = (await h.audit(admin)).find((e) => e.type === 'token.refused' && e.requestId === answer.headers.get('x-request-id'));
      expect(refused).toMatchObject({ actor: { type: 'system', id: 'token-exchange' }, details: { reason, detail: expect.any(String) } });
      // The identity token is never recorded, nor its signature.
      expect(JSON.stringify(refused)).not.toContain(token.split('.').at(-1) || token);
    });

    it("refuses customer A's identity token presented for customer B, in B's audit log alone", async () => {
      const a = await h.newCustomer();
      const b = await h.newCustomer({ policy: { subject: 'repo:acme/*' } });
      const tokenForA = issuer.sign({ aud: a.slug, repository_owner: 'acme' });
      const answer = await h.exchange({
        grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
        subject_token: tokenForA,
        subject_token_type: TOKEN_TYPE_JWT,
        audience: b.slug,
      });
      expect(answer.body).toEqual({ error: 'invalid_grant', error_description: INVALID_GRANT_DESCRIPTION });
      expect((await h.audit(b.admin)).find((e) => e.type === 'token.refused')).toMatchObject({
        details: { reason: 'audience_mismatch', trustPolicyId: b.policy.id, subject: 'repo:acme/checkout:ref:refs/heads/main' },
      });
      expect((await h.audit(a.admin)).filter((e) => e.type.startsWith('token.'))).toEqual([]);
    });
  });

  describe('usage per policy (GET /v1/trust-policies/{id}/usage, and beside the keys in GET /v1/customer-keys/usage)', () => {
    it("counts every token of a policy together, with a key usage's query and answer, and lists the policy beside the keys", async () => {
      const { slug, admin, policy } = await h.newCustomer();
      const issued = await h.call('POST', '/v1/customer-keys/issue', { token: admin, body: { label: 'svc', application: 'svc' } });
      const key = trackSecret(issued.body!.key as string);
      const keyId = issued.body!.metadata.id as string;
      const [first, second] = [await h.accessToken(slug), await h.accessToken(slug)];
      for (const token of [first, first, first, second, second]) expect((await h.call('GET', '/v1/whoami', { token })).status).toBe(200);
      for (let i = 0; i < 4; i++) expect((await h.call('GET', '/v1/whoami', { key })).status).toBe(200);
      await services.usageRecorder.flush();
      const hour = `${clock.now().toISOString().slice(0, 13)}:00:00.000Z`;
      const none = { accepted: 0, rateLimited: 0, ipRefused: 0 };

      const from = new Date(clock.millis() - 2 * 3_600_000).toISOString();
      const hourly = await h.call('GET', `/v1/trust-policies/${policy.id}/usage?granularity=hour&from=${encodeURIComponent(from)}`, {
        token: admin,
      });
      expect(hourly.status).toBe(200);
      expect(hourly.body).toEqual({
        trustPolicyId: policy.id,
        label: 'checkout-deploy',
        granularity: 'hour',
        from,
        to: clock.now().toISOString(),
        totals: { accepted: 5, rateLimited: 0, ipRefused: 0 },
        buckets: [
          { start: new Date(Date.parse(hour) - 2 * 3_600_000).toISOString(), ...none },
          { start: new Date(Date.parse(hour) - 3_600_000).toISOString(), ...none },
          { start: hour, accepted: 5, rateLimited: 0, ipRefused: 0 },
        ],
      });
      // The key's usage route answers in the same shape, the id aside.
      const keyHourly = await h.call('GET', `/v1/customer-keys/${keyId}/usage?granularity=hour&from=${encodeURIComponent(from)}`, {
        token: admin,
      });
      const { keyId: _keyId, ...keyShape } = keyHourly.body!;
      const { trustPolicyId: _policyId, ...policyShape } = hourly.body!;
      expect(Object.keys(policyShape)).toEqual(Object.keys(keyShape));
      expect(keyHourly.body!.totals).toEqual({ accepted: 4, rateLimited: 0, ipRefused: 0 });
      const daily = await h.call('GET', `/v1/trust-policies/${policy.id}/usage`, { token: admin });
      expect(daily.body).toMatchObject({ granularity: 'day', totals: hourly.body!.totals });
      expect(daily.body!.buckets).toHaveLength(31);

      const all = await h.call('GET', '/v1/customer-keys/usage', { token: admin });
      expect(all.status).toBe(200);
      expect(all.body!.keys.map((k: Body) => [k.keyId, k.type])).toEqual([
        [keyId, issued.body!.metadata.type],
        [policy.id, 'federated'],
      ]);
      expect(all.body!.keys[1]).toEqual({
        keyId: policy.id,
        type: 'federated',
        label: 'checkout-deploy',
        application: 'checkout',
        status: 'active',
        lastUsedAt: hour,
        stale: false,
        totals: { accepted: 5, rateLimited: 0, ipRefused: 0 },
        daily: expect.any(Array),
      });
      expect(all.body!.keys[1].daily).toHaveLength(30);
      expect(all.body!.keys[0]).toMatchObject({ label: 'svc', status: 'active', totals: { accepted: 4, rateLimited: 0, ipRefused: 0 } });
    });

    it("answers another customer's policy, a deleted one and none with 404, a bad query with 400, and no token", async () => {
      const a = await h.newCustomer();
      const b = await h.newCustomer();
      const usageOf = (id: string, token: string, query = '') => h.call('GET', `/v1/trust-policies/${id}/usage${query}`, { token });
      expect((await usageOf(a.policy.id, a.admin)).status).toBe(200);
      const foreign = await usageOf(a.policy.id, b.admin);
      expect(foreign.status).toBe(404);
      expect(foreign.body!.code).toBe('not_found');
      expect((await usageOf('tp_01JQAAAAAAAAAAAAAAAAAAAAAA', a.admin)).body!.code).toBe('not_found');
      expect((await usageOf('key_01JQAAAAAAAAAAAAAAAAAAAAAA', a.admin)).body!.code).toBe('not_found');
      for (const query of [
        '?granularity=minute',
        '?from=yesterday',
        '?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z',
        '?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z',
      ]) {
        expect((await usageOf(a.policy.id, a.admin, query)).body!.code).toBe('validation_failed');
      }
      // A federated token reads no usage: it is an ingest credential.
      expect((await usageOf(a.policy.id, await h.accessToken(a.slug))).status).toBe(403);
      expect((await h.call('DELETE', `/v1/trust-policies/${a.policy.id}`, { token: a.admin })).status).toBe(204);
      expect((await usageOf(a.policy.id, a.admin)).status).toBe(404);
      expect((await h.call('GET', '/v1/customer-keys/usage', { token: a.admin })).body!.keys).toEqual([]);
    });
  });

  describe('security path: what an access token cannot do', () => {
    it('is refused on management and staff routes, and cannot be exchanged for another', async () => {
      const { slug, policy } = await h.newCustomer();
      const token = await h.accessToken(slug);
      for (const [method, path, body] of [
        ['GET', '/v1/customer-keys', undefined],
        ['POST', '/v1/customer-keys/issue', { label: 'minted', application: 'x' }],
        ['GET', '/v1/trust-policies', undefined],
        ['DELETE', `/v1/trust-policies/${policy.id}`, undefined],
      ] as const) {
        for (const headers of [{ authorization: `Bearer ${token}` }, { 'x-api-key': token }] as Array<Record<string, string>>) {
          const answer = await h.call(method, path, { headers, ...(body ? { body } : {}) });
          expect({ path, status: answer.status, code: answer.body!.code }).toEqual({ path, status: 403, code: 'forbidden' });
        }
      }
      const staff = await h.call('GET', '/v1/staff/customers', { token });
      expect({ status: staff.status, code: staff.body!.code }).toEqual({ status: 401, code: 'unauthenticated' });
      const again = await h.exchange({
        grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
        subject_token: token,
        subject_token_type: TOKEN_TYPE_JWT,
        audience: slug,
      });
      expect(again.body!.error).toBe('invalid_grant');
      // The policy still stands: the token deleted nothing.
      expect((await h.call('GET', '/v1/whoami', { token })).status).toBe(200);
    });

    it("passes for neither a key nor another customer's token: a key's secret as a token, a token's secret as a key", async () => {
      const { slug } = await h.newCustomer();
      const token = await h.accessToken(slug);
      const secret = token.split('.')[1]!;
      expect((await h.call('GET', '/v1/whoami', { token })).status).toBe(200); // warm
      for (const [what, headers, code] of [
        ['the secret alone', { 'x-api-key': secret }, 'api_key_malformed'],
        ['the secret in a compound key', { 'x-api-key': `vp_cust_${slug}.${'A'.repeat(32)}.${secret}` }, 'api_key_malformed'],
        ["another customer's slug", { 'x-api-key': token.replace(`vp_fed_${slug}.`, 'vp_fed_othercustomer.') }, 'api_key_invalid'],
      ] as const) {
        const answer = await h.call('GET', '/v1/whoami', { headers });
        expect({ what, status: answer.status, code: answer.body!.code }).toEqual({ what, status: 401, code });
      }
    });
  });

  describe('a change to the policy stops its tokens', () => {
    const lookupRow = (token: string) => {
      const hash = hashSecret(token.split('.')[1]!);
      return absentIfNotFound(services.storage.clients.keyLookup.getEntity(lookupPartition(hash), hash));
    };
    const indexRows = async (slug: string) => {
      const rows = [];
      for await (const row of services.storage.clients.customers.listEntities({
        queryOptions: { filter: `PartitionKey eq '${slug}' and RowKey ge '${TOKEN_ROW_PREFIX}' and RowKey lt 'fedtoken\`'` },
      }))
        rows.push(row);
      return rows;
    };

    it('PATCH: the tokens minted before the change stop at once; a new exchange follows the policy as it now is', async () => {
      const { slug, admin, policy } = await h.newCustomer();
      const before = await h.accessToken(slug);
      expect((await h.call('GET', '/v1/whoami', { token: before })).status).toBe(200);
      clock.advance(1000);
      expect((await h.call('PATCH', `/v1/trust-policies/${policy.id}`, { token: admin, body: { tokenLifetimeMinutes: 30 } })).status).toBe(
        200,
      );
      expect((await h.call('GET', '/v1/whoami', { token: before })).body).toMatchObject({ status: 401, code: 'api_key_invalid' });
      expect(await lookupRow(before)).toBeUndefined();
      const after = await h.exchangeFor(slug);
      expect(after.body!.expires_in).toBe(1800);
      expect((await h.call('GET', '/v1/whoami', { token: after.body!.access_token })).status).toBe(200);
      // A patch that changes nothing stops nothing.
      expect((await h.call('PATCH', `/v1/trust-policies/${policy.id}`, { token: admin, body: { tokenLifetimeMinutes: 30 } })).status).toBe(
        200,
      );
      expect((await h.call('GET', '/v1/whoami', { token: after.body!.access_token })).status).toBe(200);
    });

    it('DELETE: every outstanding token stops at once here, its rows are gone, and the policy no longer exchanges', async () => {
      const { slug, admin, policy } = await h.newCustomer();
      const tokens = [await h.accessToken(slug), await h.accessToken(slug)];
      for (const token of tokens) expect((await h.call('GET', '/v1/whoami', { token })).status).toBe(200);
      expect(await indexRows(slug)).toHaveLength(2);
      expect((await h.call('DELETE', `/v1/trust-policies/${policy.id}`, { token: admin })).status).toBe(204);
      for (const token of tokens) {
        expect((await h.call('GET', '/v1/whoami', { token })).body).toMatchObject({ status: 401, code: 'api_key_invalid' });
        expect(await lookupRow(token)).toBeUndefined();
      }
      expect(await indexRows(slug)).toEqual([]);
      expect((await h.exchangeFor(slug)).body!.error).toBe('invalid_grant');
    });

    it("clears a policy's expired tokens away at its next exchange", async () => {
      const { slug } = await h.newCustomer({ policy: { tokenLifetimeMinutes: 5 } });
      const old = await h.accessToken(slug);
      clock.advance(5 * 60_000);
      await h.accessToken(slug);
      expect(await lookupRow(old)).toBeUndefined();
      expect(await indexRows(slug)).toHaveLength(1);
      await services.revocations.poll();
    });
  });
});

describe('the exchange is limited per address and per customer, before any verification', () => {
  let clock: ManualClock;
  let services: ServiceContext;
  let issuer: LoopbackOidcIssuer;
  let h: Awaited<ReturnType<typeof host>>;

  beforeAll(async () => {
    clock = new ManualClock(new Date());
    issuer = await LoopbackOidcIssuer.start({ now: () => clock.millis() });
    issuer.addKey('RS256');
    services = testServices(
      {
        TOKEN_EXCHANGE_RATE_LIMIT_ADDRESS_PER_SECOND: '1',
        TOKEN_EXCHANGE_RATE_LIMIT_ADDRESS_BURST: '5',
        TOKEN_EXCHANGE_RATE_LIMIT_CUSTOMER_PER_SECOND: '1',
        TOKEN_EXCHANGE_RATE_LIMIT_CUSTOMER_BURST: '2',
        // Tokens of one policy share its plan's rate limit.
        PLANS: '{"starter":{"requestsPerSecond":1,"burst":3}}',
      },
      { clock },
    );
    await services.revocations.poll();
    h = await host(services, issuer);
  });
  afterAll(async () => {
    await h.app.close();
    await services.dispose();
    await issuer.close();
  });

  it('refuses a customer past its limit with 429 (other customers go on), then the address past its own, without reading the token', async () => {
    const a = await h.newCustomer({ plan: 'starter' });
    const b = await h.newCustomer({ plan: 'starter' });
    const garbage = (slug: string) =>
      h.exchange({ grant_type: GRANT_TYPE_TOKEN_EXCHANGE, subject_token: 'not-a-jwt', subject_token_type: TOKEN_TYPE_JWT, audience: slug });
    // Two for A (its burst): judged, and refused for what they are.
    expect((await garbage(a.slug)).body!.error).toBe('invalid_grant');
    const second = await garbage(a.slug);
    expect(second.body!.error).toBe('invalid_grant');
    expect(second.headers.get('ratelimit-policy')).toBe('"per-address";q=5;w=5, "per-customer";q=2;w=2');
    const refused = await garbage(a.slug);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body).toMatchObject({ code: 'rate_limited', limit: 'per-customer' });
    // Not verified: no refusal was audited for it.
    expect((await h.audit(a.admin)).filter((e) => e.type === 'token.refused')).toHaveLength(2);
    // B is not held by A's limit; then the address has used its five.
    expect((await garbage(b.slug)).body!.error).toBe('invalid_grant');
    expect((await garbage(b.slug)).body!.error).toBe('invalid_grant');
    const byAddress = await garbage(b.slug);
    expect(byAddress.status).toBe(429);
    expect(byAddress.body).toMatchObject({ code: 'rate_limited', limit: 'per-address' });
    // Every request counts for the address, even one that names no customer.
    clock.advance(1000);
    expect((await h.exchange({ grant_type: 'password' })).body!.error).toBe('unsupported_grant_type');
    expect((await h.exchange({ grant_type: 'password' })).status).toBe(429);
  });

  it("holds the tokens of one policy to its plan's rate limit together", async () => {
    clock.advance(60_000);
    const { slug } = await h.newCustomer({ plan: 'starter' });
    const first = await h.accessToken(slug);
    clock.advance(60_000);
    const second = await h.accessToken(slug);
    const statuses = [];
    for (const token of [first, first, second, second]) statuses.push((await h.call('GET', '/v1/whoami', { token })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});

describe('the exchange outside local mode reads no issuer at an address that is not public (the outbound guard)', () => {
  let services: ServiceContext;
  let h: Awaited<ReturnType<typeof host>>;
  // Names resolved by the host through the in-memory resolver alone: no DNS.
  const resolver = new MemoryHostResolver({
    'issuer.example': '127.0.0.1',
    'metadata.example': '169.254.169.254',
    'mixed.example': ['8.8.8.8', '10.1.2.3'],
  });
  const issuers = Object.fromEntries(
    ['issuer.example', 'metadata.example', 'mixed.example'].map((name) => [name, new OidcTestIssuer(`https://${name}`)]),
  );

  beforeAll(async () => {
    for (const issuer of Object.values(issuers)) issuer.addKey('ES256');
    // The production rules (what `runtime` decides); storage and portal tokens stay the test ones.
    services = createServices(
      { ...testConfig(), runtime: 'production' },
      { secrets: new MemorySecretStore(), background: false, resolver },
    );
    h = await host(services, issuers['issuer.example']!);
  });
  afterAll(async () => {
    await h.app.close();
    await services.dispose();
  });

  it.each([
    [
      'issuer.example',
      /^not read \(not_allowed\): issuer\.example resolves to 127\.0\.0\.1 \(loopback, 127\.0\.0\.0\/8\), not a public address$/,
    ],
    [
      'metadata.example',
      /metadata\.example resolves to 169\.254\.169\.254 \(link-local, 169\.254\.0\.0\/16, where cloud metadata services answer\)/,
    ],
    ['mixed.example', /mixed\.example resolves to 10\.1\.2\.3 \(private, 10\.0\.0\.0\/8\)/],
  ])(
    'refuses a token of an issuer whose name resolves to a private address (%s): invalid_grant, and the audit says why',
    async (name, detail) => {
      const issuer = issuers[name]!;
      const { slug, admin, policy } = await h.newCustomer({ policy: { issuer: issuer.issuer } });
      const before = resolver.lookups.length;
      const answer = await h.exchange({
        grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
        subject_token: issuer.sign({ aud: slug, repository_owner: 'acme' }),
        subject_token_type: TOKEN_TYPE_JWT,
        audience: slug,
      });
      expect({ status: answer.status, body: answer.body }).toEqual({
        status: 400,
        body: { error: 'invalid_grant', error_description: INVALID_GRANT_DESCRIPTION },
      });
      expect(resolver.lookups.slice(before)).toEqual([name]);
      const refused = (await h.audit(admin)).find((e) => e.type === 'token.refused');
      expect(refused).toMatchObject({
        details: { reason: 'issuer_not_allowed', detail: expect.stringMatching(detail), issuer: issuer.issuer },
      });
      expect(policy.issuer).toBe(issuer.issuer);
    },
  );
});
