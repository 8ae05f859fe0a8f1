import { MemoryUsageStore } from '../../shared/adapters/memory/memory-usage-store';
import { TableUsageStore } from '../../shared/adapters/table/table-usage-store';
import type { UsageRow, UsageStore } from '../../shared/ports/usage-store';
import { freshSlug, freshTableStorage } from './support/small-ports';

/** The UsageStore port (shared/ports/usage-store.ts): one behaviour, whichever adapter holds the counts. */
const adapters: Array<[string, () => Promise<UsageStore>]> = [
  ['memory', async () => new MemoryUsageStore()],
  ['table (Azurite)', async () => new TableUsageStore(await freshTableStorage('keyUsage'))],
];

/** The start of hour `h` of 2026-03-01 (`h` may run past 23 into the next days). */
const hour = (h: number): string => new Date(Date.parse('2026-03-01T00:00:00.000Z') + h * 3_600_000).toISOString();
/** `minutes` into hour `h`. */
const within = (h: number, minutes: number): string => new Date(Date.parse(hour(h)) + minutes * 60_000).toISOString();

function usageRow(customerSlug: string, h: number, overrides: Partial<UsageRow> = {}): UsageRow {
  return { customerSlug, keyId: 'key_a', hour: hour(h), instanceId: 'inst-1', accepted: 10, rateLimited: 2, ipRefused: 1, ...overrides };
}

/** Rows in one order (the port promises none). */
const sorted = (rows: UsageRow[]): UsageRow[] =>
  [...rows].sort((a, b) =>
    `${a.customerSlug}${a.hour}${a.keyId}${a.instanceId}`.localeCompare(`${b.customerSlug}${b.hour}${b.keyId}${b.instanceId}`),
  );

describe.each(adapters)('UsageStore contract: %s', (_adapter, make) => {
  let store: UsageStore;
  beforeEach(async () => {
    store = await make();
  });

  describe('write and read', () => {
    it('reads back the rows of hours from `from` up to, not including, `to`, every count', async () => {
      const slug = freshSlug();
      const rows = [10, 11, 12, 13].map((h) => usageRow(slug, h, { accepted: h, rateLimited: h + 100, ipRefused: h + 200 }));
      await store.write(rows);
      expect(sorted(await store.read(slug, hour(11), hour(13)))).toEqual([rows[1], rows[2]]);
      expect(sorted(await store.read(slug, hour(0), hour(48)))).toEqual(rows);
      expect(await store.read(slug, hour(14), hour(20))).toEqual([]);
    });

    it('takes bounds inside an hour to the start of their hour', async () => {
      const slug = freshSlug();
      const rows = [10, 11, 12, 13].map((h) => usageRow(slug, h));
      await store.write(rows);
      expect(sorted(await store.read(slug, within(11, 30), within(13, 30)))).toEqual([rows[1], rows[2]]);
    });

    it('reads one key when asked, and only the customer asked for', async () => {
      const slug = freshSlug();
      const a = usageRow(slug, 12, { keyId: 'key_a' });
      const b = usageRow(slug, 12, { keyId: 'key_b' });
      const theirs = usageRow(freshSlug(), 12, { keyId: 'key_a' });
      await store.write([a, b, theirs]);
      expect(await store.read(slug, hour(0), hour(24), 'key_b')).toEqual([b]);
      expect(sorted(await store.read(slug, hour(0), hour(24)))).toEqual([a, b]);
      expect(await store.read(freshSlug(), hour(0), hour(24))).toEqual([]);
    });

    it("replaces an instance's earlier row for the same key and hour (counts are cumulative, not added)", async () => {
      const slug = freshSlug();
      await store.write([usageRow(slug, 12, { accepted: 5, rateLimited: 1, ipRefused: 0 })]);
      const later = usageRow(slug, 12, { accepted: 9, rateLimited: 3, ipRefused: 2 });
      await store.write([later]);
      expect(await store.read(slug, hour(12), hour(13))).toEqual([later]);
    });

    it('keeps the rows of several instances for one key and hour side by side', async () => {
      const slug = freshSlug();
      const rows = ['inst-1', 'inst-2', 'inst-3'].map((instanceId, i) => usageRow(slug, 12, { instanceId, accepted: i + 1 }));
      await store.write(rows.slice(0, 2));
      await store.write(rows.slice(2));
      expect(sorted(await store.read(slug, hour(12), hour(13)))).toEqual(rows);
    });

    it('writes every row of a large flush, over several customers', async () => {
      const slugs = [freshSlug(), freshSlug()];
      const rows = slugs.flatMap((slug) =>
        Array.from({ length: 130 }, (_, i) => usageRow(slug, i % 5, { keyId: `key_${i}`, accepted: i })),
      );
      await store.write(rows);
      for (const slug of slugs)
        expect(sorted(await store.read(slug, hour(0), hour(5)))).toEqual(sorted(rows.filter((r) => r.customerSlug === slug)));
    });
  });

  describe('prune', () => {
    it('deletes the rows of hours before `before`, of every customer, and says how many', async () => {
      const x = freshSlug();
      const y = freshSlug();
      const rows = [x, y].flatMap((slug) => [10, 11, 12].map((h) => usageRow(slug, h)));
      await store.write(rows);
      expect(await store.prune(hour(12))).toBe(4);
      for (const slug of [x, y]) expect(await store.read(slug, hour(0), hour(24))).toEqual([usageRow(slug, 12)]);
      expect(await store.prune(hour(12))).toBe(0);
    });

    it('keeps the hour that `before` falls inside: only hours that ended by then go', async () => {
      const slug = freshSlug();
      await store.write([10, 11, 12].map((h) => usageRow(slug, h)));
      expect(await store.prune(within(11, 30))).toBe(1);
      expect(sorted(await store.read(slug, hour(0), hour(24)))).toEqual([usageRow(slug, 11), usageRow(slug, 12)]);
    });
  });
});
