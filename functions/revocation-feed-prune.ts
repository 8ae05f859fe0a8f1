import { FEED_RETENTION_MS } from '../shared/ports/revocation-feed';
import type { TimerFunctionDefinition } from './definitions';

/** Hourly: deletes revocation feed entries older than a day. */
export const revocationFeedPrune: TimerFunctionDefinition = {
  kind: 'timer',
  name: 'revocation-feed-prune',
  schedule: '0 17 * * * *',
  summary: 'Deletes revocation feed entries older than a day.',
  handler: async (_timer, { services, log }) => {
    const removed = await services.revocationFeed.prune(new Date(services.clock.millis() - FEED_RETENTION_MS));
    if (removed > 0) log.info('revocation feed pruned', { removed });
  },
};
