import { MemoryRateLimitStore } from '../../shared/adapters/memory/memory-rate-limit-store';
import { TableRateLimitStore } from '../../shared/adapters/table/table-rate-limit-store';
import type { InstanceDemand, RateLimitStore } from '../../shared/ports/rate-limit-store';
import { freshTableStorage } from './support/small-ports';

/** The RateLimitStore port (shared/ports/rate-limit-store.ts): one behaviour, whichever adapter shares the demand. */
const adapters: Array<[string, () => Promise<RateLimitStore>]> = [
  ['memory', async () => new MemoryRateLimitStore()],
  ['table (Azurite)', async () => new TableRateLimitStore(await freshTableStorage('rateLimits'))],
];

const T0 = Date.parse('2026-03-01T12:00:00.000Z');

/** A demand of `keys` keys with fractional rates (what a window's average looks like). */
const manyKeys = (keys: number): Record<string, number> =>
  Object.fromEntries(Array.from({ length: keys }, (_, i) => [`key_01HZY${String(i).padStart(21, '0')}`, (i % 97) + 0.125]));

const byInstance = (rows: InstanceDemand[]): InstanceDemand[] => [...rows].sort((a, b) => a.instanceId.localeCompare(b.instanceId));

describe.each(adapters)('RateLimitStore contract: %s', (_adapter, make) => {
  let store: RateLimitStore;
  beforeEach(async () => {
    store = await make();
  });

  it('reads nothing before any instance published', async () => {
    expect(await store.readAll()).toEqual([]);
  });

  it("reads every instance's row as published, stale ones included", async () => {
    const rows: InstanceDemand[] = [
      { instanceId: 'inst-a', at: T0, demand: { key_1: 12.5, key_2: 0.25 } },
      { instanceId: 'inst-b', at: T0 - 3_600_000, demand: { key_1: 3 } },
      { instanceId: 'inst-c', at: T0 + 1, demand: {} },
    ];
    for (const row of rows) await store.publish(row);
    expect(byInstance(await store.readAll())).toEqual(rows);
  });

  it("replaces the instance's row: a later publish leaves nothing of the earlier one", async () => {
    await store.publish({ instanceId: 'inst-a', at: T0, demand: manyKeys(3000) });
    await store.publish({ instanceId: 'inst-b', at: T0, demand: { key_9: 1 } });
    const later: InstanceDemand = { instanceId: 'inst-a', at: T0 + 1000, demand: { key_2: 4 } };
    await store.publish(later);
    expect(byInstance(await store.readAll())).toEqual([later, { instanceId: 'inst-b', at: T0, demand: { key_9: 1 } }]);
  });

  it('keeps a demand of thousands of keys whole', async () => {
    const row: InstanceDemand = { instanceId: 'inst-a', at: T0, demand: manyKeys(3000) };
    await store.publish(row);
    expect(await store.readAll()).toEqual([row]);
  });

  it('prunes the rows published before `before` and keeps the others; pruning again, or at once, is harmless', async () => {
    const rows: InstanceDemand[] = [
      { instanceId: 'inst-old', at: T0 - 600_000, demand: { key_1: 1 } },
      { instanceId: 'inst-edge', at: T0, demand: { key_1: 2 } },
      { instanceId: 'inst-new', at: T0 + 1, demand: { key_1: 3 } },
      { instanceId: 'inst-older', at: T0 - 1, demand: {} },
    ];
    for (const row of rows) await store.publish(row);
    await Promise.all([store.prune(T0), store.prune(T0)]);
    await store.prune(T0);
    expect(byInstance(await store.readAll())).toEqual(byInstance([rows[1]!, rows[2]!]));
  });
});
