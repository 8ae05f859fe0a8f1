import type { ExpiryEntry, ExpirySchedule } from '../../ports/expiry-schedule';
import { TableDueIndex } from './table-due-index';
import type { TableStorage } from './table-storage';

/** The expiry schedule in the `keyexpiry` table: one partition, one row per key with an expiry. */
export class TableExpirySchedule implements ExpirySchedule {
  private readonly index: TableDueIndex<ExpiryEntry>;

  constructor(storage: TableStorage) {
    this.index = new TableDueIndex(storage, {
      table: 'keyExpiry',
      partition: 'expiry',
      at: (e) => e.expiresAt,
      id: (e) => `${e.customerSlug}_${e.keyId}`,
      fields: ['customerSlug', 'keyId', 'expiresAt'],
      steps: { add: 'expiry.add' },
    });
  }

  add(entry: ExpiryEntry): Promise<void> {
    return this.index.add(entry);
  }

  remove(entry: ExpiryEntry): Promise<void> {
    return this.index.remove(entry);
  }

  due(now: Date): Promise<ExpiryEntry[]> {
    return this.index.due(now);
  }
}
