import type { TimerFunctionDefinition } from './definitions';

/** Daily: deletes hourly usage older than the retention (40 days by default, never under 35). */
export const usageRetention: TimerFunctionDefinition = {
  kind: 'timer',
  name: 'usage-retention',
  schedule: '0 30 3 * * *',
  summary: 'Deletes hourly usage rows older than USAGE_RETENTION_DAYS.',
  handler: async (_timer, { services, log }) => {
    const before = new Date(services.clock.millis() - services.config.usage.retentionDays * 86_400_000).toISOString();
    const removed = await services.usageStore.prune(before);
    if (removed > 0) log.info('usage pruned', { removed });
  },
};
