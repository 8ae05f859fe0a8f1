/** What one instance tells the others: the requests per second it saw for each key lately. */
export interface InstanceDemand {
  instanceId: string;
  /** When it was published (ms since the epoch). */
  at: number;
  /** Key id -> requests per second (admitted or not) over the instance's last window. */
  demand: Record<string, number>;
}

/** The shared picture the instances allocate per-key limits from. */
export interface RateLimitStore {
  /** Replaces this instance's row. */
  publish(state: InstanceDemand): Promise<void>;
  /** Every instance's row (one query), stale ones included: readers judge freshness. */
  readAll(): Promise<InstanceDemand[]>;
  /** Deletes rows published before `before` (instances long gone). */
  prune(before: number): Promise<void>;
}
