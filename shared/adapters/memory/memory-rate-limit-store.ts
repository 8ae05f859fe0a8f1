import type { InstanceDemand, RateLimitStore } from '../../ports/rate-limit-store';

/** In-memory RateLimitStore, shareable between several limiters to simulate instances. */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly rows = new Map<string, InstanceDemand>();
  operations = 0;
  failWith: Error | undefined;

  async publish(state: InstanceDemand): Promise<void> {
    this.operations += 1;
    if (this.failWith) throw this.failWith;
    this.rows.set(state.instanceId, structuredClone(state));
  }

  async readAll(): Promise<InstanceDemand[]> {
    this.operations += 1;
    if (this.failWith) throw this.failWith;
    return [...this.rows.values()].map((r) => structuredClone(r));
  }

  async prune(before: number): Promise<void> {
    for (const [id, row] of this.rows) if (row.at < before) this.rows.delete(id);
  }
}
