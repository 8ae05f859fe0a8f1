import fc from 'fast-check';
import { groupBy } from '../../shared/adapters/table/rows';

/** groupBy (shared/adapters/table/rows.ts): how the Table adapters split a flush into per-partition transactions. */
describe('groupBy', () => {
  const itemsArb = fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd'), n: fc.integer() }), { maxLength: 200 });

  it('puts every item in the group of its key, each group in input order', () => {
    fc.assert(
      fc.property(itemsArb, (items) => {
        const groups = groupBy(items, (i) => i.key);
        for (const [key, group] of groups) expect(group).toEqual(items.filter((i) => i.key === key));
        expect([...groups.values()].reduce((n, g) => n + g.length, 0)).toBe(items.length);
      }),
    );
  });

  it('orders the groups by where their keys first appear', () => {
    fc.assert(
      fc.property(itemsArb, (items) => {
        expect([...groupBy(items, (i) => i.key).keys()]).toEqual([...new Set(items.map((i) => i.key))]);
      }),
    );
  });

  it('groups one key of many items into one array, filled in place', () => {
    const items = Array.from({ length: 10_000 }, (_, n) => ({ key: 'one', n }));
    const group = groupBy(items, (i) => i.key).get('one')!;
    expect(group).toHaveLength(10_000);
    expect(group[9_999]).toBe(items[9_999]);
    expect(groupBy([], () => 'x').size).toBe(0);
  });
});
