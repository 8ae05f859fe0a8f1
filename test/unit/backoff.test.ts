import { failureBackoffMs } from '../../shared/backoff';

describe('failure backoff', () => {
  it('grows exponentially to its cap, never below the base, with full jitter', () => {
    expect(failureBackoffMs(0, 100, 5000)).toBe(100);
    expect(failureBackoffMs(1, 100, 5000, () => 1)).toBe(200);
    expect(failureBackoffMs(3, 100, 5000, () => 1)).toBe(800);
    expect(failureBackoffMs(30, 100, 5000, () => 1)).toBe(5000);
    expect(failureBackoffMs(30, 100, 5000, () => 0)).toBe(100);
    for (let i = 0; i < 100; i++) {
      const wait = failureBackoffMs(4, 100, 5000);
      expect(wait).toBeGreaterThanOrEqual(100);
      expect(wait).toBeLessThanOrEqual(1600);
    }
  });
});
