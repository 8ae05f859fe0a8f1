import { TableKeyRepository } from '../../shared/adapters/table/table-key-repository';
import { TableStorage } from '../../shared/adapters/table/table-storage';
import { ManualClock } from '../../shared/clock';
import { loadConfig } from '../../shared/config';
import type { KeyLookupEntry } from '../../shared/ports/key-repository';
import { generateSecret } from '../../shared/keys/compound-key';
import { newId } from '../../shared/ids';
import type { ServiceContext } from '../../app/context';
import { problemOf, serveApp } from '../support/http';
import { portalToken, testActor } from '../support/portal';
import { customerWithKey, testEnv, testServices } from '../support/services';

type App = Awaited<ReturnType<typeof serveApp>>;

/** The real Table adapter, counting how many lookups by hash run at once (nothing else changes). */
class CountedLookups extends TableKeyRepository {
  reads = 0;
  inFlight = 0;
  most = 0;
  override async findByHash(secretHash: string): Promise<KeyLookupEntry | undefined> {
    this.reads += 1;
    this.inFlight += 1;
    this.most = Math.max(this.most, this.inFlight);
    try {
      return await super.findByHash(secretHash);
    } finally {
      this.inFlight -= 1;
    }
  }
  reset(): void {
    this.reads = 0;
    this.most = 0;
  }
}

/**
 * An address that sends made-up keys (with valid checksums: the checksum is public) spends its
 * failure budget. The failed-authentication throttle may make its lookups wait, one at a time,
 * but never refuse a key: a real key from that address, new or warm, on a new instance, is
 * served. All requests come from the local host's loopback address; the clock stands still, so
 * the budget does not refill unless the test moves it.
 */
describe('hostile door: the failed-authentication throttle never refuses a valid key', () => {
  const BUDGET = 60; // AUTH_FAILURES_PER_MINUTE's default
  let clock: ManualClock;
  let services: ServiceContext;
  let lookups: CountedLookups;
  let app: App;

  beforeEach(async () => {
    // A new instance each time: no memory of any key.
    const env = testEnv();
    clock = new ManualClock(new Date());
    lookups = new CountedLookups(new TableStorage(loadConfig(env).tables));
    services = testServices(env, { clock, repositories: { keys: lookups } });
    await services.revocations.poll();
    app = await serveApp(services);
  });
  afterEach(async () => {
    await app.close();
    await services.dispose();
  });

  const whoami = (key: string) => app.fetch('/v1/whoami', { headers: { 'x-api-key': key } });
  const spendBudget = async () => {
    for (let i = 0; i < BUDGET; i++) expect((await whoami(generateSecret())).status).toBe(401);
  };

  it('authenticates a new key from an address that has spent its failure budget (a key this new instance never saw)', async () => {
    const { key } = await customerWithKey(services);
    await spendBudget();
    const madeUp = await whoami(generateSecret());
    expect(madeUp.status).toBe(401); // looked up and unknown: never a 429 that would say nothing about the key
    expect((await problemOf(madeUp)).code).toBe('api_key_invalid');
    const real = await whoami(key);
    expect(real.status).toBe(200);
  });

  it('authenticates a warm key whose cache entry expired, from an address that has spent its budget', async () => {
    const { key } = await customerWithKey(services);
    expect((await whoami(key)).status).toBe(200);
    clock.advance(301_000); // past AUTH_CACHE_TTL_SECONDS (300): the identity must be read again
    await services.revocations.poll();
    await spendBudget();
    expect((await whoami(key)).status).toBe(200);
  });

  it('past the budget, looks up one made-up key at a time, and serves a valid key sent among them', async () => {
    const { key } = await customerWithKey(services);
    await spendBudget();
    lookups.reset();
    const madeUp = Array.from({ length: 20 }, () => whoami(generateSecret()));
    const real = whoami(key);
    const statuses = (await Promise.all(madeUp)).map((r) => r.status);
    expect(statuses).toEqual(Array(20).fill(401));
    expect((await real).status).toBe(200);
    expect(lookups.reads).toBe(21); // each key read once: none refused unread
    expect(lookups.most).toBe(1); // and one at a time: the flood cannot multiply reads
  });
});

