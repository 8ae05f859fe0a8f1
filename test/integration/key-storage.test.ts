import type { TableClient } from '@azure/data-tables';
import { randomBytes } from 'node:crypto';
import { CorruptRowError } from '../../shared/adapters/table/rows';
import { PROFILE_ROW, TableCustomerRepository } from '../../shared/adapters/table/table-customer-repository';
import { TableKeyRepository, keyRowKey, lookupPartition } from '../../shared/adapters/table/table-key-repository';
import { hashSecret } from '../../shared/keys/compound-key';
import type { ServiceContext } from '../../app/context';
import { op } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { customerWithKey, testServices } from '../support/services';

describe('keys on Table Storage (Azurite)', () => {
  let services: ServiceContext;
  beforeAll(async () => {
    services = testServices({ AUTH_CACHE_TTL_SECONDS: '0' });
    await services.storage.ensureTables();
  });

  it('issues a key that authenticates, is listed masked, and stores only its hash', async () => {
    const { key, keyId, secret, customer } = await customerWithKey(services);
    const identity = await services.authenticator.authenticate(hashSecret(secret));
    expect(identity).toMatchObject({ customerSlug: customer.slug, customerId: customer.id, keyId, plan: 'pro' });
    const listed = await services.useCases.keys.list(customer.slug);
    expect(listed).toEqual([
      expect.objectContaining({
        id: keyId,
        status: 'active',
        displayPrefix: `vp_cust_${customer.slug}.…${secret.slice(0, 4)}…${secret.slice(-4)}`,
      }),
    ]);
    // What storage holds: the hash, never the secret or the key.
    const rows: string[] = [];
    for (const client of Object.values(services.storage.clients)) {
      for await (const row of client.listEntities()) rows.push(JSON.stringify(row));
    }
    const dump = rows.join('\n');
    expect(dump).toContain(hashSecret(secret));
    expect(dump).not.toContain(secret);
    expect(dump).not.toContain(key.split('.')[1]); // nor the component
  });

  it('authenticates with exactly one point read, whatever the number of keys', async () => {
    const { customer, secret } = await customerWithKey(services, { plan: 'enterprise' });
    for (let i = 0; i < 30; i++)
      trackSecret((await services.useCases.keys.issue(customer.slug, { label: `k${i}`, application: 'a' }, op())).key);
    const before = services.storage.operations.snapshot();
    await services.authenticator.authenticate(hashSecret(secret));
    const after = services.storage.operations.snapshot();
    expect(after.total - before.total).toBe(1);
    expect(after.read - before.read).toBe(1);
  });

  it('refuses 10,000 well-formed random keys (wrong checksums) without one storage call', async () => {
    const { key } = await customerWithKey(services, { plan: 'enterprise' });
    const [, component] = key.split('.');
    const before = services.storage.operations.snapshot();
    const codes = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const secret = randomBytes(32).toString('base64url'); // the right shape, a checksum that matches 1 in 2^32
      const verdict = await services.door.check({ apiKey: secret, bearerKey: undefined, component, address: `10.1.${i >> 8}.${i & 255}` });
      const code = verdict.ok ? 'ok' : verdict.code;
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    const after = services.storage.operations.snapshot();
    expect(Object.fromEntries(codes)).toEqual({ api_key_malformed: 10_000 });
    expect(after.total - before.total).toBe(0);
  });

  it("lists a customer's keys with one single-partition query, oldest first", async () => {
    const { customer, keyId } = await customerWithKey(services);
    const second = await services.useCases.keys.issue(customer.slug, { label: 'second', application: 'a' }, op());
    trackSecret(second.key);
    const before = services.storage.operations.snapshot();
    const keys = await services.useCases.keys.list(customer.slug);
    const after = services.storage.operations.snapshot();
    expect(keys.map((k) => k.id)).toEqual([keyId, second.metadata.id]);
    expect(after.query - before.query).toBe(1);
    expect(after.read - before.read).toBe(1); // the customer check
  });

  it('revokes at once and for good; revoking again changes nothing', async () => {
    const { customer, keyId, secret } = await customerWithKey(services);
    const first = await services.useCases.keys.revoke(customer.slug, keyId, op('alice'), { force: true });
    expect(first).toMatchObject({ status: 'revoked', revokedBy: { type: 'user', name: 'alice' } });
    expect(await services.authenticator.authenticate(hashSecret(secret))).toBeUndefined();
    const again = await services.useCases.keys.revoke(customer.slug, keyId, op('bob'), { force: true });
    expect(again).toMatchObject({ status: 'revoked', revokedBy: { name: 'alice' }, revokedAt: first.revokedAt });
  });

  it('keeps the first revocation under 50 concurrent revokes of one key, and counts it once', async () => {
    const { customer, keyId, secret } = await customerWithKey(services);
    trackSecret((await services.useCases.keys.issue(customer.slug, { label: 'spare', application: 'a' }, op())).key);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => services.useCases.keys.revoke(customer.slug, keyId, op(`actor-${i}`))),
    );
    expect(new Set(results.map((r) => `${r.revokedBy?.name}@${r.revokedAt}`)).size).toBe(1);
    expect(await services.authenticator.authenticate(hashSecret(secret))).toBeUndefined();
    expect((await services.useCases.customers.require(customer.slug)).activeKeyCount).toBe(1);
  });

  it('keeps the books straight when a reset races issue calls', async () => {
    const { customer, key: firstKey, keyId: firstId } = await customerWithKey(services, { plan: 'enterprise' });
    const values = new Map<string, string>([[firstId, firstKey]]);
    for (let i = 0; i < 4; i++) {
      const before = await services.useCases.keys.issue(customer.slug, { label: `before-${i}`, application: 'a' }, op());
      values.set(before.metadata.id, trackSecret(before.key));
    }
    const [reset, ...issued] = await Promise.all([
      services.useCases.keys.reset(customer.slug, op('reset')),
      ...Array.from({ length: 10 }, (_, i) =>
        services.useCases.keys.issue(customer.slug, { label: `during-${i}`, application: 'a' }, op('issue')),
      ),
    ]);
    for (const k of [...reset.keys, ...issued]) values.set(k.metadata.id, trackSecret(k.key));
    const authenticates = async (keyId: string) =>
      Boolean(await services.authenticator.authenticate(hashSecret(values.get(keyId)!.split('.').at(-1)!)));
    const keys = await services.useCases.keys.list(customer.slug);
    const active = keys.filter((k) => k.status === 'active');
    // Every key issued during the reset is active (new keys are not reset), every replaced key is revoked,
    // labels stay unique among active keys, and the count of active keys matches the rows.
    for (const k of issued) expect(active.some((a) => a.id === k.metadata.id)).toBe(true);
    for (const { oldKeyId } of reset.replaced) expect(keys.find((k) => k.id === oldKeyId)!.status).toBe('revoked');
    expect(new Set(active.map((k) => k.label.toLowerCase())).size).toBe(active.length);
    expect((await services.useCases.customers.require(customer.slug)).activeKeyCount).toBe(active.length);
    for (const k of active) expect(await authenticates(k.id)).toBe(true);
    for (const k of keys.filter((x) => x.status === 'revoked')) expect(await authenticates(k.id)).toBe(false);
  });

  it('answers not_found for unknown customers and keys, and for ids that are not key ids', async () => {
    const { customer } = await customerWithKey(services);
    await expect(services.useCases.keys.list('nobody-here')).rejects.toMatchObject({ code: 'not_found' });
    await expect(services.useCases.keys.revoke(customer.slug, 'key_01ARZ3NDEKTSV4RRFFQ69G5FAV', op())).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(services.useCases.keys.revoke(customer.slug, "key_1' or '1'='1", op())).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses a second customer with the same slug', async () => {
    const { customer } = await customerWithKey(services);
    await expect(services.useCases.customers.create({ slug: customer.slug, name: 'Again', plan: 'pro' })).rejects.toMatchObject({
      code: 'customer_exists',
    });
  });
});

