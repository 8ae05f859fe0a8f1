import { MemoryRolloutStore } from '../../shared/adapters/memory/memory-rollout-store';
import { TableRolloutStore } from '../../shared/adapters/table/table-rollout-store';
import { TableStorage } from '../../shared/adapters/table/table-storage';
import type { RolloutEntry, RolloutStore, RolloutUse } from '../../shared/ports/rollout-store';
import { azuriteConnectionString, uniquePrefix } from '../support/services';
import { at } from './support/records';

/**
 * The RolloutStore port (shared/ports/rollout-store.ts) as its doc comments promise it, over the
 * in-memory fake and the Table adapter (Azurite): entries added, listed and removed, and uses
 * recorded so that an old key's latest and a successor's earliest use stand, whatever the order
 * the instances write in.
 */
const ADAPTERS: Array<[string, () => Promise<RolloutStore>]> = [
  ['memory', async () => new MemoryRolloutStore()],
  [
    'table (Azurite)',
    async () => {
      const storage = new TableStorage(
        { connectionString: azuriteConnectionString(), endpoint: undefined, prefix: uniquePrefix(), timeoutMs: 10_000 },
        { tables: ['keyExpiry'] },
      );
      await storage.ensureTables();
      return new TableRolloutStore(storage);
    },
  ],
];

const entry = (n: number, overrides: Partial<RolloutEntry> = {}): RolloutEntry => ({
  customerSlug: `acme-${n}`,
  oldKeyId: `key_old${n}`,
  successorId: `key_new${n}`,
  rolledAt: at(0),
  endsAt: at(86_400),
  quietMinutes: 60,
  closeWhenQuiet: n % 2 === 0,
  ...overrides,
});

const use = (e: RolloutEntry, side: RolloutUse['side'], seconds: number): RolloutUse => ({
  customerSlug: e.customerSlug,
  oldKeyId: e.oldKeyId,
  side,
  at: at(seconds),
});

const byKey = (entries: RolloutEntry[]) => [...entries].sort((a, b) => a.oldKeyId.localeCompare(b.oldKeyId));

describe.each(ADAPTERS)('RolloutStore contract: %s', (_name, make) => {
  let store: RolloutStore;
  beforeEach(async () => {
    store = await make();
  });

  it('lists nothing while empty, then every entry added as written', async () => {
    expect(await store.list()).toEqual([]);
    const [one, two] = [entry(1), entry(2, { quietMinutes: 5 })];
    await store.add(one);
    await store.add(two);
    expect(byKey(await store.list())).toEqual([one, two]);
  });

  it('replaces an entry added again for the same old key, its uses with it', async () => {
    const first = entry(1);
    await store.add(first);
    await store.recordUses([use(first, 'successor', 10), use(first, 'old', 20)]);
    const again = { ...first, successorId: 'key_other', quietMinutes: 90 };
    await store.add(again);
    expect(await store.list()).toEqual([again]);
  });

  it("keeps the old key's latest use and the successor's earliest, in whatever order they are written", async () => {
    const e = entry(1);
    await store.add(e);
    expect(await store.recordUses([use(e, 'old', 30), use(e, 'successor', 40)])).toEqual([]);
    await store.recordUses([use(e, 'old', 20), use(e, 'successor', 50)]); // an old key's earlier use, a successor's later one: no change
    expect(await store.list()).toEqual([{ ...e, oldLastUsedAt: at(30), successorFirstUsedAt: at(40) }]);
    await store.recordUses([use(e, 'old', 31), use(e, 'successor', 39)]);
    expect(await store.list()).toEqual([{ ...e, oldLastUsedAt: at(31), successorFirstUsedAt: at(39) }]);
  });

  it('holds the latest and earliest use when instances write at once', async () => {
    const e = entry(1);
    await store.add(e);
    // Eight instances flush at once, each with its own uses; the writes race on one row.
    const seconds = [105, 140, 101, 170, 150, 120, 160, 110];
    await Promise.all(seconds.map((s) => store.recordUses([use(e, 'old', s), use(e, 'successor', s)])));
    expect(await store.list()).toEqual([{ ...e, oldLastUsedAt: at(170), successorFirstUsedAt: at(101) }]);
  });

  it('answers the uses whose rollout has no entry (never added, or removed), and writes none of them back', async () => {
    const kept = entry(1);
    const removed = entry(2);
    await store.add(kept);
    await store.add(removed);
    await store.remove(removed.customerSlug, removed.oldKeyId);
    const stray = entry(3);
    const gone = await store.recordUses([use(kept, 'old', 5), use(removed, 'old', 5), use(stray, 'successor', 5)]);
    expect(gone).toEqual([use(removed, 'old', 5), use(stray, 'successor', 5)]);
    expect(await store.list()).toEqual([{ ...kept, oldLastUsedAt: at(5) }]);
  });

  it('removes one entry, idempotently, and no other', async () => {
    const [one, two] = [entry(1), entry(2)];
    await store.add(one);
    await store.add(two);
    await store.remove(one.customerSlug, one.oldKeyId);
    await store.remove(one.customerSlug, one.oldKeyId);
    expect(await store.list()).toEqual([two]);
  });
});
