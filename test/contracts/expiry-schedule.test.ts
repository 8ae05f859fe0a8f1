import { MemoryExpirySchedule } from '../../shared/adapters/memory/memory-expiry-schedule';
import { TableExpirySchedule } from '../../shared/adapters/table/table-expiry-schedule';
import { TableStorage } from '../../shared/adapters/table/table-storage';
import type { ExpiryEntry } from '../../shared/ports/expiry-schedule';
import { azuriteConnectionString, uniquePrefix } from '../support/services';
import { describeDueSchedule } from './support/due-schedules';

/** The ExpirySchedule port (shared/ports/expiry-schedule.ts) over the in-memory fake and the Table adapter. */
describeDueSchedule<ExpiryEntry>({
  port: 'ExpirySchedule',
  adapters: [
    ['memory', async () => new MemoryExpirySchedule()],
    [
      'table (Azurite)',
      async () =>
        new TableExpirySchedule(
          new TableStorage(
            { connectionString: azuriteConnectionString(), endpoint: undefined, prefix: uniquePrefix(), timeoutMs: 10_000 },
            { tables: ['keyExpiry'] },
          ),
        ),
    ],
  ],
  entry: (customerSlug, n, at) => ({ customerSlug, keyId: `key_${n}`, expiresAt: at }),
});
