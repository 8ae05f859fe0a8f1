import type { Timer } from '@azure/functions';
import type { TimerFunctionDefinition } from '../../shared/function-contract';
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

describe('TimerScheduler', () => {
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
    await new Promise((r) => setTimeout(r, 2300));
    await scheduler.stop();
    const count = calls.length;
    expect(count).toBeGreaterThanOrEqual(1);
    expect(calls[0]).toMatchObject({ isPastDue: false, schedule: { adjustForDST: false } });
    expect(new Date(calls[0]!.scheduleStatus.next).getTime()).toBeGreaterThan(new Date(calls[0]!.scheduleStatus.lastUpdated).getTime());
    await new Promise((r) => setTimeout(r, 1200));
    expect(calls.length).toBe(count);
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
