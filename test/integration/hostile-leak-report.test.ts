import { createHash, randomBytes } from 'node:crypto';
import { odata } from '@azure/data-tables';
import { SECRET_RANDOM_BYTES, formatCompoundKey, secretFromRandom } from '../../shared/keys/compound-key';
import { formatFederatedToken, generateFederatedSecret } from '../../shared/keys/federated-token';
import type { StorageOperationRecord } from '../../shared/adapters/table/storage-operations';
import { KEY_HASH_MARKER_ROW } from '../../shared/adapters/table/table-key-hash-index';
import type { ServiceContext } from '../../app/context';
import { FakeGitHubScanner, type ReportMatch } from '../../fixtures/github-scanner';
import { serveApp } from '../support/http';
import { op } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { customerWithKey, testServices } from '../support/services';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const REPORT = '/v1/secret-scanning/github';
/**
 * What handling one key of ours may cost at most: find it (index, record), its customer's policy,
 * revoke it (the feed, the lookup row, the record's transaction) and record its exposure (one
 * transaction). Entities count rows read and rows written (a transaction's every row).
 */
const PER_KEY = { operations: 15, entities: 20 };

/**
 * Signed GitHub reports shaped to cost us the most, against real Azurite: what a report costs
 * must grow with the distinct keys of ours it names, not with its matches. Storage is counted by
 * the storage-operations policy (every request to the Table service, with the entities it read).
 */