/** No older row format is tolerated: a row lacking what the code always writes fails loudly. */
describe('rows the code would never write', () => {
  let services: ServiceContext;
  beforeAll(async () => {
    services = testServices({ AUTH_CACHE_TTL_SECONDS: '0' });
    await services.storage.ensureTables();
  });

  /** Replaces a row with a changed copy (Replace drops the properties the copy lacks). */
  async function rewrite(table: TableClient, pk: string, rk: string, change: (row: Record<string, unknown>) => Record<string, unknown>) {
    const { etag: _etag, timestamp: _timestamp, ...row } = await table.getEntity<Record<string, unknown>>(pk, rk);
    await table.updateEntity({ ...change(row), partitionKey: pk, rowKey: rk }, 'Replace');
  }

  const without =
    (...names: string[]) =>
    (row: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(row).filter(([name]) => !names.includes(name)));

  it('a lookup row without the master-component state', async () => {
    const { secret } = await customerWithKey(services);
    const hash = hashSecret(secret);
    const drop = without('componentVersion', 'previousComponentVersion', 'graceEndsAt', 'requireComponent');
    await rewrite(services.storage.clients.keyLookup, lookupPartition(hash), hash, drop);
    await expect(new TableKeyRepository(services.storage).findByHash(hash)).rejects.toThrow(CorruptRowError);
  });

  it('a customer row without its count of active keys, read or counted against', async () => {
    const { customer } = await customerWithKey(services);
    await rewrite(services.storage.clients.customers, customer.slug, PROFILE_ROW, without('activeKeyCount'));
    await expect(new TableCustomerRepository(services.storage).get(customer.slug)).rejects.toThrow(CorruptRowError);
    await expect(services.useCases.keys.issue(customer.slug, { label: 'second', application: 'a' }, op())).rejects.toThrow(CorruptRowError);
  });

  it('an actor held as a plain name', async () => {
    const { customer, keyId } = await customerWithKey(services);
    await rewrite(services.storage.clients.customers, customer.slug, keyRowKey(keyId), (row) => ({ ...row, createdBy: 'alice' }));
    await expect(new TableKeyRepository(services.storage).list(customer.slug)).rejects.toThrow(CorruptRowError);
  });
});

