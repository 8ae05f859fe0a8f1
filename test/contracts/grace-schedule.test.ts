import { MemoryGraceSchedule } from '../../shared/adapters/memory/memory-grace-schedule';
import { TableGraceSchedule } from '../../shared/adapters/table/table-grace-schedule';
import { TableStorage } from '../../shared/adapters/table/table-storage';
import type { GraceEntry } from '../../shared/ports/grace-schedule';
import { azuriteConnectionString, uniquePrefix } from '../support/services';
import { describeDueSchedule } from './support/due-schedules';

/** The GraceSchedule port (shared/ports/grace-schedule.ts) over the in-memory fake and the Table adapter. */
describeDueSchedule<GraceEntry>({
  port: 'GraceSchedule',
  adapters: [
    ['memory', async () => new MemoryGraceSchedule()],
    [
      'table (Azurite)',
      async () =>
        new TableGraceSchedule(
          new TableStorage(
            { connectionString: azuriteConnectionString(), endpoint: undefined, prefix: uniquePrefix(), timeoutMs: 10_000 },
            { tables: ['tenantKeyGrace'] },
          ),
        ),
    ],
  ],
  entry: (customerSlug, n, at) => ({ customerSlug, version: `${n}`.padStart(32, '0'), endsAt: at }),
});
