import { modelPartitionLoad, sequentialRoundTrips } from '../../bench/partition-load';
import type { StorageOperationRecord } from '../../shared/adapters/table/storage-operations';

const op = (partial: Partial<StorageOperationRecord>): StorageOperationRecord => ({
  account: 'main',
  table: 'sessions',
  partition: 'acme~00',
  kind: 'batch',
  entities: 2,
  status: 202,
  startedAt: 0,
  endedAt: 1,
  cause: 'request',
  deferred: false,
  ...partial,
});

describe('the benchmark partition-load model', () => {
  const base = { from: 0, to: 10_000, customerSlug: 'acme', partitionsPerCustomer: 64, seed: 7 };

  it('scales session traffic by the traffic factor and the rest by the instance factor', () => {
    const operations = [
      ...Array.from({ length: 100 }, (_, i) => op({ partition: `acme~${(i % 64).toString(16).padStart(2, '0')}`, startedAt: i * 50 })),
      op({ table: 'keyUsage', partition: 'acme', kind: 'batch', entities: 10, startedAt: 5000 }),
      op({ table: 'rateLimits', partition: undefined, kind: 'query', entities: 3, startedAt: 100 }),
    ];
    const model = modelPartitionLoad({ ...base, operations, trafficScale: 20, instanceScale: 4 });
    expect(model.transactionsPerSecond.traffic).toBeCloseTo((100 * 20) / 10);
    expect(model.transactionsPerSecond.instances).toBeCloseTo((2 * 4) / 10);
    expect(model.acrossPartitions).toEqual({ rateLimits: (3 * 4) / 10 });
  });

  it("spreads copies of one partition's load over the customer's partitions, as independent sessions would", () => {
    // All recorded traffic in one partition, 100 entities in one second.
    const operations = Array.from({ length: 50 }, (_, i) => op({ partition: 'acme~05', startedAt: 1000 + i }));
    const copies = modelPartitionLoad({ ...base, operations, trafficScale: 64, instanceScale: 1 });
    // 64 copies under random permutations: no partition gets them all, and the total is kept.
    expect(copies.peak.entitiesPerSecond).toBeLessThan(64 * 100);
    expect(copies.peak.entitiesPerSecond % 100).toBe(0);
    const one = modelPartitionLoad({ ...base, operations, trafficScale: 1, instanceScale: 1 });
    expect(one.peak).toEqual({ partition: expect.stringMatching(/^acme~[0-9a-f]{2}$/), entitiesPerSecond: 100 });
  });

  it("lays the recent-sessions index's traffic over the customer's index partitions, scaled like the sessions'", () => {
    // 40 entities in one second, all in one index partition.
    const operations = Array.from({ length: 20 }, (_, i) => op({ partition: 'acme~list3', startedAt: 2000 + i }));
    const model = modelPartitionLoad({ ...base, operations, listPartitionsPerCustomer: 8, trafficScale: 16, instanceScale: 1 });
    expect(model.transactionsPerSecond.traffic).toBeCloseTo((20 * 16) / 10);
    expect(model.transactionsPerSecond.instances).toBe(0);
    // 16 copies over 8 partitions: the total is kept, and no partition gets them all.
    expect(model.peak.partition).toMatch(/^acme~list[0-7]$/);
    expect(model.peak.entitiesPerSecond).toBeLessThan(16 * 40);
    expect(model.busiest.length).toBeGreaterThan(1);
  });

  it("does not count another customer's sessions as this one's traffic", () => {
    const operations = [op({ partition: 'acme-two~01', startedAt: 10 })];
    const model = modelPartitionLoad({ ...base, operations, trafficScale: 10, instanceScale: 1 });
    expect(model.transactionsPerSecond.traffic).toBe(0);
    expect(model.peak.partition).toBe('sessions/acme-two~01');
  });

  it('counts side-by-side operations as one round trip and chained ones each', () => {
    expect(sequentialRoundTrips([])).toBe(0);
    expect(
      sequentialRoundTrips([
        { startedAt: 0, endedAt: 10 },
        { startedAt: 1, endedAt: 9 },
      ]),
    ).toBe(1);
    expect(
      sequentialRoundTrips([
        { startedAt: 0, endedAt: 10 },
        { startedAt: 11, endedAt: 20 },
        { startedAt: 12, endedAt: 19 },
        { startedAt: 21, endedAt: 30 },
      ]),
    ).toBe(3);
  });
});
