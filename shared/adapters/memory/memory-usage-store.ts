import type { UsageRow, UsageStore } from '../../ports/usage-store';

/** `2026-03-01T13:25:00.000Z` -> `2026-03-01T13`: the hour an instant falls in, comparable as text. */
const hourOf = (iso: string): string => iso.slice(0, 13);

/** In-memory UsageStore for unit tests. */
export class MemoryUsageStore implements UsageStore {
  readonly rows = new Map<string, UsageRow>();
  writes = 0;
  failWith: Error | undefined;

  async write(rows: UsageRow[]): Promise<void> {
    this.writes += 1;
    if (this.failWith) throw this.failWith;
    for (const r of rows) this.rows.set(`${r.customerSlug}/${r.hour}/${r.keyId}/${r.instanceId}`, { ...r });
  }

  async read(customerSlug: string, from: string, to: string, keyId?: string): Promise<UsageRow[]> {
    return [...this.rows.values()].filter(
      (r) =>
        r.customerSlug === customerSlug && hourOf(r.hour) >= hourOf(from) && hourOf(r.hour) < hourOf(to) && (!keyId || r.keyId === keyId),
    );
  }

  async prune(before: string): Promise<number> {
    let removed = 0;
    for (const [k, r] of this.rows) {
      if (hourOf(r.hour) >= hourOf(before)) continue;
      this.rows.delete(k);
      removed++;
    }
    return removed;
  }
}
