import type { TimerFunctionDefinition } from '../app/function-contract';

/**
 * Every minute: keys whose expiry passed (set at issue, by PATCH, or by a roll's overlap) are
 * revoked, freeing their labels and places under the cap. The door refuses them from the second
 * they expire without waiting for this. Then keys 7 days and 1 day from their expiry get their
 * `key.expiring` warning (an audit event and a webhook), each once.
 */
export const keyExpiry: TimerFunctionDefinition = {
  kind: 'timer',
  name: 'key-expiry',
  schedule: '0 * * * * *',
  runOnStartup: true,
  summary:
    'Revokes keys whose expiry passed (reason expired), freeing their labels and cap places; warns of expiries 7 days and 1 day ahead.',
  handler: async (_timer, { services, log }) => {
    const revoked = await services.revocation.expireDue();
    if (revoked > 0) log.info('expired keys revoked', { count: revoked });
    const warned = await services.revocation.expiry.warnExpiring();
    if (warned > 0) log.info('key expiry warnings recorded', { count: warned });
  },
};
