import { randomBytes } from 'node:crypto';
import { functionDefinitions } from '../../functions/registry';
import type { ServiceContext } from '../../app/context';
import { rawRequest } from '../support/fuzz';
import { caller, problemOf, serveApp } from '../support/http';
import { portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { testServices } from '../support/services';

type App = Awaited<ReturnType<typeof serveApp>>;

describe('key management API (portal tokens, management keys), against Azurite', () => {
  let services: ServiceContext;
  let app: App;
  let staffToken: string;

  beforeAll(async () => {
    services = testServices({ PLANS: '{"pro":{"keyLimit":5}}' });
    app = await serveApp(services);
    staffToken = await portalToken(services, { roles: ['Staff'], sub: 'staff-1', name: 'Sam Staff' });
  });
  afterAll(async () => {
    await app.close();
    await services.dispose();
  });

  // The app is served in beforeAll: the client is bound to it at each call.
  const call: ReturnType<typeof caller> = (method, path, options) => caller(app)(method, path, options);

  /** A customer created by staff over HTTP, and a CustomerAdmin token for it. */
  async function newCustomer(plan = 'pro') {
    const slug = `k${randomBytes(4).toString('hex')}`;
    const created = await call('POST', '/v1/staff/customers', { token: staffToken, body: { slug, name: `Customer ${slug}`, plan } });
    expect(created.status).toBe(201);
    const token = await portalToken(services, { customer: slug, roles: ['CustomerAdmin'], sub: `admin-${slug}`, name: 'Ada Admin' });
    return { slug, token };
  }

  async function issue(token: string, body: Record<string, unknown>) {
    const response = await call('POST', '/v1/customer-keys/issue', { token, body });
    if (response.status === 201) trackSecret(response.body!.key);
    return response;
  }

  describe('happy path', () => {
    it('staff create a customer, its admin issues a key shown once, lists it masked, revokes it', async () => {
      const { slug, token } = await newCustomer();
      const empty = await call('GET', '/v1/customer-keys', { token });
      expect(empty.body).toEqual({ customer: slug, sandbox: false, activeKeyCount: 0, keyLimit: 5, keys: [] });

      const issued = await issue(token, { label: '  checkout-prod  ', application: 'checkout', environment: 'live', type: 'primary' });
      expect(issued.status).toBe(201);
      expect(issued.headers.get('cache-control')).toBe('no-store');
      expect(issued.body!.key).toMatch(new RegExp(`^vp_cust_${slug}\\.[A-Za-z0-9]{32}\\.[A-Za-z0-9_-]{43}$`));
      expect(issued.body!.metadata).toMatchObject({
        label: 'checkout-prod',
        application: 'checkout',
        type: 'primary',
        environment: 'live',
        status: 'active',
        createdBy: { type: 'user', id: `admin-${slug}`, name: 'Ada Admin' },
        lastUsedAt: null,
        revokedAt: null,
      });
      const secret = issued.body!.key.split('.')[2] as string;
      expect((await call('GET', '/v1/whoami', { key: issued.body!.key })).status).toBe(200);

      const listed = await call('GET', '/v1/customer-keys', { token });
      expect(listed.body!.keys).toHaveLength(1);
      expect(listed.body!.keys[0].displayPrefix).toBe(`vp_cust_${slug}.…${secret.slice(0, 4)}…${secret.slice(-4)}`);
      expect(listed.text).not.toContain(secret);
      expect(listed.text).not.toMatch(/[0-9a-f]{64}/); // never a hash
      expect(listed.text).not.toContain('secretHash');

      const kept = await issue(token, { label: 'spare', application: 'checkout' });
      expect(kept.body!.metadata).toMatchObject({ type: 'secondary', environment: 'live' });
      const revoked = await call('DELETE', `/v1/customer-keys/${issued.body!.metadata.id}`, { token });
      expect(revoked.status).toBe(204);
      expect(revoked.text).toBe('');
      expect((await call('GET', '/v1/whoami', { key: issued.body!.key })).status).toBe(401);
      expect((await call('DELETE', `/v1/customer-keys/${issued.body!.metadata.id}`, { token })).status).toBe(204); // idempotent
      const after = await call('GET', '/v1/customer-keys', { token });
      expect(after.body!.activeKeyCount).toBe(1);
      expect(after.body!.keys.find((k: { id: string }) => k.id === issued.body!.metadata.id)).toMatchObject({
        status: 'revoked',
        revokedBy: { name: 'Ada Admin' },
      });
    });

    it('refuses to revoke the last active key unless forced', async () => {
      const { token } = await newCustomer();
      const only = await issue(token, { label: 'only', application: 'a' });
      const refused = await call('DELETE', `/v1/customer-keys/${only.body!.metadata.id}`, { token });
      expect(refused.status).toBe(409);
      expect((await problemOf(new Response(refused.text, { status: 409, headers: refused.headers }))).code).toBe('last_active_key');
      expect((await call('GET', '/v1/whoami', { key: only.body!.key })).status).toBe(200);
      expect((await call('DELETE', `/v1/customer-keys/${only.body!.metadata.id}?force=true`, { token })).status).toBe(204);
      expect((await call('GET', '/v1/whoami', { key: only.body!.key })).status).toBe(401);
    });

    it('keeps labels unique among active keys (trimmed, case-insensitive) and frees a label on revocation', async () => {
      const { token } = await newCustomer();
      const first = await issue(token, { label: 'CI-Pipeline', application: 'ci' });
      await issue(token, { label: 'other', application: 'ci' });
      const clash = await issue(token, { label: ' ci-pipeline ', application: 'ci' });
      expect(clash.status).toBe(409);
      expect(clash.body).toMatchObject({ code: 'label_taken' });
      await call('DELETE', `/v1/customer-keys/${first.body!.metadata.id}`, { token });
      expect((await issue(token, { label: 'ci-pipeline', application: 'ci' })).status).toBe(201);
    });

    it('caps active keys by plan, with a staff override', async () => {
      const { slug, token } = await newCustomer('starter');
      expect((await issue(token, { label: 'a', application: 'x' })).status).toBe(201);
      expect((await issue(token, { label: 'b', application: 'x' })).status).toBe(201);
      const third = await issue(token, { label: 'c', application: 'x' });
      expect(third.status).toBe(409);
      expect(third.body).toMatchObject({ code: 'key_limit_reached', keyLimit: 2 });

      const raised = await call('PATCH', `/v1/staff/customers/${slug}`, { token: staffToken, body: { keyLimit: 3 } });
      expect(raised.body).toMatchObject({ slug, plan: 'starter', keyLimit: 3, keyLimitOverride: 3, activeKeyCount: 2 });
      expect((await issue(token, { label: 'c', application: 'x' })).status).toBe(201);
      expect((await issue(token, { label: 'd', application: 'x' })).status).toBe(409);

      const back = await call('PATCH', `/v1/staff/customers/${slug}`, { token: staffToken, body: { keyLimit: null } });
      expect(back.body).toMatchObject({ keyLimit: 2, keyLimitOverride: null });
    });

    it('holds the cap under 50 parallel issue calls: exactly 5 keys on a cap of 5', async () => {
      const { slug, token } = await newCustomer('pro');
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => issue(token, { label: `race-${i}`, application: 'x' })));
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(5);
      expect(statuses.filter((s) => s === 409)).toHaveLength(45);
      expect(results.filter((r) => r.status === 409).every((r) => r.body!.code === 'key_limit_reached')).toBe(true);
      const listed = await call('GET', '/v1/customer-keys', { token });
      expect(listed.body!.keys.filter((k: { status: string }) => k.status === 'active')).toHaveLength(5);
      expect((await services.useCases.customers.require(slug)).activeKeyCount).toBe(5);
    });

    it('resets every active key: same labels and shapes, old keys stop at once, new ones work', async () => {
      const { token } = await newCustomer();
      const a = await issue(token, { label: 'web', application: 'shop', type: 'primary' });
      const b = await issue(token, { label: 'batch', application: 'etl', environment: 'test' });
      const reset = await call('POST', '/v1/customer-keys/reset', { token });
      expect(reset.status).toBe(200);
      reset.body!.keys.forEach((k: { key: string }) => trackSecret(k.key));
      expect(reset.body!.keys.map((k: { metadata: { label: string } }) => k.metadata.label).sort()).toEqual(['batch', 'web']);
      expect(reset.body!.keys.find((k: { metadata: { label: string } }) => k.metadata.label === 'batch').metadata).toMatchObject({
        environment: 'test',
        application: 'etl',
      });
      expect(reset.body!.replaced.map((r: { oldKeyId: string }) => r.oldKeyId).sort()).toEqual(
        [a.body!.metadata.id, b.body!.metadata.id].sort(),
      );
      for (const old of [a, b]) expect((await call('GET', '/v1/whoami', { key: old.body!.key })).status).toBe(401);
      for (const fresh of reset.body!.keys) expect((await call('GET', '/v1/whoami', { key: fresh.key })).status).toBe(200);
      const listed = await call('GET', '/v1/customer-keys', { token });
      expect(listed.body!.activeKeyCount).toBe(2);
      expect(listed.body!.keys).toHaveLength(4);
    });

    it('records every key event in the audit log with who, when, key and request id', async () => {
      const { token } = await newCustomer();
      const issued = await call('POST', '/v1/customer-keys/issue', { token, body: { label: 'audited', application: 'a' } });
      trackSecret(issued.body!.key);
      await issue(token, { label: 'spare', application: 'a' });
      const revoked = await call('DELETE', `/v1/customer-keys/${issued.body!.metadata.id}`, { token });
      const audit = await call('GET', '/v1/customer-keys/audit', { token });
      expect(audit.status).toBe(200);
      const events = audit.body!.events as Array<Record<string, any>>;
      expect(events.map((e) => e.type)).toEqual(['key.revoked', 'key.issued', 'key.issued']); // newest first
      expect(events[0]).toMatchObject({
        keyId: issued.body!.metadata.id,
        actor: { type: 'user', name: 'Ada Admin' },
        requestId: revoked.headers.get('x-request-id'),
      });
      expect(events[2]).toMatchObject({
        keyId: issued.body!.metadata.id,
        requestId: issued.headers.get('x-request-id'),
        details: { label: 'audited' },
      });
      const page = await call('GET', '/v1/customer-keys/audit?limit=1', { token });
      expect(page.body!.events).toHaveLength(1);
      const next = await call('GET', `/v1/customer-keys/audit?limit=1&cursor=${encodeURIComponent(page.body!.cursor)}`, { token });
      expect(next.body!.events[0].id).toBe(events[1]!.id);
    });
  });

  describe('the request workflow', () => {
    it('runs issue-key and revoke-key at once, returning the new key only in that response', async () => {
      const { token } = await newCustomer();
      const submitted = await call('POST', '/v1/customer-keys/requests/issue-key', {
        token,
        body: { label: 'via-request', application: 'app' },
      });
      expect(submitted.status).toBe(201);
      trackSecret(submitted.body!.key);
      expect(submitted.body!.request).toMatchObject({
        action: 'issue-key',
        status: 'executed',
        result: { keyId: submitted.body!.metadata.id },
        decidedBy: { name: 'Ada Admin' },
      });
      expect((await call('GET', '/v1/whoami', { key: submitted.body!.key })).status).toBe(200);

      const fetched = await call('GET', `/v1/customer-keys/requests/${submitted.body!.request.id}`, { token });
      expect(fetched.body).toMatchObject({ id: submitted.body!.request.id, status: 'executed' });
      expect(fetched.text).not.toContain(submitted.body!.key.split('.')[2]);

      await issue(token, { label: 'spare', application: 'app' });
      const revoke = await call('POST', '/v1/customer-keys/requests/revoke-key', { token, body: { keyId: submitted.body!.metadata.id } });
      expect(revoke.status).toBe(200);
      expect(revoke.body!.request).toMatchObject({ action: 'revoke-key', status: 'executed' });
      expect((await call('GET', '/v1/whoami', { key: submitted.body!.key })).status).toBe(401);

      const list = await call('GET', '/v1/customer-keys/requests', { token });
      expect(list.body!.requests.map((r: { action: string }) => r.action)).toEqual(['revoke-key', 'issue-key']);
      expect(list.text).not.toContain(submitted.body!.key.split('.')[2]);
    });

    it('records a request a business rule refuses as failed', async () => {
      const { token } = await newCustomer();
      await issue(token, { label: 'dup', application: 'a' });
      const failed = await call('POST', '/v1/customer-keys/requests/issue-key', { token, body: { label: 'dup', application: 'a' } });
      expect(failed.status).toBe(409);
      expect(failed.body).toMatchObject({ code: 'label_taken', keyRequest: { status: 'failed' } });
      const stored = await call('GET', `/v1/customer-keys/requests/${failed.body!.keyRequest.id}`, { token });
      expect(stored.body).toMatchObject({ status: 'failed', failure: { code: 'label_taken' } });
    });

    it('keeps rotate-tenant-key pending for staff, who see it with the slug and can reject it', async () => {
      const { slug, token } = await newCustomer();
      const submitted = await call('POST', '/v1/customer-keys/requests/rotate-tenant-key', { token, body: { reason: 'suspected leak' } });
      expect(submitted.status).toBe(202);
      expect(submitted.body!.request).toMatchObject({ status: 'pending', params: { reason: 'suspected leak' }, decidedBy: null });
      const queue = await call('GET', '/v1/staff/customer-keys/requests?status=pending', { token: staffToken });
      expect(queue.body!.requests).toContainEqual(
        expect.objectContaining({ id: submitted.body!.request.id, customer: slug, action: 'rotate-tenant-key', status: 'pending' }),
      );

      const rejected = await call('POST', `/v1/staff/customer-keys/requests/${submitted.body!.request.id}/reject`, {
        token: staffToken,
        body: { reason: 'not needed' },
      });
      expect(rejected.status).toBe(200);
      expect(rejected.body).toMatchObject({ status: 'rejected', note: 'not needed', decidedBy: { name: 'Sam Staff' } });
      const again = await call('POST', `/v1/staff/customer-keys/requests/${submitted.body!.request.id}/reject`, { token: staffToken });
      expect(again.body).toMatchObject({ code: 'request_not_pending' });
      const audit = await call('GET', '/v1/customer-keys/audit', { token });
      expect(audit.body!.events.map((e: { type: string }) => e.type)).toEqual(['request.rejected', 'request.submitted']);
    });

    it('files at most one pending rotate-tenant-key per customer: a duplicate, even 20 at once, answers with the pending one', async () => {
      const { token } = await newCustomer();
      const first = await call('POST', '/v1/customer-keys/requests/rotate-tenant-key', { token, body: { reason: 'yearly' } });
      expect(first.status).toBe(202);
      const again = await call('POST', '/v1/customer-keys/requests/rotate-tenant-key', { token, body: { reason: 'again' } });
      expect(again.status).toBe(200);
      expect(again.body!.request).toMatchObject({ id: first.body!.request.id, status: 'pending', params: { reason: 'yearly' } });

      const { token: other } = await newCustomer();
      const racing = await Promise.all(
        Array.from({ length: 20 }, () => call('POST', '/v1/customer-keys/requests/rotate-tenant-key', { token: other, body: {} })),
      );
      const ids = new Set(racing.map((r) => r.body!.request.id as string));
      expect(ids.size).toBe(1);
      expect(racing.filter((r) => r.status === 202)).toHaveLength(1);
      const listed = (await call('GET', '/v1/customer-keys/requests', { token: other })).body!.requests as Array<{ status: string }>;
      expect(listed.filter((r) => r.status === 'pending')).toHaveLength(1);
      const queue = (await call('GET', '/v1/staff/customer-keys/requests?status=pending', { token: staffToken })).body!.requests as Array<{
        id: string;
      }>;
      expect(queue.filter((r) => ids.has(r.id))).toHaveLength(1);

      // Once staff decide, the customer can ask again.
      await call('POST', `/v1/staff/customer-keys/requests/${[...ids][0]}/reject`, { token: staffToken, body: {} });
      const next = await call('POST', '/v1/customer-keys/requests/rotate-tenant-key', { token: other, body: {} });
      expect(next.status).toBe(202);
      expect(ids.has(next.body!.request.id)).toBe(false);
    });

    it('refuses unknown actions (404, naming nothing) and bad bodies (400 validation_failed)', async () => {
      const { token } = await newCustomer();
      // An action that does not exist names nothing, like any path parameter.
      const unknown = await call('POST', '/v1/customer-keys/requests/delete-everything', { token, body: {} });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toMatchObject({ code: 'not_found' });
      const bad = await call('POST', '/v1/customer-keys/requests/revoke-key', { token, body: { keyId: 5 } });
      expect(bad.body).toMatchObject({ code: 'validation_failed', errors: [expect.objectContaining({ path: 'keyId' })] });
    });
  });

  describe('error path: bad input', () => {
    it.each([
      ['no label', { application: 'a' }, 'label'],
      ['an empty label', { label: '   ', application: 'a' }, 'label'],
      ['a label over 64 characters', { label: 'x'.repeat(65), application: 'a' }, 'label'],
      ['a control character', { label: 'a\u0007b', application: 'a' }, 'label'],
      ['a right-to-left override', { label: 'invoice\u202Efdp.exe', application: 'a' }, 'label'],
      ['a bidirectional isolate', { label: 'prod', application: 'billing\u2067x\u2069' }, 'application'],
      ['a zero-width space', { label: 'pro\u200Bd', application: 'a' }, 'label'],
      ['a byte-order mark inside', { label: 'pr\uFEFFod', application: 'a' }, 'label'],
      ['a no-break space posing as a space', { label: 'prod\u00A0key', application: 'a' }, 'label'],
      ['a Hangul filler that draws as blank', { label: 'prod\u3164', application: 'a' }, 'label'],
      ['an unknown type', { label: 'a', application: 'a', type: 'root' }, 'type'],
      ['an unknown environment', { label: 'a', application: 'a', environment: 'prod' }, 'environment'],
    ])('refuses %s with 400 validation_failed naming the field', async (_name, body, field) => {
      const { token } = await newCustomer();
      const response = await call('POST', '/v1/customer-keys/issue', { token, body });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({
        code: 'validation_failed',
        errors: expect.arrayContaining([expect.objectContaining({ path: field })]),
      });
    });

    it('names the invisible character it refused, and accepts letters, accents, scripts and emoji (without variation selectors)', async () => {
      const { token } = await newCustomer();
      const refused = await call('POST', '/v1/customer-keys/issue', { token, body: { label: 'a\u202Eb', application: 'a' } });
      expect(JSON.stringify(refused.body)).toContain('U+202E');
      for (const label of ['Zürich prod', 'décisions-2', '東京 ingest', 'rocket 🚀', 'heart \u2764']) {
        expect((await call('POST', '/v1/customer-keys/issue', { token, body: { label, application: 'app' } })).status).toBe(201);
        await call('GET', '/v1/customer-keys', { token });
      }
    });

    it('refuses non-JSON (400), other content types (415) and oversized bodies (413)', async () => {
      const { token } = await newCustomer();
      expect((await call('POST', '/v1/customer-keys/issue', { token, body: '{"label":' })).body).toMatchObject({ code: 'invalid_body' });
      expect(
        (
          await call('POST', '/v1/customer-keys/issue', {
            token,
            body: 'label=a',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          })
        ).status,
      ).toBe(415);
      expect((await call('POST', '/v1/customer-keys/issue', { token, body: JSON.stringify({ label: 'x'.repeat(70_000) }) })).status).toBe(
        413,
      );
    });

    it('answers unknown keys and requests with 404', async () => {
      const { token } = await newCustomer();
      expect((await call('DELETE', '/v1/customer-keys/key_01ARZ3NDEKTSV4RRFFQ69G5FAV', { token })).body).toMatchObject({
        code: 'not_found',
      });
      expect((await call('DELETE', '/v1/customer-keys/whatever', { token })).status).toBe(404);
      expect((await call('GET', '/v1/customer-keys/requests/req_01ARZ3NDEKTSV4RRFFQ69G5FAV', { token })).status).toBe(404);
      expect(
        (await call('POST', '/v1/staff/customer-keys/requests/req_01ARZ3NDEKTSV4RRFFQ69G5FAV/execute', { token: staffToken })).status,
      ).toBe(404);
    });

    it('refuses staff input that breaks the rules', async () => {
      expect(
        (await call('POST', '/v1/staff/customers', { token: staffToken, body: { slug: 'sandbox', name: 'x', plan: 'pro' } })).body,
      ).toMatchObject({ code: 'validation_failed' });
      const { slug } = await newCustomer();
      expect((await call('POST', '/v1/staff/customers', { token: staffToken, body: { slug, name: 'x', plan: 'pro' } })).body).toMatchObject(
        { code: 'customer_exists' },
      );
      expect((await call('PATCH', `/v1/staff/customers/${slug}`, { token: staffToken, body: {} })).body).toMatchObject({
        code: 'validation_failed',
      });
      expect((await call('PATCH', '/v1/staff/customers/no-such-one', { token: staffToken, body: { plan: 'pro' } })).status).toBe(404);
    });
  });

  describe('security path', () => {
    it('answers no token or a bad token with 401 unauthenticated, a wrong role with 403 forbidden', async () => {
      const { slug } = await newCustomer();
      const none = await call('GET', '/v1/customer-keys');
      expect(none.status).toBe(401);
      expect(none.body).toMatchObject({ code: 'unauthenticated' });
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await call('GET', '/v1/customer-keys', { token: 'not.a.jwt' })).body).toMatchObject({ code: 'unauthenticated' });
      const expired = await portalToken(services, { customer: slug, roles: ['CustomerAdmin'] }, -120);
      expect((await call('GET', '/v1/customer-keys', { token: expired })).body).toMatchObject({ code: 'unauthenticated' });
      const staffOnly = await portalToken(services, { customer: slug, roles: ['Staff'] });
      expect((await call('GET', '/v1/customer-keys', { token: staffOnly })).body).toMatchObject({ code: 'forbidden' });
      const adminOnly = await portalToken(services, { customer: slug, roles: ['CustomerAdmin'] });
      expect((await call('GET', '/v1/staff/customer-keys/requests', { token: adminOnly })).body).toMatchObject({ code: 'forbidden' });
      const noCustomer = await portalToken(services, { roles: ['CustomerAdmin'] });
      expect((await call('GET', '/v1/customer-keys', { token: noCustomer })).body).toMatchObject({ code: 'forbidden' });
    });

    it("isolates tenants: customer A's admin cannot see, revoke or request on B (404)", async () => {
      const a = await newCustomer();
      const b = await newCustomer();
      const bKey = await issue(b.token, { label: 'b-key', application: 'b' });
      await issue(b.token, { label: 'b-spare', application: 'b' });
      const bRequest = await call('POST', '/v1/customer-keys/requests/rotate-tenant-key', { token: b.token, body: {} });

      const listed = await call('GET', '/v1/customer-keys', { token: a.token });
      expect(listed.body!.keys).toEqual([]);
      const revoke = await call('DELETE', `/v1/customer-keys/${bKey.body!.metadata.id}?force=true`, { token: a.token });
      expect(revoke.status).toBe(404);
      expect((await call('GET', '/v1/whoami', { key: bKey.body!.key })).status).toBe(200);
      expect(
        (
          await call('POST', '/v1/customer-keys/requests/revoke-key', {
            token: a.token,
            body: { keyId: bKey.body!.metadata.id, force: true },
          })
        ).status,
      ).toBe(404);
      expect((await call('GET', `/v1/customer-keys/requests/${bRequest.body!.request.id}`, { token: a.token })).status).toBe(404);
      // A's log holds A's own attempts, and nothing of B's.
      const audit = await call('GET', '/v1/customer-keys/audit', { token: a.token });
      expect(audit.body!.events.length).toBeGreaterThan(0);
      for (const event of audit.body!.events) expect(event.actor.id).toBe(`admin-${a.slug}`);
      expect(audit.text).not.toContain(bRequest.body!.request.id);
      const bAudit = await call('GET', '/v1/customer-keys/audit', { token: b.token });
      expect(bAudit.body!.events.every((e: { actor: { id: string } }) => e.actor.id === `admin-${b.slug}`)).toBe(true);
    });

    it('lets a management key manage its own customer, recorded by its label; ingest keys cannot manage', async () => {
      const { slug, token } = await newCustomer();
      const management = await issue(token, { label: 'rotation-bot', application: 'automation', type: 'management' });
      const ingest = await issue(token, { label: 'ingest', application: 'app' });

      const listed = await call('GET', '/v1/customer-keys', { key: management.body!.key });
      expect(listed.status).toBe(200);
      expect(listed.body!.customer).toBe(slug);
      const fresh = await call('POST', '/v1/customer-keys/issue', {
        key: management.body!.key,
        body: { label: 'rotated', application: 'app' },
      });
      expect(fresh.status).toBe(201);
      trackSecret(fresh.body!.key);
      expect(fresh.body!.metadata.createdBy).toEqual({ type: 'key', id: management.body!.metadata.id, name: 'rotation-bot' });
      expect((await call('DELETE', `/v1/customer-keys/${ingest.body!.metadata.id}`, { key: management.body!.key })).status).toBe(204);
      const audit = await call('GET', '/v1/customer-keys/audit', { key: management.body!.key });
      expect(audit.body!.events[0]).toMatchObject({ type: 'key.revoked', actor: { type: 'key', name: 'rotation-bot' } });
      const bearer = await call('GET', '/v1/customer-keys/requests', { headers: { authorization: `Bearer ${management.body!.key}` } });
      expect(bearer.status).toBe(200);

      expect((await call('GET', '/v1/customer-keys', { key: fresh.body!.key })).body).toMatchObject({ code: 'forbidden' });
      const ingestWithManagement = await app.fetch('/v1/traces', {
        method: 'POST',
        headers: { 'x-api-key': management.body!.key, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(ingestWithManagement.status).toBe(403);
    });

    it('staff routes accept neither management nor ingest keys; ingest routes never accept portal tokens', async () => {
      const { token } = await newCustomer();
      const management = await issue(token, { label: 'bot', application: 'automation', type: 'management' });
      expect((await call('GET', '/v1/staff/customer-keys/requests', { key: management.body!.key })).body).toMatchObject({
        code: 'unauthenticated',
      });
      expect(
        (await call('GET', '/v1/staff/customer-keys/requests', { headers: { authorization: `Bearer ${management.body!.key}` } })).body,
      ).toMatchObject({ code: 'unauthenticated' });
      expect((await call('GET', '/v1/whoami', { token })).body).toMatchObject({ code: 'api_key_malformed' });
      expect((await call('GET', '/v1/whoami', { token: staffToken })).body).toMatchObject({ code: 'api_key_malformed' });
    });

    it('reads the shared sandbox read-only with X-Veriproof-Sandbox: true', async () => {
      const { token } = await newCustomer();
      await issue(token, { label: 'mine', application: 'a' });
      const sandbox = await call('GET', '/v1/customer-keys', { token, headers: { 'x-veriproof-sandbox': 'true' } });
      expect(sandbox.status).toBe(200);
      expect(sandbox.body).toMatchObject({ customer: 'sandbox', sandbox: true });
      expect(sandbox.body!.keys.some((k: { label: string }) => k.label === 'mine')).toBe(false);
      for (const [method, path] of [
        ['POST', '/v1/customer-keys/issue'],
        ['POST', '/v1/customer-keys/reset'],
        ['DELETE', '/v1/customer-keys/key_01ARZ3NDEKTSV4RRFFQ69G5FAV'],
        ['POST', '/v1/customer-keys/requests/issue-key'],
      ] as const) {
        const write = await call(method, path, {
          token,
          headers: { 'x-veriproof-sandbox': 'true' },
          body: { label: 'x', application: 'y' },
        });
        expect(write.status).toBe(403);
        expect(write.body).toMatchObject({ code: 'sandbox_read_only' });
      }
    });
  });

  describe('hardening', () => {
    it('takes X-Veriproof-Sandbox as true or false sent once; a repeated or odd value is 400, never the real tenant', async () => {
      const { token } = await newCustomer();
      expect((await call('GET', '/v1/customer-keys', { token, headers: { 'x-veriproof-sandbox': 'false' } })).body).toMatchObject({
        sandbox: false,
      });
      expect((await call('GET', '/v1/customer-keys', { token, headers: { 'x-veriproof-sandbox': ' TRUE ' } })).body).toMatchObject({
        sandbox: true,
      });
      for (const value of ['true, true', 'true, false', 'false, true', 'yes', '1', '']) {
        const answer = await call('GET', '/v1/customer-keys', { token, headers: { 'x-veriproof-sandbox': value } });
        expect({ value, status: answer.status, code: answer.body!.code }).toEqual({ value, status: 400, code: 'validation_failed' });
      }
      // Sent twice on the wire (the host joins repeats), through the raw client.
      const raw = await rawRequest(app.url, 'GET', '/v1/customer-keys', [
        ['authorization', `Bearer ${token}`],
        ['x-veriproof-sandbox', 'true'],
        ['x-veriproof-sandbox', 'false'],
      ]);
      expect(raw.status).toBe(400);
    });

    it('limits and counts management keys like ingest keys: RateLimit fields, 429 with Retry-After, usage', async () => {
      const { slug, token } = await newCustomer();
      const management = await issue(token, { label: 'automation', application: 'ops', type: 'management' });
      const keyId = management.body!.metadata.id as string;
      expect(
        (
          await call('PATCH', `/v1/staff/customers/${slug}/keys/${keyId}`, {
            token: staffToken,
            body: { rateLimit: { requestsPerSecond: 1, burst: 2 } },
          })
        ).status,
      ).toBe(200);
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await call('GET', '/v1/customer-keys', { key: management.body!.key }));
      expect(answers[0]!.status).toBe(200);
      expect(answers[0]!.headers.get('ratelimit-policy')).toBe('"per-key";q=2;w=2');
      expect(answers[0]!.headers.get('ratelimit')).toMatch(/^"per-key";r=\d+;t=\d+$/);
      const limited = answers.find((a) => a.status === 429)!;
      expect(limited.body).toMatchObject({ code: 'rate_limited' });
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      await services.usageRecorder.flush();
      const usage = await call('GET', `/v1/customer-keys/${keyId}/usage?granularity=hour`, { token });
      expect(usage.body!.totals.accepted + usage.body!.totals.rateLimited).toBe(4);
      expect(usage.body!.totals.rateLimited).toBeGreaterThanOrEqual(1);
    });

    it('lets only a portal admin issue or replace management keys, so a leaked one cannot plant a survivor', async () => {
      const { token } = await newCustomer();
      const management = await issue(token, { label: 'rotation-bot', application: 'automation', type: 'management' });
      const ingest = await issue(token, { label: 'ingest', application: 'app' });
      trackSecret(management.body!.key);
      trackSecret(ingest.body!.key);
      const viaKey = { key: management.body!.key };
      const minted = await call('POST', '/v1/customer-keys/issue', {
        ...viaKey,
        body: { label: 'survivor', application: 'x', type: 'management' },
      });
      expect(minted).toMatchObject({ status: 403, body: { code: 'forbidden' } });
      const requested = await call('POST', '/v1/customer-keys/requests/issue-key', {
        ...viaKey,
        body: { label: 'survivor', application: 'x', type: 'management' },
      });
      expect(requested.body).toMatchObject({ code: 'forbidden' });
      expect((await call('POST', '/v1/customer-keys/issue', { ...viaKey, body: { label: 'more-ingest', application: 'x' } })).status).toBe(
        201,
      );

      // A reset with the management key replaces the ingest keys and leaves management keys alone.
      const reset = await call('POST', '/v1/customer-keys/reset', viaKey);
      expect(reset.status).toBe(200);
      for (const k of reset.body!.keys) trackSecret(k.key);
      expect(reset.body!.keys.every((k: { metadata: { type: string } }) => k.metadata.type !== 'management')).toBe(true);
      expect(reset.body!.replaced.map((r: { oldKeyId: string }) => r.oldKeyId)).not.toContain(management.body!.metadata.id);
      expect((await call('GET', '/v1/customer-keys', viaKey)).status).toBe(200); // still valid

      // A portal admin can do both.
      const adminMinted = await call('POST', '/v1/customer-keys/issue', {
        token,
        body: { label: 'bot-2', application: 'automation', type: 'management' },
      });
      expect(adminMinted.status).toBe(201);
      trackSecret(adminMinted.body!.key);
      const adminReset = await call('POST', '/v1/customer-keys/reset', { token });
      for (const k of adminReset.body!.keys) trackSecret(k.key);
      expect(adminReset.body!.replaced.map((r: { oldKeyId: string }) => r.oldKeyId)).toContain(management.body!.metadata.id);
    });
  });

  describe('API description', () => {
    it('serves an OpenAPI 3.1 document that a third-party validator accepts and that covers every route', async () => {
      const { Validator } = (await import('@seriousme/openapi-schema-validator')) as unknown as {
        Validator: new () => { validate(doc: unknown): Promise<{ valid: boolean; errors?: unknown }> };
      };
      const response = await call('GET', '/v1/openapi.json');
      expect(response.status).toBe(200);
      const document = response.body!;
      expect(document.openapi).toBe('3.1.0');
      const result = await new Validator().validate(document);
      expect(result.errors).toBeUndefined();
      expect(result.valid).toBe(true);
      // Every route and method is there; a route whose body an {action} chooses is one path per action.
      const operations = new Set(
        Object.values(document.paths as Record<string, Record<string, { operationId: string }>>).flatMap((m) =>
          Object.values(m).map((o) => o.operationId),
        ),
      );
      for (const d of functionDefinitions) {
        if (d.kind !== 'http') continue;
        for (const method of d.methods) {
          const id = d.methods.length > 1 ? `${d.name}-${method.toLowerCase()}` : d.name;
          expect({ route: d.route, documented: operations.has(id) || [...operations].some((o) => o.startsWith(`${id}-`)) }).toEqual({
            route: d.route,
            documented: true,
          });
        }
      }
      const issue = document.paths['/v1/customer-keys/issue'].post;
      expect(issue.requestBody.content['application/json'].schema.properties.label).toMatchObject({ type: 'string', maxLength: 64 });
      expect(Object.keys(issue.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '409']));
    });
  });
});
