import { MemoryRolloutStore } from '../../shared/adapters/memory/memory-rollout-store';
import { MemoryUsageStore } from '../../shared/adapters/memory/memory-usage-store';
import { ManualClock } from '../../shared/clock';
import type { KeyIdentity, RolloutWatch } from '../../shared/domain';
import type { RolloutUse } from '../../shared/ports/rollout-store';
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

describe('UsageRecorder: the uses of keys a roll watches', () => {
  const UNTIL = '2026-03-02T10:00:00.000Z';
  const watched = (keyId: string, side: RolloutWatch['side']): KeyIdentity => ({
    ...key(keyId),
    rolloutWatch: { oldKeyId: 'key_old', side, until: UNTIL },
  });
  const rolledAt = '2026-03-01T10:00:00.000Z';

  function watching() {
    const clock = new ManualClock('2026-03-01T10:15:00.000Z');
    const rollouts = new MemoryRolloutStore();
    const written: RolloutUse[][] = [];
    const recordUses = rollouts.recordUses.bind(rollouts);
    rollouts.recordUses = (uses) => (written.push(uses), recordUses(uses));
    const recorder = new UsageRecorder({
      store: new MemoryUsageStore(),
      keys: { touchLastUsed: async () => undefined },
      rollouts,
      clock,
      instanceId: 'inst_a',
      flushIntervalMs: 30_000,
      log: silentLogger,
    });
    const entry = () => rollouts.entries.get('acme_key_old');
    return { clock, rollouts, written, recorder, entry };
  }

  const add = (rollouts: MemoryRolloutStore) =>
    rollouts.add({
      customerSlug: 'acme',
      oldKeyId: 'key_old',
      successorId: 'key_new',
      rolledAt,
      endsAt: UNTIL,
      quietMinutes: 60,
      closeWhenQuiet: false,
    });

  it("writes the old key's last use to the millisecond (not its hour) and the successor's first, one write per key and flush", async () => {
    const { clock, rollouts, written, recorder, entry } = watching();
    await add(rollouts);
    recorder.record(watched('key_old', 'old'), 'accepted');
    clock.advance(1_234);
    recorder.record(watched('key_old', 'old'), 'rateLimited'); // refused by its limit: still sent, still in use
    recorder.record(watched('key_new', 'successor'), 'accepted');
    clock.advance(10_000);
    recorder.record(watched('key_new', 'successor'), 'accepted'); // not its first
    await recorder.flush();
    expect(entry()).toMatchObject({ oldLastUsedAt: '2026-03-01T10:15:01.234Z', successorFirstUsedAt: '2026-03-01T10:15:01.234Z' });
    expect(written).toHaveLength(1);
    expect(written[0]).toHaveLength(2);

    // Nothing new: nothing written. The successor used again: nothing written for it, ever.
    await recorder.flush();
    clock.advance(60_000);
    recorder.record(watched('key_new', 'successor'), 'accepted');
    recorder.record(watched('key_old', 'old'), 'ipRefused'); // sent from outside its allowlist: still in use
    await recorder.flush();
    expect(written.map((w) => w.map((u) => u.side))).toEqual([['old', 'successor'], ['old']]);
    expect(entry()).toMatchObject({ oldLastUsedAt: '2026-03-01T10:16:11.234Z', successorFirstUsedAt: '2026-03-01T10:15:01.234Z' });
  });

  it("does not count a successor's refused request as its first use", async () => {
    const { clock, rollouts, recorder, entry } = watching();
    await add(rollouts);
    recorder.record(watched('key_new', 'successor'), 'ipRefused');
    await recorder.flush();
    expect(entry()!.successorFirstUsedAt).toBeUndefined();
    clock.advance(5_000);
    recorder.record(watched('key_new', 'successor'), 'accepted');
    await recorder.flush();
    expect(entry()!.successorFirstUsedAt).toBe('2026-03-01T10:15:05.000Z');
  });

  it('stops writing the uses of a rollout that is over (no entry), and of a watch past its end', async () => {
    const { clock, rollouts, written, recorder } = watching();
    recorder.record(watched('key_old', 'old'), 'accepted'); // no entry: completed or ended
    await recorder.flush();
    clock.advance(1_000);
    recorder.record(watched('key_old', 'old'), 'accepted');
    await recorder.flush();
    expect(written).toHaveLength(1);
    expect(recorder.pendingRolloutUses).toBe(0);

    await add(rollouts);
    clock.set(UNTIL);
    recorder.record(watched('key_x', 'old'), 'accepted');
    await recorder.flush();
    expect(written).toHaveLength(1);
  });

  it('keeps a use through a failed flush and writes the latest with the next', async () => {
    const { clock, rollouts, recorder, entry } = watching();
    await add(rollouts);
    const recordUses = rollouts.recordUses.bind(rollouts);
    rollouts.recordUses = async () => {
      throw new Error('storage down');
    };
    recorder.record(watched('key_old', 'old'), 'accepted');
    await recorder.flush();
    expect(recorder.pendingRolloutUses).toBe(1);
    clock.advance(30_000);
    recorder.record(watched('key_old', 'old'), 'accepted');
    rollouts.recordUses = recordUses;
    await recorder.flush();
    expect(recorder.pendingRolloutUses).toBe(0);
    expect(entry()!.oldLastUsedAt).toBe('2026-03-01T10:15:30.000Z');
  });
});
