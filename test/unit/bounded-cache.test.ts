import fc from 'fast-check';
import { BoundedCache } from '../../shared/cache/bounded-cache';

describe('BoundedCache', () => {
  it('never holds more than its bound, whatever the operations', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 50 })), { maxLength: 300 }),
        (bound, ops) => {
          const cache = new BoundedCache<number, number>(bound);
          for (const [write, key] of ops) {
            if (write) cache.set(key, key);
            else cache.get(key);
            expect(cache.size).toBeLessThanOrEqual(bound);
          }
        },
      ),
    );
  });

  it('evicts the least recently used entry', () => {
    const cache = new BoundedCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.get('a');
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c')).toBe(3);
  });

  it('gives a used entry a second chance: newcomers push out the unused ones first', () => {
    const cache = new BoundedCache<string, number>(3);
    for (const key of ['hot', 'a', 'b']) cache.set(key, 0);
    for (let i = 0; i < 10; i++) cache.get('hot');
    cache.set('c', 0); // evicts 'a' (unused); 'hot' goes round once
    cache.set('d', 0); // evicts 'b'
    expect(cache.peek('hot')).toBe(0);
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.peek('b')).toBeUndefined();
    expect(cache.size).toBe(3);
  });

  it('updates an entry in place when it is set again', () => {
    let now = 0;
    const cache = new BoundedCache<string, number>(2, 100, () => now);
    cache.set('a', 1);
    now = 50;
    cache.set('a', 2);
    now = 120;
    expect(cache.get('a')).toBe(2); // the second set's TTL
    expect(cache.size).toBe(1);
  });

  it('expires entries after their TTL', () => {
    let now = 0;
    const cache = new BoundedCache<string, number>(10, 100, () => now);
    cache.set('a', 1);
    now = 99;
    expect(cache.get('a')).toBe(1);
    now = 100;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('refuses a bound below one', () => {
    expect(() => new BoundedCache(0)).toThrow(RangeError);
  });
});
