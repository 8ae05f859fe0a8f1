import { odata } from '@azure/data-tables';
import type { GraceEntry, GraceSchedule } from '../../ports/grace-schedule';
import { absentIfNotFound } from '../azure-errors';
import type { TableStorage } from './table-storage';

const PARTITION = 'grace';
/** ISO 8601 times sort as text, so the row key orders entries by grace end. */
const rowKey = (e: GraceEntry) => `${e.endsAt}_${e.customerSlug}_${e.version}`;

type GraceEntity = { partitionKey: string; rowKey: string; customerSlug: string; version: string; endsAt: string };

/** The grace schedule in the `tenantkeygrace` table: one partition, one row per component in grace. */
export class TableGraceSchedule implements GraceSchedule {
  constructor(private readonly storage: TableStorage) {}

  private get table() {
    return this.storage.clients.tenantKeyGrace;
  }

  async add(entry: GraceEntry): Promise<void> {
    await this.storage.step('grace.add');
    await this.storage.call((o) =>
      this.table.upsertEntity<GraceEntity>({ partitionKey: PARTITION, rowKey: rowKey(entry), ...entry }, 'Replace', o),
    );
  }

  async remove(entry: GraceEntry): Promise<void> {
    await this.storage.step('grace.remove');
    await absentIfNotFound(this.storage.call((o) => this.table.deleteEntity(PARTITION, rowKey(entry), o)));
  }

  async due(now: Date): Promise<GraceEntry[]> {
    return this.storage.call(async (o) => {
      const out: GraceEntry[] = [];
      // Every key of an entry ending at `now` sorts before `now` followed by '~'.
      for await (const row of this.table.listEntities<GraceEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${PARTITION} and RowKey lt ${`${now.toISOString()}~`}` },
        abortSignal: o.abortSignal,
      })) {
        out.push({ customerSlug: row.customerSlug, version: row.version, endsAt: row.endsAt });
      }
      return out;
    });
  }
}
