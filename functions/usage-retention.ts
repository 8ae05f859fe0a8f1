import type { TimerFunctionDefinition } from '../app/function-contract';

/** Daily: deletes hourly usage older than the retention (40 days by default, never under 35). */
export const usageRetention: TimerFunctionDefinition = {
  kind: 'timer',
  name: 'usage-retention',
  schedule: '0 30 3 * * *',
  summary: 'Deletes hourly usage rows older than USAGE_RETENTION_DAYS.',
  handler: async (_timer, { services, log }) => {
    const removed = await services.usage.pruneExpired();
    if (removed > 0) log.info('usage pruned', { removed });
  },
};
