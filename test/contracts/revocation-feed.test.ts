import { MemoryRevocationFeed } from '../../shared/adapters/memory/memory-revocation-feed';
import { TableRevocationFeed } from '../../shared/adapters/table/table-revocation-feed';
import { TableStorage } from '../../shared/adapters/table/table-storage';
import { ManualClock } from '../../shared/clock';
import type { RevocationEntry, RevocationFeed } from '../../shared/ports/revocation-feed';
import { azuriteConnectionString, uniquePrefix } from '../support/services';

/**
 * The RevocationFeed port (shared/ports/revocation-feed.ts), as its doc comments promise, run
 * against the in-memory fake and the Table adapter alike. How readers use it (overlap, repeats,
 * staleness) is tested in test/unit/revocation-listener.test.ts and the propagation tests.
 */

/** A feed whose publications are stamped by `clock`. */
type Make = (clock: ManualClock) => Promise<RevocationFeed>;

const adapters: Array<[string, Make]> = [
  ['memory', async (clock) => new MemoryRevocationFeed(clock)],
  [
    'table (Azurite)',
    async (clock) =>
      new TableRevocationFeed(
        new TableStorage(
          { connectionString: azuriteConnectionString(), endpoint: undefined, prefix: uniquePrefix(), timeoutMs: 10_000 },
          { tables: ['revocations'] },
        ),
        clock,
      ),
  ],
];

const T0 = '2026-03-01T12:00:00.000Z';
const ms = (iso: string, plus = 0) => new Date(Date.parse(iso) + plus);

type Published = Omit<RevocationEntry, 'at' | 'id'>;
const entry = (n: number, overrides: Partial<Published> = {}): Published => ({
  secretHash: `hash-${n}`,
  keyId: `key_${n}`,
  customerSlug: 'acme',
  reason: 'revoked',
  ...overrides,
});
/** Entries by key id: the port promises no order among them. */
const byKey = (entries: RevocationEntry[]) => [...entries].sort((a, b) => a.keyId.localeCompare(b.keyId));
const keysOf = (entries: RevocationEntry[]) => byKey(entries).map((e) => e.keyId);

describe.each(adapters)('RevocationFeed contract: %s', (_name, make) => {
  let clock: ManualClock;
  let feed: RevocationFeed;
  beforeEach(async () => {
    clock = new ManualClock(T0);
    feed = await make(clock);
  });

  it("gives back what was published, stamped with the publisher's clock and an id", async () => {
    const actor = { type: 'user' as const, id: 'usr_1', name: 'Ada Admin' };
    await feed.publish([entry(1, { actor, requestId: 'req-1' }), entry(2, { reason: 'changed', customerSlug: 'globex' })]);
    expect(byKey(await feed.readSince(ms(T0)))).toEqual([
      { ...entry(1), actor, requestId: 'req-1', at: T0, id: expect.any(String) },
      { ...entry(2, { reason: 'changed', customerSlug: 'globex' }), at: T0, id: expect.any(String) },
    ]);
  });

  it('gives every entry an id of its own, and the same id on every read', async () => {
    await feed.publish([entry(1), entry(2), entry(3)]);
    await feed.publish([entry(1), entry(4)]); // the same key again, at the same instant
    const first = await feed.readSince(ms(T0));
    expect(new Set(first.map((e) => e.id)).size).toBe(5);
    const again = await feed.readSince(ms(T0, -60_000)); // a reader asking with an overlap
    expect(new Set(again.map((e) => e.id))).toEqual(new Set(first.map((e) => e.id)));
  });

  it('reads the entries published at or after `since`, none before', async () => {
    await feed.publish([entry(1)]);
    clock.advance(1000);
    await feed.publish([entry(2)]);
    clock.advance(1);
    await feed.publish([entry(3)]);
    expect(keysOf(await feed.readSince(ms(T0, -1)))).toEqual(['key_1', 'key_2', 'key_3']);
    expect(keysOf(await feed.readSince(ms(T0, 1)))).toEqual(['key_2', 'key_3']);
    expect(keysOf(await feed.readSince(ms(T0, 1000)))).toEqual(['key_2', 'key_3']);
    expect(keysOf(await feed.readSince(ms(T0, 1001)))).toEqual(['key_3']);
    expect(await feed.readSince(ms(T0, 1002))).toEqual([]);
  });

  it('publishes nothing for an empty list', async () => {
    await feed.publish([]);
    expect(await feed.readSince(ms(T0, -60_000))).toEqual([]);
  });

  it('keeps every entry of a large publication', async () => {
    await feed.publish(Array.from({ length: 150 }, (_, n) => entry(n)));
    const read = await feed.readSince(ms(T0));
    expect(read).toHaveLength(150);
    expect(new Set(read.map((e) => e.keyId)).size).toBe(150);
    expect(await feed.prune(ms(T0, 1))).toBe(150);
    expect(await feed.readSince(ms(T0, -1))).toEqual([]);
  });

  it('prunes the entries published before `before`, says how many, and keeps the rest', async () => {
    await feed.publish([entry(1), entry(2)]);
    clock.advance(1000);
    await feed.publish([entry(3)]);
    clock.advance(1000);
    await feed.publish([entry(4)]);
    expect(await feed.prune(ms(T0, 1000))).toBe(2);
    expect(keysOf(await feed.readSince(ms(T0, -1)))).toEqual(['key_3', 'key_4']);
    expect(await feed.prune(ms(T0, 1000))).toBe(0); // nothing left before it
    expect(await feed.prune(ms(T0, 2000))).toBe(1);
    expect(keysOf(await feed.readSince(ms(T0, -1)))).toEqual(['key_4']);
  });
});
