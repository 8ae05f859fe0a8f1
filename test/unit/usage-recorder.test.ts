import { MemoryUsageStore } from '../../shared/adapters/memory/memory-usage-store';
import { ManualClock } from '../../shared/clock';
import type { KeyIdentity } from '../../shared/domain';
import { silentLogger } from '../../shared/logging';
import { UsageRecorder } from '../../shared/services/usage-recorder';

const key = (keyId: string): KeyIdentity => ({
  customerId: 'cus_1',
  customerSlug: 'acme',
  plan: 'pro',
  keyId,
  keyLabel: keyId,
  application: 'web',
  environment: 'live',
  keyType: 'secondary',
  masterComponent: { componentVersion: 'v1', previousComponentVersion: undefined, graceEndsAt: undefined, requireComponent: false },
});

function setup() {
  const clock = new ManualClock('2026-03-01T10:15:00.000Z');
  const store = new MemoryUsageStore();
  const touched: Array<{ keyId: string; hour: string }> = [];
  const recorder = new UsageRecorder({
    store,
    keys: { touchLastUsed: async (e) => void touched.push(...e) },
    clock,
    instanceId: 'inst_a',
    flushIntervalMs: 30_000,
    log: silentLogger,
  });
  return { clock, store, touched, recorder };
}

describe('UsageRecorder', () => {
  it('writes cumulative hourly counts per key, and last-used once per hour', async () => {
    const { clock, store, touched, recorder } = setup();
    for (let i = 0; i < 5; i++) recorder.record(key('k1'), 'accepted');
    recorder.record(key('k1'), 'rateLimited');
    await recorder.flush();
    recorder.record(key('k1'), 'accepted');
    await recorder.flush();
    expect([...store.rows.values()]).toEqual([
      {
        customerSlug: 'acme',
        keyId: 'k1',
        hour: '2026-03-01T10:00:00.000Z',
        instanceId: 'inst_a',
        accepted: 6,
        rateLimited: 1,
        ipRefused: 0,
      },
    ]);
    expect(touched).toEqual([{ customerSlug: 'acme', keyId: 'k1', hour: '2026-03-01T10:00:00.000Z' }]);
    clock.advance(60 * 60_000);
    recorder.record(key('k1'), 'accepted');
    await recorder.flush();
    expect(store.rows.size).toBe(2);
    expect(touched.map((t) => t.hour)).toEqual(['2026-03-01T10:00:00.000Z', '2026-03-01T11:00:00.000Z']);
  });

  it('keeps counts through a failed flush and writes them with the next one', async () => {
    const { store, recorder } = setup();
    recorder.record(key('k1'), 'accepted');
    store.failWith = new Error('storage down');
    await recorder.flush();
    expect(recorder.pending).toBe(1);
    recorder.record(key('k1'), 'accepted');
    store.failWith = undefined;
    await recorder.flush();
    expect([...store.rows.values()][0]).toMatchObject({ accepted: 2 });
    expect(recorder.pending).toBe(0);
  });

  it('flushes what it holds when stopped (graceful shutdown), and writes nothing when idle', async () => {
    const { store, recorder } = setup();
    await recorder.flush();
    expect(store.writes).toBe(0);
    recorder.start();
    recorder.record(key('k2'), 'accepted');
    await recorder.stop();
    expect([...store.rows.values()]).toEqual([expect.objectContaining({ keyId: 'k2', accepted: 1 })]);
  });

  it('backs off while storage refuses, keeping every count, and writes them once it answers', async () => {
    jest.useFakeTimers({ now: new Date('2026-03-01T10:15:00.000Z') });
    try {
      const store = new MemoryUsageStore();
      const recorder = new UsageRecorder({
        store,
        keys: { touchLastUsed: async () => undefined },
        clock: { now: () => new Date(), millis: () => Date.now() },
        instanceId: 'inst_a',
        flushIntervalMs: 30_000,
        log: silentLogger,
      });
      let attempts = 0;
      const write = store.write.bind(store);
      store.write = (rows) => (attempts++, write(rows));
      store.failWith = new Error('ServerBusy');
      recorder.start();
      for (let i = 0; i < 40; i++) {
        recorder.record(key('k1'), 'accepted');
        await jest.advanceTimersByTimeAsync(30_000); // 20 minutes of ticks
      }
      expect(attempts).toBeGreaterThanOrEqual(3);
      expect(attempts).toBeLessThan(15); // every tick would be 40
      store.failWith = undefined;
      await jest.advanceTimersByTimeAsync(6 * 60_000); // past the longest backoff
      expect([...store.rows.values()].reduce((sum, row) => sum + row.accepted, 0)).toBe(40);
      await recorder.stop();
    } finally {
      jest.useRealTimers();
    }
  });
});
