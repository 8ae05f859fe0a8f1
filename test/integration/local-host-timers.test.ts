import type { TimerFunctionDefinition } from '../../shared/function-contract';
import { startLocalHost } from '../../local/host';
import { testServices } from '../support/services';

describe('local host: timer functions', () => {
  it('runs a declared timer on its NCRONTAB schedule with the services and an invocation context, and stops on close', async () => {
    const services = testServices();
    const runs: Array<{ isPastDue: boolean; functionName: string; hasServices: boolean }> = [];
    const tick: TimerFunctionDefinition = {
      kind: 'timer',
      name: 'every-second',
      schedule: '* * * * * *',
      summary: 'test timer',
      handler: async (timer, ctx) => {
        runs.push({ isPastDue: timer.isPastDue, functionName: ctx.invocation.functionName, hasServices: ctx.services === services });
      },
    };
    const failing: TimerFunctionDefinition = { ...tick, name: 'fails', handler: async () => Promise.reject(new Error('boom')) };
    const lines: string[] = [];
    const host = await startLocalHost({ definitions: [tick, failing], getServices: () => services, port: 0, log: (_l, fn, m) => lines.push(`${fn}: ${m}`) });
    await new Promise((r) => setTimeout(r, 2500));
    await host.close();
    const count = runs.length;
    expect(count).toBeGreaterThanOrEqual(2);
    expect(runs[0]).toEqual({ isPastDue: false, functionName: 'every-second', hasServices: true });
    // A failing timer is logged by its own name and does not stop the others.
    expect(lines.some((l) => /^fails: timer function failed/.test(l))).toBe(true);
    await new Promise((r) => setTimeout(r, 1200));
    expect(runs.length).toBe(count);
  });
});
