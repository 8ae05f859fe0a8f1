import type { TimerFunctionDefinition } from '../app/function-contract';

/**
 * Every minute: keys whose expiry passed (set at issue, by PATCH, or by a roll's overlap) are
 * revoked, freeing their labels and places under the cap. The door refuses them from the second
 * they expire without waiting for this. Then rollouts that completed themselves (the new key used,
 * the old one quiet for quietMinutes) are recorded as `key.rotation_completed`, and with
 * closeWhenQuiet their old keys stop: one query of the watched rollouts per run.
 */
export const keyExpiry: TimerFunctionDefinition = {
  kind: 'timer',
  name: 'key-expiry',
  schedule: '0 * * * * *',
  runOnStartup: true,
  summary:
    'Revokes keys whose expiry passed (reason expired), freeing their labels and cap places; then completes quiet rollouts (key.rotation_completed, closeWhenQuiet).',
  handler: async (_timer, { services, log }) => {
    const revoked = await services.revocation.expireDue();
    if (revoked > 0) log.info('expired keys revoked', { count: revoked });
    // After the expiries: a rollout whose overlap ended first ends without completing.
    await services.rollouts.completeQuiet();
  },
};