describe('hostile leak reports: a report costs what the keys of ours it names cost', () => {
  jest.setTimeout(180_000);
  let scanner: FakeGitHubScanner;
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;

  beforeAll(async () => {
    scanner = await FakeGitHubScanner.start();
    services = testServices({ GITHUB_SECRET_SCANNING_KEYS_URL: scanner.url }, { operationLog: 100_000 });
    app = await serveApp(services, { timers: false }); // storage operations are counted: no wall-clock timer passes among them
  });
  afterAll(async () => {
    await app?.close();
    await services?.dispose();
    await scanner?.close();
  });

  const send = (matches: ReportMatch[]) => {
    const report = scanner.report(matches);
    return app.fetch(REPORT, { method: 'POST', headers: report.headers, body: report.body });
  };

  /** Sends a report and returns its feedback with the storage it cost (operations, entities read or written, by kind). */
  async function measured(matches: ReportMatch[]) {
    const since = performance.timeOrigin + performance.now();
    const before = services.storage.operations.snapshot().total;
    const response = await send(matches);
    expect(response.status).toBe(200);
    const feedback = (await response.json()) as Array<{ token_hash: string; token_type: string; label: string }>;
    const operations = services.storage.operations.snapshot().total - before;
    const log = services.storage.operations.recent(since);
    return { feedback, operations, log, entities: log.reduce((n, r) => n + r.entities, 0) };
  }

  const queriesOn = (log: StorageOperationRecord[], slug: string) =>
    log.filter((r) => r.table === 'customers' && r.kind === 'query' && r.partition === slug).length;

  /** A customer with `count` active keys (the cap raised for it), their values by id. */
  async function customerWithKeys(count: number) {
    const first = await customerWithKey(services, { plan: 'enterprise' });
    const slug = first.customer.slug;
    await services.useCases.customers.update(slug, () => ({ keyLimitOverride: count + 10 }));
    const keys = new Map<string, string>([[first.keyId, first.key]]);
    const labels = Array.from({ length: count - 1 }, (_, i) => `k-${i}`);
    const issueNext = async () => {
      for (let label = labels.pop(); label; label = labels.pop()) {
        const issued = await services.useCases.keys.issue(slug, { label, application: 'a' }, op());
        keys.set(issued.metadata.id, trackSecret(issued.key));
      }
    };
    await Promise.all(Array.from({ length: 4 }, issueNext));
    return { slug, component: first.key.split('.')[1]!, keys };
  }

  /** A token with a valid checksum for this customer that is no key of anybody's. */
  const madeUp = (slug: string, component: string) =>
    formatCompoundKey({ slug, component, secret: secretFromRandom(randomBytes(SECRET_RANDOM_BYTES)) });

  async function exposureRows(slug: string, keyId: string): Promise<number> {
    let rows = 0;
    const prefix = `exposure_${keyId}_`;
    for await (const _ of services.storage.clients.customers.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${slug} and RowKey ge ${prefix} and RowKey lt ${`${prefix}~`}` },
    }))
      rows += 1;
    return rows;
  }

  it('one key named at 1,000 places: one exposure record, one audit event listing the places (bounded), a constant storage cost', async () => {
    const { customer, key, keyId } = await customerWithKey(services);
    trackSecret((await services.useCases.keys.issue(customer.slug, { label: 'spare', application: 'a' }, op())).key);
    const places = (run: string) =>
      Array.from({ length: 1000 }, (_, i) => ({
        token: key,
        url: `https://github.com/octo/${run}/blob/main/f${i}.env`,
        source: 'content',
      }));

    const first = await measured(places('a'));
    // GitHub's feedback is unchanged: one entry per match, in the report's order.
    expect(first.feedback).toHaveLength(1000);
    expect(first.feedback.every((f) => f.label === 'true_positive' && f.token_hash === sha256(key))).toBe(true);
    expect(first.operations).toBeLessThanOrEqual(PER_KEY.operations + 5);

    const events = (await services.useCases.audit.list(customer.slug, { limit: 100 })).items;
    const exposed = events.filter((e) => e.type === 'key.exposed');
    expect(exposed).toHaveLength(1);
    expect(exposed[0]!.details).toMatchObject({ placeCount: 1000, action: 'revoked', url: 'https://github.com/octo/a/blob/main/f0.env' });
    const listed = exposed[0]!.details!.places as Array<{ url: string; source: string }>;
    expect(listed).toHaveLength(10);
    expect(listed[9]).toEqual({ url: 'https://github.com/octo/a/blob/main/f9.env', source: 'content' });
    expect(events.filter((e) => e.type === 'key.revoked')).toHaveLength(1);
    expect(await exposureRows(customer.slug, keyId)).toBe(1);
    const record = (await services.useCases.keys.list(customer.slug)).find((k) => k.id === keyId)!;
    expect(record.exposures).toHaveLength(10);
    expect(record.exposureCount).toBe(1000);

    // The same again at 1,000 new places: the same constant, one more record and event.
    const again = await measured(places('b'));
    expect(again.operations).toBeLessThanOrEqual(PER_KEY.operations + 5);
    expect((await services.useCases.audit.list(customer.slug, { limit: 100 })).items.filter((e) => e.type === 'key.exposed')).toHaveLength(
      2,
    );
    expect(await exposureRows(customer.slug, keyId)).toBe(2);
    expect((await services.useCases.keys.list(customer.slug)).find((k) => k.id === keyId)!.exposureCount).toBe(2000);

    // GitHub retrying the first report: nothing new is recorded.
    const retry = await measured(places('a'));
    expect(retry.operations).toBeLessThanOrEqual(PER_KEY.operations + 5);
    expect((await services.useCases.audit.list(customer.slug, { limit: 100 })).items.filter((e) => e.type === 'key.exposed')).toHaveLength(
      2,
    );
    expect(await exposureRows(customer.slug, keyId)).toBe(2);
    expect((await services.useCases.keys.list(customer.slug)).find((k) => k.id === keyId)!.exposureCount).toBe(2000);
  });

  it("1,000 made-up tokens with valid checksums for a customer with 300 keys: at most one point read each, never the customer's keys", async () => {
    const { slug, component, keys } = await customerWithKeys(300);
    const [revokedId, activeId] = [...keys.keys()];
    await services.useCases.keys.revoke(slug, revokedId!, op());
    const tokens = Array.from({ length: 998 }, () => madeUp(slug, component));
    // Two keys of ours among them, one revoked and one active, to show the answer still finds them.
    const matches: ReportMatch[] = tokens.map((token) => ({ token }));
    matches.splice(500, 0, { token: keys.get(revokedId!)! });
    matches.splice(700, 0, { token: keys.get(activeId!)! });

    const { feedback, operations, log, entities } = await measured(matches);
    expect(feedback.map((f) => f.token_hash)).toEqual(matches.map((m) => sha256(m.token)));
    expect(feedback.filter((f) => f.label === 'true_positive').map((f) => f.token_hash)).toEqual([
      sha256(keys.get(revokedId!)!),
      sha256(keys.get(activeId!)!),
    ]);
    // One point read per distinct token, plus the two keys' own handling and a constant.
    expect(operations).toBeLessThanOrEqual(1000 + 2 * PER_KEY.operations + 5);
    expect(queriesOn(log, slug)).toBe(0);
    expect(entities).toBeLessThanOrEqual(2 * PER_KEY.entities + 5);
  });

  it('1,000 made-up federated tokens with valid checksums: two reads each (a lookup row, exposure rows), nothing written', async () => {
    const { customer } = await customerWithKey(services);
    const matches: ReportMatch[] = Array.from({ length: 1000 }, () => ({
      token: formatFederatedToken({ slug: customer.slug, secret: generateFederatedSecret() }),
      type: 'veriproof_federated_token',
    }));
    const { feedback, operations, log, entities } = await measured(matches);
    expect(feedback.map((f) => f.token_hash)).toEqual(matches.map((m) => sha256(m.token)));
    expect(feedback.every((f) => f.label === 'false_positive')).toBe(true);
    expect(operations).toBeLessThanOrEqual(2 * 1000 + 5);
    expect(log.filter((r) => r.kind === 'write' || r.kind === 'batch')).toEqual([]);
    expect(entities).toBe(0);
  });

  it("many keys of one customer in one report: the customer's keys are never scanned, whatever their number", async () => {
    const { slug, keys } = await customerWithKeys(60);
    const named = [...keys].slice(0, 20);
    // Each key twice, at two places each.
    const matches = named.flatMap(([, token], i) => [
      { token, url: `https://github.com/o/r/blob/main/${i}-a.env` },
      { token, url: `https://github.com/o/r/blob/main/${i}-b.env` },
    ]);
    const { feedback, operations, log, entities } = await measured(matches);
    expect(feedback.every((f) => f.label === 'true_positive')).toBe(true);
    expect(queriesOn(log, slug)).toBe(0);
    expect(operations).toBeLessThanOrEqual(20 * PER_KEY.operations + 5);
    expect(entities).toBeLessThanOrEqual(20 * PER_KEY.entities + 5);
    const listed = await services.useCases.keys.list(slug);
    for (const [keyId] of named) expect(listed.find((k) => k.id === keyId)).toMatchObject({ status: 'revoked', exposureCount: 2 });
  });

  it("keys issued before the key-hash index: found by one read of their customer's keys, once, which indexes them", async () => {
    const { slug, component, keys } = await customerWithKeys(40);
    const [revokedId, activeId] = [...keys.keys()];
    await services.useCases.keys.revoke(slug, revokedId!, op());
    // As a deployment before the index left them: no index rows, no marker.
    const customers = services.storage.clients.customers;
    await customers.deleteEntity(slug, KEY_HASH_MARKER_ROW);
    for (const value of keys.values()) {
      const secretHash = sha256(value.split('.').at(-1)!);
      await services.storage.clients.keyHashes.deleteEntity(secretHash.slice(0, 4), secretHash);
    }

    const matches: ReportMatch[] = Array.from({ length: 200 }, () => ({ token: madeUp(slug, component) }));
    matches.splice(50, 0, { token: keys.get(revokedId!)! }, { token: keys.get(activeId!)! });
    const first = await measured(matches);
    expect(first.feedback.filter((f) => f.label === 'true_positive').map((f) => f.token_hash)).toEqual([
      sha256(keys.get(revokedId!)!),
      sha256(keys.get(activeId!)!),
    ]);
    // The customer's keys read once for the whole report, and indexed once (a row each, and the marker).
    expect(queriesOn(first.log, slug)).toBe(1);
    expect(first.operations).toBeLessThanOrEqual(202 + 2 + 40 + 1 + 2 * PER_KEY.operations + 5);

    // From then on, made-up tokens for it cost one point read each, and its keys are found by the index.
    const second = await measured([
      ...Array.from({ length: 200 }, () => ({ token: madeUp(slug, component) })),
      { token: keys.get(revokedId!)! },
    ]);
    expect(second.feedback.at(-1)!.label).toBe('true_positive');
    expect(queriesOn(second.log, slug)).toBe(0);
    expect(second.operations).toBeLessThanOrEqual(201 + PER_KEY.operations + 5);
  });
});
