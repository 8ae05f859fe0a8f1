import type { Timer } from '@azure/functions';
import type { TimerFunctionDefinition } from '../../app/function-contract';
import { TimerScheduler, assertNcrontab, nextOccurrence } from '../../local/timers';

describe('NCRONTAB schedules', () => {
  it('computes next occurrences in UTC, seconds first', () => {
    const from = new Date('2026-05-01T10:07:30Z');
    expect(nextOccurrence('0 */15 * * * *', from)?.toISOString()).toBe('2026-05-01T10:15:00.000Z');
    expect(nextOccurrence('0 30 9 * * *', from)?.toISOString()).toBe('2026-05-02T09:30:00.000Z');
    expect(nextOccurrence('0 0 3 * * 1', from)?.toISOString()).toBe('2026-05-04T03:00:00.000Z'); // next Monday
    expect(nextOccurrence('*/10 * * * * *', from)?.toISOString()).toBe('2026-05-01T10:07:40.000Z');
  });

  it('refuses five-field cron and nonsense', () => {
    expect(() => assertNcrontab('*/5 * * * *')).toThrow(/six fields/);
    expect(() => assertNcrontab('0 99 * * * *')).toThrow();
  });
});

describe('TimerScheduler (fake time)', () => {
  // Croner schedules with setTimeout and reads Date: both are faked, and time moves only when told.
  beforeEach(() =>
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'], now: new Date('2026-05-01T10:00:00.400Z') }),
  );
  afterEach(() => jest.useRealTimers());

  it('runs a timer function on its schedule with a Timer object, and stops', async () => {
    const calls: Timer[] = [];
    const definition: TimerFunctionDefinition = {
      kind: 'timer',
      name: 'tick',
      schedule: '* * * * * *',
      summary: '',
      handler: async () => {},
    };
    const scheduler = new TimerScheduler([definition], async (_d, timer) => {
      calls.push(timer);
    });
    scheduler.start();
    await jest.advanceTimersByTimeAsync(2_300); // the slots at :01, :02
    await scheduler.stop();
    expect(calls.map((c) => c.scheduleStatus.lastUpdated)).toEqual(['2026-05-01T10:00:01.000Z', '2026-05-01T10:00:02.000Z']);
    expect(calls[0]).toMatchObject({
      isPastDue: false,
      schedule: { adjustForDST: false },
      scheduleStatus: { next: '2026-05-01T10:00:02.000Z' },
    });
    await jest.advanceTimersByTimeAsync(5_000);
    expect(calls).toHaveLength(2); // stopped: no run after stop()
  });

  it('runs runOnStartup functions at once', async () => {
    const calls: string[] = [];
    const scheduler = new TimerScheduler(
      [{ kind: 'timer', name: 'daily', schedule: '0 0 3 * * *', runOnStartup: true, summary: '', handler: async () => {} }],
      async (d) => {
        calls.push(d.name);
      },
    );
    scheduler.start();
    await scheduler.stop();
    expect(calls).toEqual(['daily']);
  });
});
