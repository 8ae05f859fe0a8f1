import type { TimerFunctionDefinition } from '../app/function-contract';

/** Hourly: deletes revocation feed entries older than a day. */
export const revocationFeedPrune: TimerFunctionDefinition = {
  kind: 'timer',
  name: 'revocation-feed-prune',
  schedule: '0 17 * * * *',
  summary: 'Deletes revocation feed entries older than a day.',
  handler: async (_timer, { services, log }) => {
    const removed = await services.revocation.pruneRevocationFeed();
    if (removed > 0) log.info('revocation feed pruned', { removed });
  },
};
