import { randomBytes } from 'node:crypto';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { ServiceContext } from '../../app/context';
import { TableAuditLog } from '../../shared/adapters/table/table-audit-log';
import { ManualClock } from '../../shared/clock';
import type { AuditEvent } from '../../shared/domain';
import { caller, problemOf, serveApp, type AnswerBody } from '../support/http';
import { op, portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { testServices } from '../support/services';

/**
 * `GET /v1/audit-events` over HTTP against Azurite: the customer's audit log oldest first, from a
 * cursor, once events are AUDIT_FEED_SETTLE_SECONDS (5 by default) old on the services' clock.
 */

const SETTLE_MS = 5_000;
const CLOUDEVENTS = 'application/cloudevents-batch+json';

type App = Awaited<ReturnType<typeof serveApp>>;

describe('the audit feed (GET /v1/audit-events), against Azurite', () => {
  let services: ServiceContext;
  let clock: ManualClock;
  let app: App;
  let call: ReturnType<typeof caller>;
  let staffToken: string;
  let document: { components: Record<string, unknown>; paths: Record<string, Record<string, AnswerBody>> };

  beforeAll(async () => {
    clock = new ManualClock(new Date());
    services = testServices({}, { clock });
    app = await serveApp(services, { timers: false });
    call = caller(app);
    staffToken = await portalToken(services, { roles: ['Staff'], sub: 'staff-1', name: 'Sam Staff' });
    document = (await call('GET', '/v1/openapi.json')).body as typeof document;
  });
  afterAll(async () => {
    await app.close();
    await services.dispose();
  });

  /** A customer made by staff over HTTP, and a CustomerAdmin token for it. */
  async function newCustomer() {
    const slug = `af${randomBytes(4).toString('hex')}`;
    const created = await call('POST', '/v1/staff/customers', { token: staffToken, body: { slug, name: `Customer ${slug}`, plan: 'pro' } });
    expect(created.status).toBe(201);
    const token = await portalToken(services, { customer: slug, roles: ['CustomerAdmin'], sub: `admin-${slug}`, name: 'Ada Admin' });
    return { slug, token };
  }

  /** `count` audit events of the customer, each a millisecond after the one before (so their order is the order made). */
  async function record(slug: string, count: number): Promise<AuditEvent[]> {
    const events: AuditEvent[] = [];
    for (let i = 0; i < count; i++) {
      clock.advance(1);
      events.push(await services.useCases.audit.record({ customerSlug: slug, type: 'customer.updated', op: op(), details: { n: i } }));
    }
    return events;
  }

  /** Moves the clock past the settle window of everything recorded so far. */
  const settle = () => clock.advance(SETTLE_MS);

  const feed = (token: string, query = '', headers: Record<string, string> = {}) =>
    call('GET', `/v1/audit-events${query ? `?${query}` : ''}`, { token, headers });

  /** The feed followed from `after` (or the start) to its end, `limit` at a time: every page's body. */
  async function follow(token: string, limit: number, after?: string): Promise<AnswerBody[]> {
    const pages: AnswerBody[] = [];
    let cursor = after;
    do {
      const page = await feed(token, `limit=${limit}${cursor ? `&after=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      pages.push(page.body!);
      cursor = page.body!.cursor as string;
    } while (pages.at(-1)!.hasMore && pages.length < 100);
    return pages;
  }

  /** A validator of the schema the OpenAPI document declares for this route's 200 in `mediaType`. */
  function declared(mediaType: string) {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ components: document.components }, 'document.json');
    const schema = document.paths['/v1/audit-events']!.get!.responses['200'].content[mediaType].schema as object;
    return ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"document.json#/components/')) as object);
  }

  describe('happy path', () => {
    it('pages through 250 events 100 at a time: each once, oldest first, hasMore until the last page', async () => {
      const { slug, token } = await newCustomer();
      const events = await record(slug, 250);
      settle();
      const pages = await follow(token, 100);
      expect(pages.map((p) => (p.events as unknown[]).length)).toEqual([100, 100, 50]);
      expect(pages.map((p) => p.hasMore)).toEqual([true, true, false]);
      // Each once, in the order they were made.
      const ids = pages.flatMap((p) => (p.events as AnswerBody[]).map((e) => e.id as string));
      expect(new Set(ids).size).toBe(250);
      expect(ids).toEqual(events.map((e) => e.id));
      // The last cursor, polled again, gives nothing new and is handed back as it was.
      const again = await feed(token, `after=${pages.at(-1)!.cursor}`);
      expect(again.body).toEqual({ events: [], cursor: pages.at(-1)!.cursor, hasMore: false });
      // The body is what the OpenAPI document declares.
      const validate = declared('application/json');
      for (const page of pages) expect({ valid: validate(page), errors: validate.errors }).toEqual({ valid: true, errors: null });
    });

    it('answers each event as the audit listing does, oldest first (limit 100 unless asked)', async () => {
      const { slug, token } = await newCustomer();
      await record(slug, 3);
      settle();
      const listed = await call('GET', '/v1/customer-keys/audit?limit=200', { token });
      const fed = await feed(token);
      expect(fed.status).toBe(200);
      expect(fed.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(fed.body!.events).toEqual([...(listed.body!.events as unknown[])].reverse());
      expect(fed.body!.hasMore).toBe(false);
      expect(document.paths['/v1/audit-events']!.get!.parameters).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'limit', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100, examples: [100] } }),
        ]),
      );
    });

    it('shows events appended between polls on the next poll, after those already seen, never again those', async () => {
      const { slug, token } = await newCustomer();
      const seen = await record(slug, 3);
      settle();
      const first = await feed(token);
      expect((first.body!.events as AnswerBody[]).map((e) => e.id)).toEqual(seen.map((e) => e.id));
      const later = await record(slug, 2);
      settle();
      const second = await feed(token, `after=${first.body!.cursor}`);
      expect((second.body!.events as AnswerBody[]).map((e) => e.id)).toEqual(later.map((e) => e.id));
      const more = await record(slug, 1);
      settle();
      const third = await feed(token, `after=${second.body!.cursor}`);
      expect((third.body!.events as AnswerBody[]).map((e) => e.id)).toEqual(more.map((e) => e.id));
    });

    it('holds a fresh event back until the clock passes the settle window; the cursor of an empty page is kept and goes on', async () => {
      const { slug, token } = await newCustomer();
      const [older] = await record(slug, 1);
      settle();
      const start = await feed(token);
      expect((start.body!.events as AnswerBody[]).map((e) => e.id)).toEqual([older!.id]);
      const [fresh] = await record(slug, 1);
      clock.advance(SETTLE_MS - 1);
      const held = await feed(token, `after=${start.body!.cursor}`);
      expect(held.body).toEqual({ events: [], cursor: start.body!.cursor, hasMore: false });
      clock.advance(1);
      const shown = await feed(token, `after=${held.body!.cursor}`);
      expect((shown.body!.events as AnswerBody[]).map((e) => e.id)).toEqual([fresh!.id]);
    });

    it('still delivers, in its place, an event that commits up to the settle window after its time (built before a later one commits)', async () => {
      const { slug, token } = await newCustomer();
      settle();
      const start = (await feed(token)).body!.cursor as string;
      // Built now, written only later (a slow transaction, another instance).
      const late = services.useCases.audit.event({ customerSlug: slug, type: 'customer.updated', op: op(), details: { late: true } });
      const [quick] = await record(slug, 1);
      clock.advance(SETTLE_MS - 100);
      const before = await feed(token, `after=${start}`);
      expect(before.body!.events).toEqual([]);
      await new TableAuditLog(services.storage).append(late); // commits 4.9 s after its time
      clock.advance(100);
      const after = await feed(token, `after=${before.body!.cursor}`);
      expect((after.body!.events as AnswerBody[]).map((e) => e.id)).toEqual([late.id, quick!.id]);
    });

    it('starts at `since` (an RFC 3339 instant) when there is no cursor', async () => {
      const { slug, token } = await newCustomer();
      await record(slug, 2);
      clock.advance(60_000);
      const since = clock.now();
      const later = await record(slug, 2);
      settle();
      const page = await feed(token, `since=${encodeURIComponent(since.toISOString().replace('Z', '+00:00'))}`);
      expect((page.body!.events as AnswerBody[]).map((e) => e.id)).toEqual(later.map((e) => e.id));
      // Its cursor goes on like any other.
      const more = await record(slug, 1);
      settle();
      const next = await feed(token, `after=${page.body!.cursor}`);
      expect((next.body!.events as AnswerBody[]).map((e) => e.id)).toEqual(more.map((e) => e.id));
    });

    it('holds every event the changes of keys, requests, policies and settings write: the listing, oldest first', async () => {
      const { slug, token } = await newCustomer();
      const tick = () => clock.advance(1000);
      const issued = await call('POST', '/v1/customer-keys/issue', { token, body: { label: 'one', application: 'app' } });
      trackSecret(issued.body!.key);
      const keyId = issued.body!.metadata.id as string;
      tick();
      const second = await call('POST', '/v1/customer-keys/issue', { token, body: { label: 'two', application: 'app' } });
      trackSecret(second.body!.key);
      tick();
      expect((await call('PATCH', `/v1/customer-keys/${keyId}`, { token, body: { allowedIps: ['203.0.113.0/24'] } })).status).toBe(200);
      tick();
      const rolled = await call('POST', `/v1/customer-keys/${keyId}/roll`, { token, body: { overlapHours: 0 } });
      expect(rolled.status).toBe(201);
      trackSecret(rolled.body!.key);
      tick();
      expect((await call('DELETE', `/v1/customer-keys/${second.body!.metadata.id}`, { token })).status).toBe(204);
      tick();
      const reset = await call('POST', '/v1/customer-keys/reset', { token });
      expect(reset.status).toBe(200);
      for (const k of reset.body!.keys) trackSecret(k.key);
      tick();
      const requested = await call('POST', '/v1/customer-keys/requests/rotate-tenant-key', { token, body: { reason: 'yearly' } });
      expect(requested.status).toBe(202);
      tick();
      const rejected = await call('POST', `/v1/staff/customer-keys/requests/${requested.body!.request.id}/reject`, {
        token: staffToken,
        body: { reason: 'not now' },
      });
      expect(rejected.status).toBe(200);
      tick();
      const limited = await call('PATCH', `/v1/staff/customers/${slug}/keys/${rolled.body!.metadata.id}`, {
        token: staffToken,
        body: { rateLimit: { requestsPerSecond: 5, burst: 10 } },
      });
      expect(limited.status).toBe(200);
      tick();
      expect((await call('PATCH', '/v1/customer-keys/settings', { token, body: { leakedKeyPolicy: 'notify' } })).status).toBe(200);
      tick();
      const policy = await call('POST', '/v1/trust-policies', {
        token,
        body: {
          label: 'ci',
          issuer: 'https://token.actions.githubusercontent.com',
          audience: 'veriproof',
          subject: 'repo:acme/app:*',
          application: 'app',
          environment: 'live',
        },
      });
      expect(policy.status).toBe(201);
      tick();
      expect((await call('PATCH', `/v1/trust-policies/${policy.body!.id}`, { token, body: { audience: 'other' } })).status).toBe(200);
      tick();
      expect((await call('DELETE', `/v1/trust-policies/${policy.body!.id}`, { token })).status).toBe(204);
      settle();

      const listed = (await call('GET', '/v1/customer-keys/audit?limit=200', { token })).body!.events as AnswerBody[];
      const fed = (await follow(token, 5)).flatMap((p) => p.events as AnswerBody[]);
      const oldestFirst = [...listed].sort((a, b) => a.at.localeCompare(b.at) || (a.id < b.id ? -1 : 1));
      expect(fed).toEqual(oldestFirst);
      expect(new Set(fed.map((e) => e.type))).toEqual(
        new Set([
          'key.issued',
          'key.updated',
          'key.rolled',
          'key.revoked',
          'key.reset',
          'request.submitted',
          'request.rejected',
          'key.rate-limit-changed',
          'customer.leaked-key-policy-changed',
          'trust_policy.created',
          'trust_policy.updated',
          'trust_policy.deleted',
        ]),
      );
    });
  });

  describe('CloudEvents (Accept: application/cloudevents-batch+json)', () => {
    it('answers a CloudEvents 1.0 batch of the same events, the cursor in X-Veriproof-Cursor and a Link to the next poll', async () => {
      const { slug, token } = await newCustomer();
      const issued = await call('POST', '/v1/customer-keys/issue', { token, body: { label: 'ce', application: 'app' } });
      trackSecret(issued.body!.key);
      await record(slug, 3);
      settle();
      const json = await feed(token, 'limit=3');
      const batch = await feed(token, 'limit=3', { accept: CLOUDEVENTS });
      expect(batch.status).toBe(200);
      expect(batch.headers.get('content-type')).toBe(`${CLOUDEVENTS}; charset=utf-8`);
      expect(batch.headers.get('vary')).toMatch(/accept/i);
      const events = batch.body as unknown as AnswerBody[];
      expect(Array.isArray(events)).toBe(true);
      expect(events).toHaveLength(3);

      // CloudEvents 1.0 (spec.md, "Context Attributes"): id, source, specversion and type are
      // required non-empty strings; attribute names are lower-case letters and digits.
      for (const event of events) {
        for (const name of Object.keys(event)) expect(name).toMatch(/^[a-z0-9]{1,20}$/);
        for (const required of ['id', 'source', 'specversion', 'type']) expect(event[required]).toEqual(expect.stringMatching(/./));
        expect(event.specversion).toBe('1.0');
        expect(new URL(event.source as string).protocol).toBe('urn:'); // an absolute URI
        expect(event.source).toBe(`urn:veriproof:customer:${slug}`);
        expect(event.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/); // RFC 3339
        expect(event.datacontenttype).toBe('application/json');
      }
      const bodies = json.body!.events as AnswerBody[];
      expect(events.map((e) => e.data)).toEqual(bodies);
      expect(events.map((e) => e.id)).toEqual(bodies.map((e) => e.id));
      expect(events.map((e) => e.time)).toEqual(bodies.map((e) => e.at));
      expect(events.map((e) => e.type)).toEqual(bodies.map((e) => `com.veriproof.audit.${e.type}`));
      // The subject is the key an event is about, and absent when it is about none.
      const issuedEvent = events.find((e) => e.type === 'com.veriproof.audit.key.issued')!;
      expect(issuedEvent.subject).toBe(issued.body!.metadata.id);
      expect(events.find((e) => e.type === 'com.veriproof.audit.customer.updated')).not.toHaveProperty('subject');
      const validate = declared(CLOUDEVENTS);
      expect({ valid: validate(events), errors: validate.errors }).toEqual({ valid: true, errors: null });

      // The position travels in headers: the same cursor as the JSON body, and a Link to the next poll.
      const cursor = batch.headers.get('x-veriproof-cursor')!;
      expect(cursor).toBe(json.body!.cursor);
      expect(batch.headers.get('x-veriproof-has-more')).toBe('true');
      const link = /^<([^>]+)>; rel="next"$/.exec(batch.headers.get('link') ?? '');
      expect(link?.[1]).toBe(`/v1/audit-events?after=${cursor}&limit=3`);
      const next = await call('GET', link![1]!, { token, headers: { accept: CLOUDEVENTS } });
      expect((next.body as unknown as AnswerBody[]).map((e) => e.id)).toEqual(
        ((await feed(token, `limit=3&after=${cursor}`)).body!.events as AnswerBody[]).map((e) => e.id),
      );
      expect(next.headers.get('x-veriproof-has-more')).toBe('false');
    });

    it('answers an empty batch with the cursor kept; JSON for any other Accept', async () => {
      const { token } = await newCustomer();
      settle();
      const start = (await feed(token)).body!.cursor as string;
      const empty = await feed(token, `after=${start}`, { accept: CLOUDEVENTS });
      expect(empty.body).toEqual([]);
      expect(empty.headers.get('x-veriproof-cursor')).toBe(start);
      for (const accept of ['application/json', '*/*', 'text/html', `application/json, ${CLOUDEVENTS};q=0.5`])
        expect((await feed(token, '', { accept })).headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect((await feed(token, '', { accept: `application/json;q=0.5, ${CLOUDEVENTS}` })).headers.get('content-type')).toBe(
        `${CLOUDEVENTS}; charset=utf-8`,
      );
    });
  });

  describe('error path', () => {
    it('refuses a cursor that is not one of the feed (tampered, truncated, the listing’s) as 400 validation_failed', async () => {
      const { slug, token } = await newCustomer();
      await record(slug, 3);
      settle();
      const cursor = (await feed(token, 'limit=1')).body!.cursor as string;
      const listing = (await call('GET', '/v1/customer-keys/audit?limit=1', { token })).body!.cursor as string;
      const position = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as Record<string, unknown>;
      const forged = (change: Record<string, unknown>) => Buffer.from(JSON.stringify({ ...position, ...change })).toString('base64url');
      for (const bad of [
        'not-a-cursor',
        cursor.slice(0, -4),
        listing,
        forged({ t: 'soon' }),
        forged({ t: -1 }),
        forged({ i: 'key_01JQ8Z5M3T4V6W7X8Y9Z0A1B2C' }),
        forged({ v: 'feed0' }),
      ]) {
        const answer = await app.fetch(`/v1/audit-events?after=${encodeURIComponent(bad)}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect({ bad, status: answer.status }).toEqual({ bad, status: 400 });
        expect((await problemOf(answer)).code).toBe('validation_failed');
      }
    });

    it('refuses a bad limit or since, and after together with since', async () => {
      const { token } = await newCustomer();
      for (const query of ['limit=0', 'limit=1001', 'limit=ten', 'since=yesterday', `after=x&since=2026-01-01T00:00:00Z`]) {
        const answer = await app.fetch(`/v1/audit-events?${query}`, { headers: { authorization: `Bearer ${token}` } });
        expect({ query, status: answer.status }).toEqual({ query, status: 400 });
        expect((await problemOf(answer)).code).toBe('validation_failed');
      }
      expect((await feed(token, 'limit=1000')).status).toBe(200);
    });
  });

  describe('security path', () => {
    it("refuses another customer's cursor (400), and never shows another customer's events", async () => {
      const mine = await newCustomer();
      const theirs = await newCustomer();
      const [own1] = await record(mine.slug, 1);
      await record(theirs.slug, 2);
      settle();
      const theirCursor = (await feed(theirs.token, 'limit=1')).body!.cursor as string;
      const answer = await app.fetch(`/v1/audit-events?after=${theirCursor}`, { headers: { authorization: `Bearer ${mine.token}` } });
      expect(answer.status).toBe(400);
      expect((await problemOf(answer)).code).toBe('validation_failed');
      // Their cursor with my slug written in is a position in my own log only.
      const position = JSON.parse(Buffer.from(theirCursor, 'base64url').toString()) as Record<string, unknown>;
      const relabelled = Buffer.from(JSON.stringify({ ...position, s: mine.slug })).toString('base64url');
      const own = await feed(mine.token, `after=${relabelled}`);
      expect(own.status).toBe(200);
      expect((own.body!.events as AnswerBody[]).every((e) => e.id === own1!.id)).toBe(true);
      const all = (await follow(mine.token, 1000)).flatMap((p) => p.events as AnswerBody[]);
      expect(all.map((e) => e.id)).toEqual([own1!.id]);
    });

    it('serves a management key; refuses an ingest key (403), no credential (401) and a staff token (403)', async () => {
      const { token } = await newCustomer();
      const ingest = await call('POST', '/v1/customer-keys/issue', { token, body: { label: 'ingest', application: 'app' } });
      trackSecret(ingest.body!.key);
      const management = await call('POST', '/v1/customer-keys/issue', {
        token,
        body: { label: 'siem', application: 'siem', type: 'management' },
      });
      trackSecret(management.body!.key);
      settle();
      const byKey = await call('GET', '/v1/audit-events', { key: management.body!.key });
      expect(byKey.status).toBe(200);
      expect((byKey.body!.events as AnswerBody[]).map((e) => e.type)).toEqual(['key.issued', 'key.issued']);

      const refused = await app.fetch('/v1/audit-events', { headers: { 'x-api-key': ingest.body!.key } });
      expect(refused.status).toBe(403);
      expect((await problemOf(refused)).code).toBe('forbidden');
      const anonymous = await app.fetch('/v1/audit-events');
      expect(anonymous.status).toBe(401);
      const staff = await app.fetch('/v1/audit-events', { headers: { authorization: `Bearer ${staffToken}` } });
      expect(staff.status).toBe(403);
      expect((await problemOf(staff)).code).toBe('forbidden');
    });
  });
});
