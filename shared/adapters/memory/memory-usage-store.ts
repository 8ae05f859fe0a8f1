import type { UsageRow, UsageStore } from '../../ports/usage-store';

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
      (r) => r.customerSlug === customerSlug && r.hour >= from && r.hour < to && (!keyId || r.keyId === keyId),
    );
  }

  async prune(before: string): Promise<number> {
    let removed = 0;
    for (const [k, r] of this.rows) {
      if (r.hour >= before) continue;
      this.rows.delete(k);
      removed++;
    }
    return removed;
  }
}
