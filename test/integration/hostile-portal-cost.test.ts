import { ManualClock } from '../../shared/clock';
import type { ServiceContext } from '../../app/context';
import { problemOf, serveApp } from '../support/http';
import { portalToken } from '../support/portal';
import { customerWithKey, testServices } from '../support/services';

/**
 * What a portal token can make the service spend, tried as a hostile or careless admin would:
 * a flood of listings is refused past the user's and the customer's limits (as a key's is), and
 * a listing costs a bounded number of storage operations, stated per returned session, so one
 * customer's listings cannot take another customer's storage. The limiter runs on a clock that
 * does not move, so exactly a burst is admitted whatever the machine's speed; costs are counted
 * by the Table clients' operation policy, never timed.
 */

/** The defaults (PORTAL_RATE_LIMIT_*): these tests are about the limits a deployment gets. */
const USER_BURST = 20;
const CUSTOMER_BURST = 40;
/** The stated bound of one listing: at most 2 storage operations per session it returns, plus 10. */
const perListing = (sessions: number) => 2 * sessions + 10;

const span = (session: string, n: number) => ({
  traceId: `${n.toString(16).padStart(8, '0')}${'c'.repeat(24)}`,
  spanId: `${n.toString(16).padStart(4, '0')}${'d'.repeat(12)}`,
  name: `op-${n}`,
  startTimeUnixNano: '1700000000000000000',
  endTimeUnixNano: '1700000000100000000',
  attributes: [{ key: 'session.id', value: { stringValue: session } }],
});

