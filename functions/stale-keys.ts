import type { TimerFunctionDefinition } from '../app/function-contract';

/** Daily: records every customer's stale keys in its audit log; revokes them where the customer's policy says so. */
export const staleKeys: TimerFunctionDefinition = {
  kind: 'timer',
  name: 'stale-keys',
  schedule: '0 0 3 * * *',
  summary: 'Records stale keys as audit events; revokes them for customers whose policy asks for it.',
  handler: async (_timer, { services, log }) => {
    const result = await services.staleKeys.run();
    log.info('stale-key review', result);
  },
};
