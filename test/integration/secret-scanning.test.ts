import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock';
import { SECRET_RANDOM_BYTES, formatCompoundKey, secretFromRandom } from '../../shared/keys/compound-key';
import type { ServiceContext } from '../../app/context';
import { FakeGitHubScanner, type ReportMatch } from '../../fixtures/github-scanner';
import { problemOf, serveApp } from '../support/http';
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
    services = testServices({ GITHUB_SECRET_SCANNING_KEYS_URL: scanner.url }, { clock });
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
});
