import type { TimerFunctionDefinition } from '../../app/function-contract';
import { startLocalHost } from '../../local/host';
import { testServices } from '../support/services';

describe('local host: timer functions (fake time)', () => {
  beforeEach(() =>
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'], now: new Date('2026-05-01T10:00:00.400Z') }),
  );
  afterEach(() => jest.useRealTimers());

  it('runs a declared timer on its NCRONTAB schedule with the use cases and an invocation context, and stops on close', async () => {
    const services = testServices();
    const runs: Array<{ isPastDue: boolean; functionName: string; hasServices: boolean }> = [];
    const tick: TimerFunctionDefinition = {
      kind: 'timer',
      name: 'every-second',
      schedule: '* * * * * *',
      summary: 'test timer',
      handler: async (timer, ctx) => {
        runs.push({
          isPastDue: timer.isPastDue,
          functionName: ctx.invocation.functionName,
          hasServices: ctx.services === services.useCases,
        });
      },
    };
    const failing: TimerFunctionDefinition = { ...tick, name: 'fails', handler: async () => Promise.reject(new Error('boom')) };
    const lines: string[] = [];
    const host = await startLocalHost({
      definitions: [tick, failing],
      getServices: () => services,
      port: 0,
      log: (_l, fn, m) => lines.push(`${fn}: ${m}`),
    });
    await jest.advanceTimersByTimeAsync(2_300); // the slots at :01 and :02
    await host.close();
    expect(runs).toHaveLength(2);
    // The timer gets the use cases (not the whole service context) and its own invocation.
    expect(runs[0]).toEqual({ isPastDue: false, functionName: 'every-second', hasServices: true });
    // A failing timer is logged by its own name and does not stop the others.
    expect(lines.some((l) => /^fails: timer function failed/.test(l))).toBe(true);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(runs).toHaveLength(2); // closed: no run after close()
    await services.dispose();
  });
});
