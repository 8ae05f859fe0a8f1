import { MemoryCustomerRepository } from '../../shared/adapters/memory/memory-customer-repository';
import { MemoryKeyRepository } from '../../shared/adapters/memory/memory-key-repository';
import { MemoryRevocationFeed } from '../../shared/adapters/memory/memory-revocation-feed';
import { ManualClock } from '../../shared/clock';
import { silentLogger } from '../../shared/logging';
import type { KeyLookupEntry } from '../../shared/ports/key-repository';
import { KeyAuthenticator } from '../../shared/services/key-authenticator';
import { RevocationListener } from '../../shared/services/revocation-listener';

const entry: KeyLookupEntry = {
  secretHash: 'h1',
  status: 'active',
  customerId: 'cus_1',
  customerSlug: 'acme',
  plan: 'pro',
  keyId: 'key_1',
  keyLabel: 'ingest',
  application: 'web',
  environment: 'live',
  keyType: 'secondary',
  tenantKey: { componentVersion: 'v1', previousComponentVersion: undefined, graceEndsAt: undefined, requireComponent: false },
};

function setup() {
  const clock = new ManualClock(new Date());
  const repo = new MemoryKeyRepository(new MemoryCustomerRepository());
  repo.lookups.set('h1', entry);
  const feed = new MemoryRevocationFeed();
  let listener: RevocationListener | undefined;
  const auth = new KeyAuthenticator(repo, clock, { ttlMs: 300_000, maxEntries: 100, trusted: () => listener!.trusted() });
  listener = new RevocationListener(feed, (hash) => auth.evict(hash), clock, { pollIntervalMs: 1000, maxStalenessMs: 30_000 }, silentLogger);
  return { clock, repo, feed, auth, listener };
}

describe('RevocationListener', () => {
  it('evicts keys published to the feed by other instances', async () => {
    const { repo, feed, auth, listener } = setup();
    await listener.poll();
    expect(await auth.authenticate('h1')).toBeDefined();
    repo.lookups.delete('h1'); // another instance revoked it...
    expect(await auth.authenticate('h1')).toBeDefined(); // ...this one still has it cached
    await feed.publish([{ secretHash: 'h1', keyId: 'key_1', customerSlug: 'acme', reason: 'revoked' }]);
    await listener.poll();
    expect(await auth.authenticate('h1')).toBeUndefined();
  });

  it('does not trust the cache before its first read, nor longer than the staleness bound after its last', async () => {
    const { clock, repo, feed, auth, listener } = setup();
    expect(listener.trusted()).toBe(false);
    await listener.poll();
    expect(listener.trusted()).toBe(true);
    await auth.authenticate('h1');
    const reads = repo.lookupCalls;

    feed.failWith = new Error('storage down');
    clock.advance(29_000);
    await listener.poll();
    await auth.authenticate('h1');
    expect(repo.lookupCalls).toBe(reads); // within the bound: served from the cache

    clock.advance(2000); // 31 s since the last good read
    await listener.poll();
    expect(listener.trusted()).toBe(false);
    await auth.authenticate('h1');
    await auth.authenticate('h1');
    expect(repo.lookupCalls).toBe(reads + 2); // every lookup goes to storage

    feed.failWith = undefined;
    await listener.poll();
    expect(listener.trusted()).toBe(true);
    await auth.authenticate('h1');
    expect(repo.lookupCalls).toBe(reads + 2);
  });

  it('catches up on revocations published while the feed was unreadable', async () => {
    const { repo, feed, auth, listener, clock } = setup();
    await listener.poll();
    await auth.authenticate('h1');
    feed.failWith = new Error('down');
    clock.advance(5000);
    await listener.poll();
    feed.failWith = undefined;
    repo.lookups.delete('h1');
    await feed.publish([{ secretHash: 'h1', keyId: 'key_1', customerSlug: 'acme', reason: 'revoked' }]);
    await listener.poll();
    expect(await auth.authenticate('h1')).toBeUndefined();
  });
});
