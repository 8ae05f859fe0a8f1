import { TableClient, odata } from '@azure/data-tables';
import { startAzurite, type RunningAzurite } from '../../local/azurite';
import { TableSessionRepository } from '../../shared/adapters/table/table-session-repository';
import { TableStorage } from '../../shared/adapters/table/table-storage';
import type { ServiceContext } from '../../app/context';
import { serveApp } from '../support/http';
import { customerWithKey, testConfig, testServices } from '../support/services';

/**
 * Past one storage account: SESSIONS_TABLES_CONNECTION_STRINGS lists the accounts that hold
 * ingested sessions, and each customer's sessions live in one of them, chosen by a stable hash
 * of its slug. Two real Azurite instances here.
 */
describe('sessions spread over storage accounts by customer', () => {
  let second: RunningAzurite;
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  let accounts: string[];

  beforeAll(async () => {
    second = await startAzurite({ tablePort: 0 });
    accounts = [process.env.TEST_TABLES_CONNECTION_STRING!, second.connectionString];
    services = testServices({ SESSIONS_TABLES_CONNECTION_STRINGS: JSON.stringify(accounts) });
    app = await serveApp(services);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await services?.dispose();
    await second?.stop();
  });

  /** The session rows an account holds for a customer (none while the account has no sessions table yet). */
  async function rowsIn(connectionString: string, slug: string): Promise<number> {
    const table = TableClient.fromConnectionString(connectionString, `${services.useCases.config.tables.prefix}sessions`, {
      allowInsecureConnection: true,
    });
    let n = 0;
    try {
      for await (const _ of table.listEntities({
        queryOptions: { filter: odata`PartitionKey ge ${`${slug}~`} and PartitionKey lt ${`${slug}~~`}` },
      }))
        n++;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
    return n;
  }

  it("keeps each customer's sessions in the one account its slug hashes to, and both accounts in use", async () => {
    const repository = services.sessionStore as TableSessionRepository;
    const placed = new Map<string, number>();
    for (let i = 0; i < 12; i++) {
      const { key, customer } = await customerWithKey(services, { plan: 'enterprise', slug: `spread-${i}` });
      const response = await app.fetch('/v1/traces', {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/json' },
        body: JSON.stringify({
          resourceSpans: [
            {
              scopeSpans: [
                {
                  spans: [
                    {
                      traceId: '1'.repeat(32),
                      spanId: '2'.repeat(16),
                      name: 'op',
                      startTimeUnixNano: '1700000000000000000',
                      endTimeUnixNano: '1700000000100000000',
                      attributes: [{ key: 'session.id', value: { stringValue: `visit-${i}` } }],
                    },
                  ],
                },
              ],
            },
          ],
        }),
      });
      expect(response.status).toBe(200);
      const counts = await Promise.all(accounts.map((cs) => rowsIn(cs, customer.slug)));
      const holder = counts.findIndex((n) => n > 0);
      expect(counts.filter((n) => n > 0)).toHaveLength(1); // one account only
      expect(repository.accountFor(customer.slug).accountUrl).toBe(
        new TableStorage(testConfig({ TABLES_CONNECTION_STRING: accounts[holder]! }).tables).accountUrl,
      );
      placed.set(customer.slug, holder);
      expect(await services.sessionStore.get(customer.slug, `visit-${i}`)).toMatchObject({ spanCount: 1 });
      expect((await services.sessionStore.list(customer.slug, { limit: 5 })).items.map((s) => s.sessionId)).toEqual([`visit-${i}`]);
    }
    expect(new Set(placed.values()).size).toBe(2);
    // The main account's own tables (keys, customers) are untouched by the rule.
    expect(await services.useCases.keys.list('spread-0')).toHaveLength(1);
    // Health covers every account ingest depends on.
    await services.useCases.health.probeAll();
    const health = (await (await app.fetch('/v1/health')).json()) as { checks: Record<string, unknown> };
    expect(Object.keys(health.checks).sort()).toEqual(['sessions-storage-1', 'sessions-storage-2', 'table-storage']);
  }, 60_000);

  it('moves a customer only to an account that is added, never between existing ones', () => {
    const account = (port: number) =>
      new TableStorage(
        testConfig({
          TABLES_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${Buffer.from('k').toString('base64')};TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`,
        }).tables,
      );
    const [a, b, c, d] = [10001, 10002, 10003, 10004].map(account);
    const before = new TableSessionRepository([a!, b!, c!]);
    const reordered = new TableSessionRepository([c!, a!, b!]);
    const after = new TableSessionRepository([a!, b!, c!, d!]);
    let moved = 0;
    for (let i = 0; i < 2000; i++) {
      const slug = `customer-${i}`;
      const was = before.accountFor(slug);
      expect(reordered.accountFor(slug)).toBe(was); // the order of the list does not matter
      const now = after.accountFor(slug);
      if (now !== was) {
        expect(now).toBe(d); // only to the new account
        moved++;
      }
    }
    expect(moved / 2000).toBeGreaterThan(0.2); // about a quarter
    expect(moved / 2000).toBeLessThan(0.3);
  });
});
