import { MemoryCustomerRepository } from '../../shared/adapters/memory/memory-customer-repository';
import { MemoryKeyRepository } from '../../shared/adapters/memory/memory-key-repository';
import { ManualClock } from '../../shared/clock';
import { DependencyUnavailableError } from '../../shared/errors';
import type { KeyLookupEntry } from '../../shared/ports/key-repository';
import { KeyAuthenticator } from '../../shared/auth/key-authenticator';

const entry = (hash: string): KeyLookupEntry => ({
  secretHash: hash,
  status: 'active',
  customerId: 'cus_1',
  customerSlug: 'acme',
  plan: 'pro',
  keyId: 'key_1',
  keyLabel: 'ingest',
  application: 'web',
  environment: 'live',
  keyType: 'secondary',
  masterComponent: { componentVersion: 'v1', previousComponentVersion: undefined, graceEndsAt: undefined, requireComponent: false },
});

function setup(ttlMs = 30_000, maxEntries = 100) {
  const repo = new MemoryKeyRepository(new MemoryCustomerRepository());
  const clock = new ManualClock();
  const auth = new KeyAuthenticator(repo, clock, { ttlMs, maxEntries });
  repo.lookups.set('h1', entry('h1'));
  return { repo, clock, auth };
}

describe('KeyAuthenticator', () => {
  it('serves repeats from the cache until the TTL runs out', async () => {
    const { repo, clock, auth } = setup(30_000);
    await auth.authenticate('h1');
    await auth.authenticate('h1');
    expect(repo.lookupCalls).toBe(1);
    clock.advance(29_999);
    await auth.authenticate('h1');
    expect(repo.lookupCalls).toBe(1);
    clock.advance(2);
    await auth.authenticate('h1');
    expect(repo.lookupCalls).toBe(2);
  });

  it('caches misses too, so a repeated bad key does not reach storage', async () => {
    const { repo, auth } = setup();
    expect(await auth.authenticate('unknown')).toBeUndefined();
    expect(await auth.authenticate('unknown')).toBeUndefined();
    expect(repo.lookupCalls).toBe(1);
  });

  it('shares one read among concurrent misses for the same hash', async () => {
    const { repo, auth } = setup();
    const results = await Promise.all(Array.from({ length: 50 }, () => auth.authenticate('h1')));
    expect(results.every((r) => r?.keyId === 'key_1')).toBe(true);
    expect(repo.lookupCalls).toBe(1);
  });

  it('evicts at once on revocation', async () => {
    const { repo, auth } = setup();
    expect(await auth.authenticate('h1')).toBeDefined();
    repo.lookups.delete('h1');
    auth.evict('h1');
    expect(await auth.authenticate('h1')).toBeUndefined();
  });

  it('does not cache a read that was in flight when the key was revoked', async () => {
    const { repo, auth } = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const original = repo.findByHash.bind(repo);
    repo.findByHash = async (hash) => {
      const found = await original(hash); // read before the revocation...
      await gate; // ...answered after it
      return found;
    };
    const stale = auth.authenticate('h1');
    repo.lookups.delete('h1');
    auth.evict('h1');
    release();
    expect(await stale).toBeDefined(); // that one request raced the revocation
    repo.findByHash = original;
    expect(await auth.authenticate('h1')).toBeUndefined(); // but nothing stale was cached
  });

  it('does not cache outages', async () => {
    const { repo, auth } = setup();
    repo.failWith = new DependencyUnavailableError('table storage');
    await expect(auth.authenticate('h1')).rejects.toBeInstanceOf(DependencyUnavailableError);
    repo.failWith = undefined;
    expect(await auth.authenticate('h1')).toBeDefined();
  });

  it('stays within its entry bounds: identities, and unknown hashes in a tenth of that', async () => {
    const { repo, auth } = setup(30_000, 100);
    for (let i = 0; i < 200; i++) repo.lookups.set(`k${i}`, entry(`k${i}`));
    for (let i = 0; i < 200; i++) await auth.authenticate(`k${i}`);
    for (let i = 0; i < 1000; i++) await auth.authenticate(`miss-${i}`);
    expect(auth.cachedEntries).toBe(100 + 10);
  });

  it('keeps valid keys cached through a flood of made-up secrets', async () => {
    const { repo, auth } = setup(30_000, 100);
    await auth.authenticate('h1');
    for (let i = 0; i < 10_000; i++) await auth.authenticate(`random-${i}`);
    const reads = repo.lookupCalls;
    expect(await auth.authenticate('h1')).toBeDefined();
    expect(repo.lookupCalls).toBe(reads); // still a cache hit
  });

  it('refuses a revoked hash without a read, whatever storage still says', async () => {
    const { repo, auth } = setup();
    await auth.authenticate('h1');
    auth.revoke('h1'); // the lookup row is still there (the revocation was cut short)
    const reads = repo.lookupCalls;
    expect(auth.cached('h1')).toBeNull();
    expect(await auth.authenticate('h1')).toBeUndefined();
    expect(repo.lookupCalls).toBe(reads);
  });

  it('with a TTL of 0 reads storage every time', async () => {
    const { repo, auth } = setup(0);
    for (let i = 0; i < 5; i++) await auth.authenticate('h1');
    expect(repo.lookupCalls).toBe(5);
  });
});
