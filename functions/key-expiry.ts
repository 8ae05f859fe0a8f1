import type { TimerFunctionDefinition } from '../app/function-contract';

/**
 * Every minute: keys whose expiry passed (set at issue, by PATCH, or by a roll's overlap) are
 * revoked, freeing their labels and places under the cap. The door refuses them from the second
 * they expire without waiting for this.
 */
export const keyExpiry: TimerFunctionDefinition = {
  kind: 'timer',
  name: 'key-expiry',
  schedule: '0 * * * * *',
  runOnStartup: true,
  summary: 'Revokes keys whose expiry passed (reason expired), freeing their labels and cap places.',
  handler: async (_timer, { services, log }) => {
    const revoked = await services.revocation.expireDue();
    if (revoked > 0) log.info('expired keys revoked', { count: revoked });
  },
};
