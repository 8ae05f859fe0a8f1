import fc from 'fast-check';
import { BoundedCache } from '../../shared/cache/bounded-cache';

describe('BoundedCache', () => {
  it('never holds more than its bound, whatever the operations', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 50 })), { maxLength: 300 }), (bound, ops) => {
        const cache = new BoundedCache<number, number>(bound);
        for (const [write, key] of ops) {
          if (write) cache.set(key, key);
          else cache.get(key);
          expect(cache.size).toBeLessThanOrEqual(bound);
        }
      }),
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