describe('crash consistency of key writes (fault hook before each storage step)', () => {
  class Crash extends Error {}
  let crashAt: string | undefined;
  let services: ServiceContext;
  beforeAll(() => {
    services = testServices(
      { AUTH_CACHE_TTL_SECONDS: '0' },
      {
        faultHook: (step) => {
          if (step === crashAt) throw new Crash(step);
        },
      },
    );
  });
  afterEach(() => (crashAt = undefined));

  /** Key ids that have a lookup row, i.e. keys that can authenticate. */
  async function authenticatingKeyIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    for await (const row of services.storage.clients.keyLookup.listEntities<{ keyId: string }>()) ids.add(row.keyId);
    return ids;
  }

  async function assertInvariants(slug: string) {
    const listed = await services.useCases.keys.list(slug);
    const listedActive = new Set(listed.filter((k) => k.status === 'active').map((k) => k.id));
    const authenticating = await authenticatingKeyIds();
    for (const key of listed) {
      // No key authenticates that its customer cannot list as active; no revoked key authenticates.
      if (authenticating.has(key.id)) expect(listedActive.has(key.id)).toBe(true);
    }
    expect((await services.useCases.customers.require(slug)).activeKeyCount).toBe(listedActive.size);
  }

  it.each([
    ['keys.insertRecord', false, false],
    ['keys.insertLookup', true, false],
  ])('issuing, crashed before %s: listed=%s, authenticates=%s, invariants hold', async (step, listed, authenticates) => {
    const { customer } = await customerWithKey(services);
    crashAt = step;
    await expect(services.useCases.keys.issue(customer.slug, { label: 'during-crash', application: 'a' }, op())).rejects.toBeInstanceOf(
      Crash,
    );
    crashAt = undefined;
    const crashed = (await services.useCases.keys.list(customer.slug)).find((k) => k.label === 'during-crash');
    expect(Boolean(crashed)).toBe(listed);
    if (crashed) expect((await authenticatingKeyIds()).has(crashed.id)).toBe(authenticates);
    await assertInvariants(customer.slug);
  });

  it.each(['feed.publish', 'keys.deleteLookup', 'keys.markRevoked'])(
    'revoking, crashed before %s, never lets a revoked key authenticate; a retry completes it',
    async (step) => {
      const { customer, keyId, secret } = await customerWithKey(services);
      trackSecret((await services.useCases.keys.issue(customer.slug, { label: 'spare', application: 'a' }, op())).key);
      crashAt = step;
      await expect(services.useCases.keys.revoke(customer.slug, keyId, op('alice'))).rejects.toBeInstanceOf(Crash);
      crashAt = undefined;
      const stillAuthenticates = Boolean(await services.authenticator.authenticate(hashSecret(secret)));
      // Before the feed nothing was written; from the feed on, the key is refused.
      expect(stillAuthenticates).toBe(step === 'feed.publish');
      await assertInvariants(customer.slug);
      const retried = await services.useCases.keys.revoke(customer.slug, keyId, op('alice'));
      expect(retried.status).toBe('revoked');
      expect(await services.authenticator.authenticate(hashSecret(secret))).toBeUndefined();
      await assertInvariants(customer.slug);
    },
  );

  it('frees no place when it revokes a key rolled before rolling-out keys held their own (its successor holds the pair’s)', async () => {
    const { customer, keyId } = await customerWithKey(services, { plan: 'starter' });
    const successor = await services.useCases.keys.issue(customer.slug, { label: 'successor', application: 'a' }, op());
    trackSecret(successor.key);
    // As a roll wrote it before: the old key linked to its successor, one place for the two.
    const customers = services.storage.clients.customers;
    await customers.updateEntity({ partitionKey: customer.slug, rowKey: keyRowKey(keyId), rolledTo: successor.metadata.id }, 'Merge');
    await customers.updateEntity({ partitionKey: customer.slug, rowKey: PROFILE_ROW, activeKeyCount: 1 }, 'Merge');
    await services.useCases.keys.revoke(customer.slug, keyId, op());
    expect((await services.useCases.customers.require(customer.slug)).activeKeyCount).toBe(1);
    // A key rolled now holds its own place: revoking it frees it.
    const rolled = await services.useCases.keys.roll(customer.slug, successor.metadata.id, { overlapHours: 1 }, op());
    trackSecret(rolled.key);
    expect((await services.useCases.customers.require(customer.slug)).activeKeyCount).toBe(2);
    await services.useCases.keys.revoke(customer.slug, successor.metadata.id, op());
    expect((await services.useCases.customers.require(customer.slug)).activeKeyCount).toBe(1);
  });
});
