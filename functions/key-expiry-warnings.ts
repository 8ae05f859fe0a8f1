import type { TimerFunctionDefinition } from '../app/function-contract';

/**
 * Every hour (and at start): keys 7 days and 1 day from their expiry get their `key.expiring`
 * warning, an audit event and so a webhook, each once per expiry (the key's record remembers it).
 * It reads the expiry index a week ahead, and each key due a warning once per process.
 */
export const keyExpiryWarnings: TimerFunctionDefinition = {
  kind: 'timer',
  name: 'key-expiry-warnings',
  schedule: '0 5 * * * *',
  runOnStartup: true,
  summary: 'Records key.expiring 7 days and 1 day before each key expires (once each), for the audit log and webhooks.',
  handler: async (_timer, { services, log }) => {
    const warned = await services.revocation.expiry.warnExpiring();
    if (warned > 0) log.info('key expiry warnings recorded', { count: warned });
  },
};
