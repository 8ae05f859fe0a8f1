import type { TimerFunctionDefinition } from '../app/function-contract';

/**
 * Every minute, and at start-up: finishes revocations a crash cut short after they reached the
 * revocation feed (no instance accepts those keys already; this makes them list as revoked and
 * removes what is left of them). Idempotent; safe on several instances at once.
 */
export const revocationCompletion: TimerFunctionDefinition = {
  kind: 'timer',
  name: 'revocation-completion',
  schedule: '30 * * * * *',
  runOnStartup: true,
  summary: 'Finishes revocations a crash cut short (the feed has them; the key record does not yet).',
  handler: async (_timer, { services, log }) => {
    const completed = await services.revocation.completeInterruptedRevocations();
    if (completed > 0) log.warn('interrupted revocations completed', { completed });
  },
};