describe('hostile portal use: a portal token costs what its limits allow', () => {
  jest.setTimeout(120_000);
  const clock = new ManualClock(new Date());
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  beforeAll(async () => {
    // '' is "unset": the limits every deployment gets unless it sets its own.
    services = testServices(
      {
        PORTAL_RATE_LIMIT_USER_PER_SECOND: '',
        PORTAL_RATE_LIMIT_USER_BURST: '',
        PORTAL_RATE_LIMIT_CUSTOMER_PER_SECOND: '',
        PORTAL_RATE_LIMIT_CUSTOMER_BURST: '',
        // Floods of listings meet one Azurite: storage calls get more time than usual, so a busy
        // machine slows them but does not turn them into 503s.
        STORAGE_TIMEOUT_MS: '10000',
      },
      // Operations are counted by partition: no webhook fast-path pass (it reads a customer's endpoints after its events).
      { clock, operationLog: 100_000, webhookFastPath: false },
    );
    // No timer functions: they run on wall-clock minutes (the key-expiry pass reads other tables),
    // and what is counted here is the listings' own storage operations, every one of them.
    app = await serveApp(services, { timers: false });
  });
  afterAll(async () => {
    await app.close();
    await services.dispose();
  });

  const list = (token: string, query = '') => app.fetch(`/v1/sessions${query}`, { headers: { authorization: `Bearer ${token}` } });

  async function ingest(key: string, sessions: string[]) {
    const response = await app.fetch('/v1/traces', {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: sessions.map((s, n) => span(s, n)) }] }] }),
    });
    expect(response.status).toBe(200);
  }

  async function expectLimited(response: Response, limit: 'per-user' | 'per-customer') {
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(response.headers.get('ratelimit-policy')).toContain(`"${limit}";q=`);
    expect(response.headers.get('ratelimit')).toMatch(new RegExp(`"${limit}";r=0;t=\\d+`));
    const problem = await problemOf(response);
    expect(problem.code).toBe('rate_limited');
    expect(problem).toMatchObject({ limit });
  }

  it("refuses a flood of listings past the user's limit, and another user's past the customer's, with Retry-After and RateLimit fields", async () => {
    const { customer } = await customerWithKey(services);
    const ada = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'], sub: `ada-${customer.slug}` });
    const bob = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'], sub: `bob-${customer.slug}` });
    const carol = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'], sub: `carol-${customer.slug}` });

    const flood = await Promise.all(Array.from({ length: 40 }, () => list(ada)));
    const served = flood.filter((r) => r.status === 200);
    expect(served).toHaveLength(USER_BURST);
    for (const response of served) {
      expect(response.headers.get('ratelimit-policy')).toBe(`"per-user";q=${USER_BURST};w=4, "per-customer";q=${CUSTOMER_BURST};w=4`);
      expect(response.headers.get('ratelimit')).toMatch(/^"per-user";r=\d+;t=\d+, "per-customer";r=\d+;t=\d+$/);
      await response.arrayBuffer();
    }
    for (const response of flood.filter((r) => r.status !== 200)) await expectLimited(response, 'per-user');

    // A second admin of the same customer has a full bucket of their own, but the customer's
    // 40 are shared: Ada took 20 of them.
    const second = await Promise.all(Array.from({ length: USER_BURST }, () => list(bob)));
    expect(second.filter((r) => r.status === 200)).toHaveLength(CUSTOMER_BURST - USER_BURST);
    await Promise.all(second.map((r) => r.arrayBuffer()));
    await expectLimited(await list(carol), 'per-customer');

    // Another customer's admins are not held up by it.
    const other = await customerWithKey(services);
    const dana = await portalToken(services, {
      customer: other.customer.slug,
      roles: ['CustomerAdmin'],
      sub: `dana-${other.customer.slug}`,
    });
    expect((await list(dana)).status).toBe(200);
  });

  it('limits staff tokens per user too, on every portal route', async () => {
    const staff = await portalToken(services, { roles: ['Staff'], sub: 'staff-flood' });
    const flood = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        app.fetch(i % 2 ? '/v1/staff/customers' : '/v1/staff/customer-keys/requests?status=pending', {
          headers: { authorization: `Bearer ${staff}` },
        }),
      ),
    );
    expect(flood.filter((r) => r.status === 200)).toHaveLength(USER_BURST);
    for (const response of flood.filter((r) => r.status !== 200)) await expectLimited(response, 'per-user');
  });

  /** Storage operations of one listing, and the sessions it returned. */
  async function listingCost(token: string, query: string): Promise<{ operations: number; sessions: number; cursor: string | null }> {
    const since = performance.timeOrigin + performance.now();
    const response = await list(token, query);
    expect(response.status).toBe(200);
    const page = (await response.json()) as { sessions: unknown[]; cursor: string | null };
    return { operations: services.storage.operations.recent(since).length, sessions: page.sessions.length, cursor: page.cursor };
  }

  it('costs at most 2 storage operations per listed session plus 10, for one session and for a page of 200', async () => {
    const { customer, key } = await customerWithKey(services, { plan: 'enterprise' });
    await ingest(key, ['lonely']);
    const token = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'], sub: `cost-${customer.slug}` });
    const one = await listingCost(token, '');
    expect(one.sessions).toBe(1);
    expect(one.operations).toBeLessThanOrEqual(perListing(1));

    // 250 more sessions, 50 a request, then every page of 200 and of 7 through them.
    for (let r = 0; r < 5; r++) {
      clock.advance(1000);
      await ingest(
        key,
        Array.from({ length: 50 }, (_, i) => `busy-${r}-${i}`),
      );
    }
    clock.advance(60_000); // the limiter refills (the ingest above is a key's, not the token's)
    for (const limit of [200, 7]) {
      let cursor: string | null = null;
      let seen = 0;
      for (let page = 0; page === 0 || (cursor && page < 5); page++) {
        const cost: { operations: number; sessions: number; cursor: string | null } = await listingCost(
          token,
          `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        expect(cost.operations).toBeLessThanOrEqual(perListing(cost.sessions));
        seen += cost.sessions;
        cursor = cost.cursor;
      }
      expect(seen).toBe(limit === 200 ? 251 : 5 * 7);
    }
  });

  it("caps what one customer's listing flood costs, in that customer's partitions only", async () => {
    const noisy = await customerWithKey(services, { plan: 'enterprise' });
    const quiet = await customerWithKey(services, { plan: 'enterprise' });
    await ingest(
      noisy.key,
      Array.from({ length: 10 }, (_, i) => `noisy-${i}`),
    );
    clock.advance(60_000);
    // Three admins at once, each past their own limit: together they meet the customer's.
    const tokens = await Promise.all(
      ['u1', 'u2', 'u3'].map((u) =>
        portalToken(services, { customer: noisy.customer.slug, roles: ['CustomerAdmin'], sub: `${u}-${noisy.customer.slug}` }),
      ),
    );
    const since = performance.timeOrigin + performance.now();
    const flood = await Promise.all(Array.from({ length: 3 * USER_BURST }, (_, i) => list(tokens[i % 3]!, '?limit=200')));
    const admitted = flood.filter((r) => r.status === 200).length;
    await Promise.all(flood.map((r) => r.arrayBuffer()));
    const operations = services.storage.operations.recent(since);
    expect(admitted).toBe(CUSTOMER_BURST);
    expect(operations.length).toBeLessThanOrEqual(CUSTOMER_BURST * perListing(10));
    expect(operations.filter((o) => !o.partition?.startsWith(`${noisy.customer.slug}~`))).toEqual([]);
    // The quiet customer's ingest meanwhile is its own.
    await ingest(quiet.key, ['quiet-1']);
  });
});
