import type { TimerFunctionDefinition } from '../app/function-contract';

/**
 * Every 15 minutes: retires the master components whose grace period has ended. Acceptance
 * never waits for it (the door applies the same rule to every request); it disables the old
 * Key Vault version, clears the previous slot and records the event.
 */
export const tenantKeyGrace: TimerFunctionDefinition = {
  kind: 'timer',
  name: 'tenant-key-grace',
  schedule: '0 */15 * * * *',
  runOnStartup: true,
  summary: 'Retires master components whose grace period has ended (idempotent, catches up after downtime).',
  handler: async (_timer, { services, log }) => {
    const { retired, checked } = await services.masterComponents.retireDue();
    if (checked > 0) log.info('tenant-key grace check', { checked, retired });
  },
};
