import { createHash, randomBytes } from 'node:crypto';
import { odata } from '@azure/data-tables';
import type { Clock } from '../../shared/clock';
import { absentIfNotFound } from '../../shared/adapters/azure-errors';
import { lookupPartition } from '../../shared/adapters/table/key-rows';
import { TOKEN_ROW_PREFIX } from '../../shared/adapters/table/federated-token-rows';
import { SECRET_RANDOM_BYTES, formatCompoundKey, hashSecret, secretFromRandom } from '../../shared/keys/compound-key';
import { formatFederatedToken, generateFederatedSecret } from '../../shared/keys/federated-token';
import { GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_JWT } from '../../shared/oauth/token-request';
import type { ServiceContext } from '../../app/context';
import { FakeGitHubScanner, type ReportMatch } from '../../fixtures/github-scanner';
import { LoopbackOidcIssuer } from '../../fixtures/oidc-issuer';
import { caller, problemOf, serveApp } from '../support/http';
import { op, portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { customerWithKey, testServices } from '../support/services';

/** Real time, moved forward by hand: lets a test step past the once-a-minute refresh bound. */
class SteppingClock implements Clock {
  offset = 0;
  now = () => new Date(Date.now() + this.offset);
  millis = () => Date.now() + this.offset;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const REPORT = '/v1/secret-scanning/github';

/**
 * GitHub's secret-scanning partner endpoint against real Azurite, with a local stand-in for
 * GitHub (its own key pair, its key list served in GitHub's format): signed reports revoke or
 * flag keys by the customer's policy; everything else changes nothing.
 */
describe('POST /v1/secret-scanning/github', () => {
  let scanner: FakeGitHubScanner;
  let clock: SteppingClock;
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;

  const send = (report: { body: string; headers: Record<string, string> }) =>
    app.fetch(REPORT, { method: 'POST', headers: report.headers, body: report.body });
  const whoami = (key: string) => app.fetch('/v1/whoami', { headers: { 'x-api-key': key } });
  const auditOf = async (slug: string) => (await services.useCases.audit.list(slug, { limit: 100 })).items;

  beforeAll(async () => {
    scanner = await FakeGitHubScanner.start();
    clock = new SteppingClock();
    // Storage operations are counted: no webhook fast-path pass after an event among them either.
    services = testServices({ GITHUB_SECRET_SCANNING_KEYS_URL: scanner.url }, { clock, webhookFastPath: false });
    await services.revocations.poll();
    app = await serveApp(services, { timers: false }); // storage operations are counted: no wall-clock timer passes among them
  });
  afterAll(async () => {
    await app?.close();
    await services?.dispose();
    await scanner?.close();
  });

  it('revokes a reported key at once (the default policy), records where, and answers with feedback', async () => {
    const { customer, key, keyId } = await customerWithKey(services);
    expect((await whoami(key)).status).toBe(200);
    const url = 'https://github.com/octo/app/blob/0123abc/config.js#L3';
    const response = await send(scanner.report([{ token: key, url, source: 'content' }]));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([{ token_hash: sha256(key), token_type: 'veriproof_api_key', label: 'true_positive' }]);

    const refused = await whoami(key);
    expect(refused.status).toBe(401);
    expect((await problemOf(refused)).code).toBe('api_key_invalid');

    const listed = (await services.useCases.keys.list(customer.slug)).find((k) => k.id === keyId)!;
    expect(listed.status).toBe('revoked');
    expect(listed.revokedBy).toMatchObject({ type: 'system', id: 'github-secret-scanning' });
    expect(listed.exposures).toEqual([{ reporter: 'github', url, source: 'content', reportedAt: expect.any(String) }]);
    const events = await auditOf(customer.slug);
    expect(events.filter((e) => e.type === 'key.exposed')).toEqual([
      expect.objectContaining({ keyId, details: expect.objectContaining({ url, source: 'content', policy: 'revoke', action: 'revoked' }) }),
    ]);
    expect(events.filter((e) => e.type === 'key.revoked')).toEqual([
      expect.objectContaining({ keyId, details: expect.objectContaining({ reason: 'exposed' }) }),
    ]);
  });

  it('keeps a reported key working under the notify policy, marked exposed, and shows it in the listing', async () => {
    const { customer, key, keyId } = await customerWithKey(services);
    const admin = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'] });
    const set = await app.fetch('/v1/customer-keys/settings', {
      method: 'PATCH',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ leakedKeyPolicy: 'notify' }),
    });
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ customer: customer.slug, leakedKeyPolicy: 'notify' });

    const url = 'https://www.npmjs.com/package/leaky/v/1.0.0';
    expect((await send(scanner.report([{ token: key, url, source: 'npm' }]))).status).toBe(200);
    expect((await whoami(key)).status).toBe(200);

    const listing = await app.fetch('/v1/customer-keys', { headers: { authorization: `Bearer ${admin}` } });
    const body = (await listing.json()) as { keys: Array<{ id: string; status: string; exposure: unknown }> };
    expect(body.keys.find((k) => k.id === keyId)).toMatchObject({
      status: 'active',
      exposure: { count: 1, places: [{ reporter: 'github', url, source: 'npm', reportedAt: expect.any(String) }] },
    });
    const exposed = (await auditOf(customer.slug)).filter((e) => e.type === 'key.exposed');
    expect(exposed).toEqual([expect.objectContaining({ details: expect.objectContaining({ policy: 'notify', action: 'flagged' }) })]);
  });

  it('records one exposure and one revocation when the same report comes twice, or to two instances at once', async () => {
    const { customer, key } = await customerWithKey(services);
    const report = scanner.report([{ token: key, url: 'https://github.com/o/r/blob/1/a.env', source: 'commit' }]);
    expect((await send(report)).status).toBe(200);
    const replay = await send(report);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual([expect.objectContaining({ label: 'true_positive' })]);

    // Two instances on the same tables receive one report at the same moment.
    const second = await customerWithKey(services);
    const twin = testServices({ GITHUB_SECRET_SCANNING_KEYS_URL: scanner.url, TABLES_PREFIX: services.useCases.config.tables.prefix });
    const twinApp = await serveApp(twin, { timers: false });
    try {
      const both = scanner.report([{ token: second.key, url: 'https://github.com/o/r/blob/2/b.env', source: 'content' }]);
      const answers = await Promise.all([send(both), twinApp.fetch(REPORT, { method: 'POST', headers: both.headers, body: both.body })]);
      expect(answers.map((a) => a.status)).toEqual([200, 200]);
    } finally {
      await twinApp.close();
      await twin.dispose();
    }
    for (const slug of [customer.slug, second.customer.slug]) {
      const events = await auditOf(slug);
      expect(events.filter((e) => e.type === 'key.exposed')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'key.revoked')).toHaveLength(1);
    }
  });

  it('records only the exposure for a key that is already revoked, and a new place as a second exposure', async () => {
    const { customer, key, keyId } = await customerWithKey(services);
    trackSecret((await services.useCases.keys.issue(customer.slug, { label: 'spare', application: 'a' }, op())).key);
    await services.useCases.keys.revoke(customer.slug, keyId, op());
    expect((await send(scanner.report([{ token: key, url: 'https://gist.github.com/x/1', source: 'gist_content' }]))).status).toBe(200);
    expect((await send(scanner.report([{ token: key, url: 'https://gist.github.com/x/2', source: 'gist_content' }]))).status).toBe(200);
    const events = await auditOf(customer.slug);
    expect(events.filter((e) => e.type === 'key.revoked')).toHaveLength(1); // ours, above
    expect(events.filter((e) => e.type === 'key.exposed').map((e) => e.details?.action)).toEqual(['already_revoked', 'already_revoked']);
    const record = (await services.useCases.keys.list(customer.slug)).find((k) => k.id === keyId)!;
    expect(record.exposures?.map((e) => e.url)).toEqual(['https://gist.github.com/x/1', 'https://gist.github.com/x/2']);
    expect(record.exposureCount).toBe(2);
  });

  it('answers a mixed batch match by match, calling storage only for tokens whose checksum holds', async () => {
    const active = await customerWithKey(services);
    const revoked = await customerWithKey(services);
    trackSecret((await services.useCases.keys.issue(revoked.customer.slug, { label: 'spare', application: 'a' }, op())).key);
    await services.useCases.keys.revoke(revoked.customer.slug, revoked.keyId, op());
    const component = active.key.split('.')[1]!;
    const notOurs = formatCompoundKey({ slug: 'nobody-here', component, secret: secretFromRandom(randomBytes(SECRET_RANDOM_BYTES)) });
    const lookalike = formatCompoundKey({ slug: 'acme', component, secret: randomBytes(32).toString('base64url') });
    const typo = active.key.slice(0, -2) + (active.key.at(-2) === 'A' ? 'B' : 'A') + active.key.at(-1);
    const matches: ReportMatch[] = [
      { token: active.key },
      { token: notOurs },
      { token: lookalike },
      { token: 'vp_cust_' },
      { token: revoked.key },
      { token: typo },
      { token: 'ghp_notoursatall' },
    ];
    const response = await send(scanner.report(matches));
    expect(response.status).toBe(200);
    const feedback = (await response.json()) as Array<{ token_hash: string; label: string }>;
    expect(feedback.map((f) => f.label)).toEqual([
      'true_positive',
      'false_positive',
      'false_positive',
      'false_positive',
      'true_positive',
      'false_positive',
      'false_positive',
    ]);
    expect(feedback.map((f) => f.token_hash)).toEqual(matches.map((m) => sha256(m.token)));
    expect((await whoami(active.key)).status).toBe(401);

    // Not ours by their checksum: refused without one storage call.
    const before = services.storage.operations.snapshot();
    const unchecked = await send(scanner.report([{ token: lookalike }, { token: typo }, { token: 'vp_cust_acme.x.y' }]));
    expect(await unchecked.json()).toEqual(expect.arrayContaining([expect.objectContaining({ label: 'false_positive' })]));
    expect(services.storage.operations.snapshot().total - before.total).toBe(0);
  });

  it('refuses a tampered body, a missing signature and a key GitHub does not publish with 401, changing nothing', async () => {
    const { customer, key } = await customerWithKey(services);
    const report = scanner.report([{ token: key }]);
    const tampered = { ...report, body: report.body.replace('"content"', '"commit"') };
    const answers = [
      await send(tampered),
      await send({ body: report.body, headers: { 'content-type': 'application/json' } }),
      await send({ ...report, headers: { ...report.headers, 'Github-Public-Key-Signature': scanner.sign('something else') } }),
      await send(scanner.report([{ token: key }], scanner.addKey({ publish: false }))),
      await send({ ...report, headers: { ...report.headers, 'Github-Public-Key-Signature': 'bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==' } }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect((await problemOf(answer)).code).toBe('signature_invalid');
    }
    expect((await whoami(key)).status).toBe(200);
    expect((await auditOf(customer.slug)).filter((e) => e.type === 'key.exposed' || e.type === 'key.revoked')).toEqual([]);
  });

  it('reads the key list again for an unknown key id, at most once a minute', async () => {
    clock.offset += 61_000;
    const { key } = await customerWithKey(services);
    const rotated = scanner.addKey(); // GitHub publishes a new key and signs with it
    const readsBefore = scanner.reads;
    expect((await send(scanner.report([{ token: key }], rotated))).status).toBe(200);
    expect(scanner.reads - readsBefore).toBe(1);

    // Made-up key ids within the minute: refused without reading the list again.
    for (let i = 0; i < 5; i++) {
      const answer = await send(scanner.report([{ token: key }], scanner.addKey({ publish: false })));
      expect(answer.status).toBe(401);
    }
    expect(scanner.reads - readsBefore).toBe(1);
    // A key published since is found once the minute has passed.
    const later = scanner.addKey();
    expect((await send(scanner.report([{ token: 'x' }], later))).status).toBe(401);
    clock.offset += 61_000;
    expect((await send(scanner.report([{ token: 'x' }], later))).status).toBe(200);
    expect(scanner.reads - readsBefore).toBe(2);
  });

  it("answers 503 with Retry-After while GitHub's key list cannot be read, and works once it can", async () => {
    const fresh = testServices(
      { GITHUB_SECRET_SCANNING_KEYS_URL: scanner.url, TABLES_PREFIX: services.useCases.config.tables.prefix },
      { clock },
    );
    const freshApp = await serveApp(fresh, { timers: false });
    try {
      const { customer, key } = await customerWithKey(services);
      scanner.down = true;
      const report = scanner.report([{ token: key }]);
      const post = () => freshApp.fetch(REPORT, { method: 'POST', headers: report.headers, body: report.body });
      const down = await post();
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await problemOf(down)).code).toBe('dependency_unavailable');
      scanner.down = false;
      expect((await post()).status).toBe(503); // no second read within the minute
      expect((await whoami(key)).status).toBe(200);
      expect((await auditOf(customer.slug)).filter((e) => e.type === 'key.exposed')).toEqual([]);
      clock.offset += 61_000; // GitHub retries later
      expect((await post()).status).toBe(200);
      expect((await whoami(key)).status).toBe(401);
    } finally {
      scanner.down = false;
      await freshApp.close();
      await fresh.dispose();
    }
  });

  it('refuses a body over 1 MiB (413 payload_too_large) and a report of over 1,000 matches (413 too_many_matches)', async () => {
    const { customer, key } = await customerWithKey(services);
    const big = scanner.report([{ token: key, url: `https://example.com/${'a'.repeat(1024 * 1024)}` }]);
    const tooBig = await send(big);
    expect(tooBig.status).toBe(413);
    expect((await problemOf(tooBig)).code).toBe('payload_too_large');
    const many = scanner.report([{ token: key }, ...Array.from({ length: 1000 }, (_, i) => ({ token: `other-${i}` }))]);
    const tooMany = await send(many);
    expect(tooMany.status).toBe(413);
    expect((await problemOf(tooMany)).code).toBe('too_many_matches');
    expect((await whoami(key)).status).toBe(200);
    expect((await auditOf(customer.slug)).filter((e) => e.type === 'key.exposed')).toEqual([]);
  });

  it('refuses a signed body that is not a report with 400', async () => {
    const notJson = 'this is not json';
    const headers = (body: string) => ({
      'content-type': 'application/json',
      'Github-Public-Key-Identifier': scanner.currentKeyId,
      'Github-Public-Key-Signature': scanner.sign(body),
    });
    const a = await send({ body: notJson, headers: headers(notJson) });
    expect(a.status).toBe(400);
    expect((await problemOf(a)).code).toBe('invalid_body');
    const notArray = JSON.stringify({ token: 'x' });
    const b = await send({ body: notArray, headers: headers(notArray) });
    expect(b.status).toBe(400);
    expect((await problemOf(b)).code).toBe('validation_failed');
    const empty = '[]';
    const c = await send({ body: empty, headers: headers(empty) });
    expect(c.status).toBe(200);
    expect(await c.json()).toEqual([]);
  });

  it('lets a portal admin set the policy, staff read it, and a management key neither change it nor be asked', async () => {
    const { customer } = await customerWithKey(services);
    const admin = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'] });
    const staff = await portalToken(services, { roles: ['Staff'] });
    const management = await services.useCases.keys.issue(customer.slug, { label: 'mgmt', application: 'ops', type: 'management' }, op());
    trackSecret(management.key);
    const get = await app.fetch('/v1/customer-keys/settings', { headers: { authorization: `Bearer ${admin}` } });
    expect(await get.json()).toEqual({ customer: customer.slug, leakedKeyPolicy: 'revoke' });
    const byKey = await app.fetch('/v1/customer-keys/settings', {
      method: 'PATCH',
      headers: { 'x-api-key': management.key, 'content-type': 'application/json' },
      body: JSON.stringify({ leakedKeyPolicy: 'notify' }),
    });
    expect(byKey.status).toBe(403);
    expect((await problemOf(byKey)).code).toBe('forbidden');
    const bad = await app.fetch('/v1/customer-keys/settings', {
      method: 'PATCH',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ leakedKeyPolicy: 'ignore' }),
    });
    expect(bad.status).toBe(400);
    expect((await problemOf(bad)).code).toBe('validation_failed');
    const set = await app.fetch('/v1/customer-keys/settings', {
      method: 'PATCH',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ leakedKeyPolicy: 'notify' }),
    });
    expect(set.status).toBe(200);
    const seen = await app.fetch(`/v1/staff/customers/${customer.slug}`, { headers: { authorization: `Bearer ${staff}` } });
    expect(await seen.json()).toMatchObject({ slug: customer.slug, leakedKeyPolicy: 'notify' });
    const events = (await auditOf(customer.slug)).filter((e) => e.type === 'customer.leaked-key-policy-changed');
    expect(events).toEqual([expect.objectContaining({ details: { before: 'revoke', after: 'notify' } })]);
  });

  /**
   * Federated access tokens (`vp_fed_…`, minted by the token exchange against a loopback issuer):
   * a reported token of ours is stopped at once, whatever the customer's leaked-key policy, and the
   * report recorded as `token.exposed`; the answer is GitHub's feedback, as for keys.
   */
  describe('federated access tokens', () => {
    const TOKEN_TYPE = 'veriproof_federated_token';
    let issuer: LoopbackOidcIssuer;
    let call: ReturnType<typeof caller>;

    beforeAll(async () => {
      issuer = await LoopbackOidcIssuer.start({ now: () => clock.millis() });
      issuer.addKey('ES256');
      call = caller(app);
    });
    afterAll(async () => {
      await issuer?.close();
    });

    /** A customer with a key, its admin, and a policy trusting the issuer's tokens for it. */
    async function customerWithPolicy(policy: Record<string, unknown> = {}) {
      const { customer, key } = await customerWithKey(services);
      const admin = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'] });
      const made = await call('POST', '/v1/trust-policies', {
        token: admin,
        body: {
          label: 'deploy',
          issuer: issuer.issuer,
          audience: customer.slug,
          subject: 'repo:acme/checkout:*',
          application: 'checkout',
          environment: 'live',
          ...policy,
        },
      });
      expect(made.status).toBe(201);
      return { slug: customer.slug, key, admin, policyId: made.body!.id as string };
    }

    async function accessToken(slug: string): Promise<string> {
      const answer = await call('POST', '/v1/oauth/token', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
          subject_token: issuer.sign({ aud: slug }),
          subject_token_type: TOKEN_TYPE_JWT,
          audience: slug,
        }).toString(),
      });
      expect(answer.status).toBe(200);
      return trackSecret(answer.body!.access_token as string);
    }

    const lookupRow = (token: string) => {
      const hash = hashSecret(token.split('.')[1]!);
      return absentIfNotFound(services.storage.clients.keyLookup.getEntity(lookupPartition(hash), hash));
    };
    async function indexRows(slug: string): Promise<number> {
      let rows = 0;
      for await (const _ of services.storage.clients.customers.listEntities({
        queryOptions: { filter: odata`PartitionKey eq ${slug} and RowKey ge ${TOKEN_ROW_PREFIX} and RowKey lt ${'fedtoken`'}` },
      }))
        rows += 1;
      return rows;
    }
    const exposedEvents = async (slug: string) => (await auditOf(slug)).filter((e) => e.type === 'token.exposed');

    it('stops a reported token at once (whatever the leaked-key policy), records where without the token, and answers true_positive', async () => {
      const { slug, key, admin, policyId } = await customerWithPolicy();
      // Under "notify" a leaked key keeps working; a leaked token is stopped all the same.
      expect((await call('PATCH', '/v1/customer-keys/settings', { token: admin, body: { leakedKeyPolicy: 'notify' } })).status).toBe(200);
      const leaked = await accessToken(slug);
      const sibling = await accessToken(slug);
      for (const token of [leaked, sibling]) expect((await whoami(token)).status).toBe(200);

      const url = 'https://github.com/acme/checkout/actions/runs/42/job/7#step:4:12';
      const response = await send(scanner.report([{ token: leaked, url, source: 'content', type: TOKEN_TYPE }]));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual([{ token_hash: sha256(leaked), token_type: TOKEN_TYPE, label: 'true_positive' }]);

      // Refused here at once (this instance's cache and the feed), its rows gone; nothing else stops.
      const refused = await whoami(leaked);
      expect(refused.status).toBe(401);
      expect((await problemOf(refused)).code).toBe('api_key_invalid');
      expect(await lookupRow(leaked)).toBeUndefined();
      expect(await indexRows(slug)).toBe(1);
      expect((await whoami(sibling)).status).toBe(200);
      expect((await whoami(key)).status).toBe(200);
      expect((await whoami(await accessToken(slug))).status).toBe(200);

      const events = await exposedEvents(slug);
      expect(events).toEqual([
        expect.objectContaining({
          actor: expect.objectContaining({ type: 'system', id: 'github-secret-scanning' }),
          details: {
            trustPolicyId: policyId,
            label: 'deploy',
            url,
            source: 'content',
            places: [{ url, source: 'content' }],
            placeCount: 1,
            tokenType: TOKEN_TYPE,
            expiresAt: expect.any(String),
            action: 'stopped',
          },
        }),
      ]);
      expect(JSON.stringify(await auditOf(slug))).not.toContain(leaked.split('.')[1]!);
      // Keys and tokens apart: no key was revoked or flagged.
      expect((await auditOf(slug)).filter((e) => e.type === 'key.exposed' || e.type === 'key.revoked')).toEqual([]);
    });

    it('records a token once per report: the same report twice or to two instances at once; a new place is another event', async () => {
      const { slug } = await customerWithPolicy();
      const token = await accessToken(slug);
      const report = scanner.report([{ token, url: 'https://github.com/o/r/blob/1/ci.log', source: 'commit', type: TOKEN_TYPE }]);
      expect((await send(report)).status).toBe(200);
      // GitHub retries: the token is known as ours (its exposure outlives its rows), nothing new is recorded.
      const replay = await send(report);
      expect(await replay.json()).toEqual([expect.objectContaining({ token_hash: sha256(token), label: 'true_positive' })]);
      expect(await exposedEvents(slug)).toHaveLength(1);
      const elsewhere = await send(
        scanner.report([{ token, url: 'https://gist.github.com/x/3', source: 'gist_content', type: TOKEN_TYPE }]),
      );
      expect(await elsewhere.json()).toEqual([expect.objectContaining({ label: 'true_positive' })]);
      expect((await exposedEvents(slug)).map((e) => [e.details?.action, e.details?.url])).toEqual([
        ['already_stopped', 'https://gist.github.com/x/3'],
        ['stopped', 'https://github.com/o/r/blob/1/ci.log'],
      ]);

      // Two instances on the same tables receive one report at the same moment.
      const second = await accessToken(slug);
      const twin = testServices({ GITHUB_SECRET_SCANNING_KEYS_URL: scanner.url, TABLES_PREFIX: services.useCases.config.tables.prefix });
      const twinApp = await serveApp(twin, { timers: false });
      try {
        const both = scanner.report([{ token: second, url: 'https://github.com/o/r/blob/2/b.env', source: 'content', type: TOKEN_TYPE }]);
        const answers = await Promise.all([send(both), twinApp.fetch(REPORT, { method: 'POST', headers: both.headers, body: both.body })]);
        expect(answers.map((a) => a.status)).toEqual([200, 200]);
        for (const answer of answers) expect(await answer.json()).toEqual([expect.objectContaining({ label: 'true_positive' })]);
      } finally {
        await twinApp.close();
        await twin.dispose();
      }
      expect((await whoami(second)).status).toBe(401);
      expect((await exposedEvents(slug)).filter((e) => e.details?.url === 'https://github.com/o/r/blob/2/b.env')).toHaveLength(1);
    });

    it('answers a mixed batch token by token: an expired token is ours; made-up tokens, lookalikes and keys-as-tokens are not', async () => {
      const { slug, key } = await customerWithPolicy({ tokenLifetimeMinutes: 5 });
      const other = await customerWithPolicy();
      const live = await accessToken(other.slug);
      const expired = await accessToken(slug);
      // Expired, its rows not yet cleared away (the policy's next exchange would).
      clock.offset += 5 * 60_000;
      const madeUp = formatFederatedToken({ slug, secret: generateFederatedSecret() });
      const keyAsToken = formatFederatedToken({ slug, secret: key.split('.').at(-1)! });
      const lookalike = `vp_fed_${slug}.${'A'.repeat(43)}`;
      const matches: ReportMatch[] = [
        { token: expired, type: TOKEN_TYPE },
        { token: madeUp, type: TOKEN_TYPE },
        { token: keyAsToken, type: TOKEN_TYPE },
        { token: lookalike, type: TOKEN_TYPE },
        { token: 'vp_fed_', type: TOKEN_TYPE },
        { token: key },
        { token: live, type: TOKEN_TYPE },
      ];
      const response = await send(scanner.report(matches));
      const feedback = (await response.json()) as Array<{ token_hash: string; token_type: string; label: string }>;
      expect(feedback.map((f) => f.label)).toEqual([
        'true_positive',
        'false_positive',
        'false_positive',
        'false_positive',
        'false_positive',
        'true_positive',
        'true_positive',
      ]);
      expect(feedback.map((f) => f.token_hash)).toEqual(matches.map((m) => sha256(m.token)));
      expect((await exposedEvents(slug)).map((e) => e.details?.action)).toEqual(['expired']);
      expect((await exposedEvents(other.slug)).map((e) => e.details?.action)).toEqual(['stopped']);
      expect(await lookupRow(expired)).toBeUndefined();
      expect((await whoami(live)).status).toBe(401);

      // Not ours by their checksum: refused without one storage call.
      const before = services.storage.operations.snapshot();
      const unchecked = await send(scanner.report([{ token: keyAsToken }, { token: lookalike }, { token: `vp_fed_${slug}.x` }]));
      expect(((await unchecked.json()) as Array<{ label: string }>).map((f) => f.label)).toEqual([
        'false_positive',
        'false_positive',
        'false_positive',
      ]);
      expect(services.storage.operations.snapshot().total - before.total).toBe(0);
    });
  });
});
