import { odata } from '@azure/data-tables';
import { utcInstant } from '../../clock';
import { absentIfNotFound } from '../azure-errors';
import type { TableName } from './table-names';
import type { TableStorage } from './table-storage';

/** How one kind of scheduled entry is kept: its table, its row key (the time first) and its fields. */
export interface DueIndexShape<E extends object> {
  table: TableName;
  partition: string;
  /** When the entry is due (ISO 8601, any UTC offset). */
  at: (entry: E) => string;
  /** What tells entries due at the same instant apart (the row key after the time). */
  id: (entry: E) => string;
  fields: ReadonlyArray<keyof E & string>;
  /** Crash-test step names (shared/adapters/table/table-storage.ts `step`). */
  steps: { add?: string; remove?: string };
}

/**
 * Things due at a time (components in grace, keys with an expiry), in one partition of their
 * table, so a timer finds the due ones with one range query instead of reading every customer.
 * Row keys start with the due time as its UTC instant (`utcInstant`), so they sort by instant
 * whatever offset an entry was written with.
 */
export class TableDueIndex<E extends object> {
  constructor(
    private readonly storage: TableStorage,
    private readonly shape: DueIndexShape<E>,
  ) {}

  private get table() {
    return this.storage.clients[this.shape.table];
  }

  private rowKey(entry: E): string {
    return `${utcInstant(this.shape.at(entry))}_${this.shape.id(entry)}`;
  }

  async add(entry: E): Promise<void> {
    if (this.shape.steps.add) await this.storage.step(this.shape.steps.add);
    const row = { partitionKey: this.shape.partition, rowKey: this.rowKey(entry), ...entry };
    await this.storage.call((o) => this.table.upsertEntity(row, 'Replace', o));
  }

  async remove(entry: E): Promise<void> {
    if (this.shape.steps.remove) await this.storage.step(this.shape.steps.remove);
    await absentIfNotFound(this.storage.call((o) => this.table.deleteEntity(this.shape.partition, this.rowKey(entry), o)));
  }

  /** Entries due at or before `now`, oldest first (past-due runs catch up). */
  async due(now: Date): Promise<E[]> {
    return this.storage.call(async (o) => {
      const out: E[] = [];
      // Every key of an entry due at `now` sorts before `now` followed by '~'.
      for await (const row of this.table.listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey eq ${this.shape.partition} and RowKey lt ${`${now.toISOString()}~`}` },
        abortSignal: o.abortSignal,
      })) {
        out.push(Object.fromEntries(this.shape.fields.map((f) => [f, row[f]])) as E);
      }
      return out;
    });
  }
}