/** Code points that render as nothing, one of each class the issue found accepted. */
const IGNORABLES: Array<[string, string]> = [
  ['U+FE00', '\uFE00'],
  ['U+FE0F', '\uFE0F'],
  ['U+E0100', '\u{E0100}'],
  ['U+E01EF', '\u{E01EF}'],
  ['U+180B', '\u180B'],
  ['U+180F', '\u180F'],
  ['U+17B4', '\u17B4'],
  ['U+17B5', '\u17B5'],
];

/**
 * Labels and every other text people read (application and customer names, reasons) refuse
 * default-ignorable code points: "pro\uFE00d" would list as "prod" beside the real one.
 */
describe('hostile labels: default-ignorable code points are refused in visible text', () => {
  let services: ServiceContext;
  let app: App;
  let staff: string;
  beforeAll(async () => {
    services = testServices();
    app = await serveApp(services);
    staff = await portalToken(services, { roles: ['Staff'], sub: 'staff-1', name: 'Sam Staff' });
  });
  afterAll(async () => {
    await app.close();
    await services.dispose();
  });

  const post = (path: string, token: string, body: unknown) =>
    app.fetch(path, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  /** A 400 validation_failed naming the field and the code point. */
  async function expectRefused(response: Response, field: string, codePoint: string) {
    expect(response.status).toBe(400);
    const problem = (await problemOf(response)) as Awaited<ReturnType<typeof problemOf>> & {
      errors: Array<{ path: string; message: string }>;
    };
    expect(problem.code).toBe('validation_failed');
    expect(problem.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: field, message: expect.stringContaining(codePoint) })]),
    );
  }

  it('refuses "pro\\uFE00d" with 400 while "prod" exists, by every way a key is issued', async () => {
    const { customer } = await customerWithKey(services, { label: 'prod' });
    const admin = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'], sub: `admin-${customer.slug}` });
    for (const [codePoint, character] of IGNORABLES) {
      const label = `pro${character}d`;
      await expectRefused(await post('/v1/customer-keys/issue', admin, { label, application: 'web' }), 'label', codePoint);
      await expectRefused(await post('/v1/customer-keys/requests/issue-key', admin, { label, application: 'web' }), 'label', codePoint);
    }
    expect((await services.useCases.keys.list(customer.slug)).map((k) => k.label)).toEqual(['prod']);
  });

  it('refuses them in application names, customer names and reasons', async () => {
    const { customer } = await customerWithKey(services);
    const admin = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'], sub: `admin-${customer.slug}` });
    for (const [codePoint, character] of IGNORABLES) {
      await expectRefused(
        await post('/v1/customer-keys/issue', admin, { label: `l-${codePoint}`, application: `web${character}` }),
        'application',
        codePoint,
      );
      await expectRefused(
        await post('/v1/staff/customers', staff, { slug: `c${Date.now().toString(36)}`, name: `Acme${character}`, plan: 'pro' }),
        'name',
        codePoint,
      );
      await expectRefused(
        await post('/v1/customer-keys/requests/rotate-tenant-key', admin, { reason: `routine${character}` }),
        'reason',
        codePoint,
      );
    }
    const pending = await post('/v1/customer-keys/requests/rotate-tenant-key', admin, { reason: 'routine' });
    expect(pending.status).toBe(202);
    const { request } = (await pending.json()) as { request: { id: string } };
    await expectRefused(
      await post(`/v1/staff/customer-keys/requests/${request.id}/reject`, staff, { reason: 'no\uFE0F' }),
      'reason',
      'U+FE0F',
    );
  });

  it('compares labels without them: a reservation written with one blocks its visible twin (the Table adapter)', async () => {
    const { customer, keyId } = await customerWithKey(services, { label: 'prod' });
    const adapter = new TableKeyRepository(new TableStorage(services.useCases.config.tables));
    const existing = (await adapter.get(customer.slug, keyId))!;
    const twin = { ...existing, id: newId('key'), label: 'pro\uFE00d' };
    const at = new Date().toISOString();
    const audit = {
      id: newId('evt'),
      customerSlug: customer.slug,
      type: 'key.issued' as const,
      at,
      actor: testActor,
      requestId: 'hostile',
    };
    expect(await adapter.insertRecord(twin, { keyLimit: () => 50, audit })).toBe('label_taken');
  });
});
