import { odata } from '@azure/data-tables';
import type { InstanceDemand, RateLimitStore } from '../../ports/rate-limit-store';
import { absentIfNotFound } from '../azure-errors';
import type { TableStorage } from './table-storage';

/** Every instance's one row has this key, in a partition of its own (the instance id). */
const ROW = 'demand';
const CHUNK = 30_000;
const MAX_CHUNKS = 14;

type Row = { partitionKey: string; rowKey: string; at: number; chunks: number } & Record<string, unknown>;

/**
 * Rate-limit sharing in the `ratelimits` table: one row per live instance, in a partition of its
 * own, with its per-key demand as JSON (split over properties to fit Table Storage's limits). A
 * sync is one write (to the instance's own partition, so instances never share a partition's
 * write budget) and one query over the small table, whatever the number of keys.
 */
export class TableRateLimitStore implements RateLimitStore {
  constructor(private readonly storage: TableStorage) {}

  private get table() {
    return this.storage.clients.rateLimits;
  }

  async publish(state: InstanceDemand): Promise<void> {
    let json = JSON.stringify(state.demand);
    if (json.length > CHUNK * MAX_CHUNKS) {
      // Keep the busiest keys: they are the ones whose limits need sharing.
      const top = Object.entries(state.demand)
        .sort(([, a], [, b]) => b - a)
        .slice(0, 5000);
      json = JSON.stringify(Object.fromEntries(top));
    }
    const row: Row = { partitionKey: state.instanceId, rowKey: ROW, at: state.at, chunks: 0 };
    for (let i = 0; i * CHUNK < json.length; i++) {
      row[`d${i}`] = json.slice(i * CHUNK, (i + 1) * CHUNK);
      row.chunks = i + 1;
    }
    await this.storage.call((o) => this.table.upsertEntity(row, 'Replace', o));
  }

  async readAll(): Promise<InstanceDemand[]> {
    return this.storage.call(async (o) => {
      const out: InstanceDemand[] = [];
      for await (const row of this.table.listEntities<Row>({
        queryOptions: { filter: odata`RowKey eq ${ROW}` },
        abortSignal: o.abortSignal,
      })) {
        let json = '';
        for (let i = 0; i < row.chunks; i++) {
          const chunk = row[`d${i}`];
          json += typeof chunk === 'string' ? chunk : '';
        }
        try {
          out.push({ instanceId: row.partitionKey, at: Number(row.at), demand: json ? (JSON.parse(json) as Record<string, number>) : {} });
        } catch {
          // A row cut short by a crash mid-write: treat its instance as having no demand.
          out.push({ instanceId: row.partitionKey, at: Number(row.at), demand: {} });
        }
      }
      return out;
    });
  }

  async prune(before: number): Promise<void> {
    const stale = (await this.readAll()).filter((s) => s.at < before);
    for (const state of stale) {
      await absentIfNotFound(this.storage.call((o) => this.table.deleteEntity(state.instanceId, ROW, o)));
    }
  }
}
