import { hashSecret } from '../../shared/keys/compound-key';
import type { ServiceContext } from '../../shared/services/context';
import { customerWithKey, testServices } from '../support/services';
import { trackSecret } from '../support/secrets';

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
    const listed = await services.keys.list(customer.slug);
    expect(listed).toEqual([
      expect.objectContaining({ id: keyId, status: 'active', displayPrefix: `vp_cust_${customer.slug}.…${secret.slice(0, 4)}…${secret.slice(-4)}` }),
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
    const { customer, secret } = await customerWithKey(services);
    for (let i = 0; i < 30; i++) trackSecret((await services.keys.issue(customer.slug, { label: `k${i}`, application: 'a' }, 't')).key);
    const before = services.storage.operations.snapshot();
    await services.authenticator.authenticate(hashSecret(secret));
    const after = services.storage.operations.snapshot();
    expect(after.total - before.total).toBe(1);
    expect(after.read - before.read).toBe(1);
  });

  it("lists a customer's keys with one single-partition query, oldest first", async () => {
    const { customer, keyId } = await customerWithKey(services);
    const second = await services.keys.issue(customer.slug, { label: 'second', application: 'a' }, 't');
    trackSecret(second.key);
    const before = services.storage.operations.snapshot();
    const keys = await services.keys.list(customer.slug);
    const after = services.storage.operations.snapshot();
    expect(keys.map((k) => k.id)).toEqual([keyId, second.metadata.id]);
    expect(after.query - before.query).toBe(1);
    expect(after.read - before.read).toBe(1); // the customer check
  });

  it('revokes at once and for good; revoking again changes nothing', async () => {
    const { customer, keyId, secret } = await customerWithKey(services);
    const first = await services.keys.revoke(customer.slug, keyId, 'alice');
    expect(first).toMatchObject({ status: 'revoked', revokedBy: 'alice' });
    expect(await services.authenticator.authenticate(hashSecret(secret))).toBeUndefined();
    const again = await services.keys.revoke(customer.slug, keyId, 'bob');
    expect(again).toMatchObject({ status: 'revoked', revokedBy: 'alice', revokedAt: first.revokedAt });
  });

  it('keeps the first revocation under 20 concurrent revokes', async () => {
    const { customer, keyId, secret } = await customerWithKey(services);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => services.keys.revoke(customer.slug, keyId, `actor-${i}`)));
    expect(new Set(results.map((r) => `${r.revokedBy}@${r.revokedAt}`)).size).toBe(1);
    expect(await services.authenticator.authenticate(hashSecret(secret))).toBeUndefined();
  });

  it('answers not_found for unknown customers and keys, and for ids that are not key ids', async () => {
    const { customer } = await customerWithKey(services);
    await expect(services.keys.list('nobody-here')).rejects.toMatchObject({ code: 'not_found' });
    await expect(services.keys.revoke(customer.slug, 'key_01ARZ3NDEKTSV4RRFFQ69G5FAV', 'x')).rejects.toMatchObject({ code: 'not_found' });
    await expect(services.keys.revoke(customer.slug, "key_1' or '1'='1", 'x')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses a second customer with the same slug', async () => {
    const { customer } = await customerWithKey(services);
    await expect(services.customers.create({ slug: customer.slug, name: 'Again', plan: 'pro' })).rejects.toMatchObject({ code: 'customer_exists' });
  });
});

describe('crash consistency of key writes (fault hook)', () => {
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
    const listed = await services.keys.list(slug);
    const listedActive = new Set(listed.filter((k) => k.status === 'active').map((k) => k.id));
    const revoked = new Set(listed.filter((k) => k.status === 'revoked').map((k) => k.id));
    const authenticating = await authenticatingKeyIds();
    for (const id of authenticating) {
      if (!listed.some((k) => k.id === id)) continue; // another test's customer
      expect(listedActive.has(id)).toBe(true); // no key authenticates that its customer cannot list as active
      expect(revoked.has(id)).toBe(false); // no revoked key authenticates
    }
  }

  it.each(['issue:after-record', 'issue:after-lookup'])('issuing, crashed at %s, keeps the invariants', async (step) => {
    const { customer } = await customerWithKey(services);
    crashAt = step;
    await expect(services.keys.issue(customer.slug, { label: 'during-crash', application: 'a' }, 't')).rejects.toBeInstanceOf(Crash);
    crashAt = undefined;
    const crashed = (await services.keys.list(customer.slug)).find((k) => k.label === 'during-crash');
    expect(crashed?.status).toBe('active'); // listed either way...
    expect((await authenticatingKeyIds()).has(crashed!.id)).toBe(step === 'issue:after-lookup'); // ...authenticating only once both writes landed
    await assertInvariants(customer.slug);
  });

  it.each(['revoke:after-lookup', 'revoke:after-record'])('revoking, crashed at %s, never lets the key authenticate again; a retry completes it', async (step) => {
    const { customer, keyId, secret } = await customerWithKey(services);
    crashAt = step;
    await expect(services.keys.revoke(customer.slug, keyId, 'alice')).rejects.toBeInstanceOf(Crash);
    crashAt = undefined;
    expect(await services.authenticator.authenticate(hashSecret(secret))).toBeUndefined();
    await assertInvariants(customer.slug);
    const retried = await services.keys.revoke(customer.slug, keyId, 'alice');
    expect(retried.status).toBe('revoked');
    await assertInvariants(customer.slug);
  });
});
