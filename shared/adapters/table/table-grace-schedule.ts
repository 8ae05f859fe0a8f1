import type { GraceEntry, GraceSchedule } from '../../ports/grace-schedule';
import { TableDueIndex } from './table-due-index';
import type { TableStorage } from './table-storage';

/** The grace schedule in the `tenantkeygrace` table: one partition, one row per component in grace. */
export class TableGraceSchedule implements GraceSchedule {
  private readonly index: TableDueIndex<GraceEntry>;

  constructor(storage: TableStorage) {
    this.index = new TableDueIndex(storage, {
      table: 'tenantKeyGrace',
      partition: 'grace',
      at: (e) => e.endsAt,
      id: (e) => `${e.customerSlug}_${e.version}`,
      fields: ['customerSlug', 'version', 'endsAt'],
      steps: { add: 'grace.add', remove: 'grace.remove' },
    });
  }

  add(entry: GraceEntry): Promise<void> {
    return this.index.add(entry);
  }

  remove(entry: GraceEntry): Promise<void> {
    return this.index.remove(entry);
  }

  due(now: Date): Promise<GraceEntry[]> {
    return this.index.due(now);
  }
}
