/**
 * The partition-load model behind figures 8 to 10 of `npm run bench`: what Table Storage would
 * receive, per partition and per account, if one customer sent at its plan's full rate, computed
 * from the operations recorded during a scaled-down run (see bench/README.md).
 *
 * - A customer's session partitions (`{slug}~{bucket}`) carry traffic: at `trafficScale` times
 *   the run's rate there are that many times as many sessions, each placed by the same hash. The
 *   model lays `trafficScale` copies of the recorded session operations over the partitions, each
 *   copy under its own random permutation of the buckets (independent sessions hash
 *   independently), and adds them up second by second. Its recent-sessions index partitions
 *   (`{slug}~list{n}`, written when an instance first sees a session) carry traffic the same way,
 *   laid over the index partitions.
 * - Everything else (key lookups, usage rows, rate-limit sharing, feed reads, probes) grows with
 *   the number of instances, not with the traffic: it is scaled by `instanceScale` (the instances
 *   the full rate needs over the instances of the run).
 */
import type { StorageOperationRecord } from '../shared/adapters/table/storage-operations';

export interface LoadModelInput {
  operations: StorageOperationRecord[];
  /** The window modelled (epoch ms); operations starting outside it are left out. */
  from: number;
  to: number;
  /** The customer whose sessions carry the traffic. */
  customerSlug: string;
  partitionsPerCustomer: number;
  /** The customer's recent-sessions index partitions (`{slug}~list{n}`); 0 or absent: none. */
  listPartitionsPerCustomer?: number;
  trafficScale: number;
  instanceScale: number;
  /** Seeds the permutations, so a run's figures can be recomputed. */
  seed: number;
}

export interface PartitionPeak {
  partition: string;
  /** The busiest whole second of the window for this partition, in entities. */
  entitiesPerSecond: number;
}

export interface LoadModel {
  /** The busiest partition's busiest second. */
  peak: PartitionPeak;
  /** The five busiest partitions by their busiest second. */
  busiest: PartitionPeak[];
  /** Entities per second of queries across partitions (not attributable to one), by table. */
  acrossPartitions: Record<string, number>;
  /** Storage transactions per second at the full rate: the customer's traffic, and the instances' own. */
  transactionsPerSecond: { traffic: number; instances: number; total: number };
}

/** A small seeded generator (mulberry32), so the model is repeatable. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function permutation(size: number, next: () => number): number[] {
  const out = Array.from({ length: size }, (_, i) => i);
  for (let i = size - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export function modelPartitionLoad(input: LoadModelInput): LoadModel {
  const seconds = Math.floor((input.to - input.from) / 1000);
  if (seconds < 1) throw new Error('the modelled window must hold at least one whole second');
  const next = random(input.seed);
  const copies = Array.from({ length: input.trafficScale }, () => permutation(input.partitionsPerCustomer, next));
  const listPartitions = input.listPartitionsPerCustomer ?? 0;
  const listCopies = Array.from({ length: input.trafficScale }, () => permutation(listPartitions, next));
  const slug = input.customerSlug.replace(/[^a-z0-9]/g, '\\$&');
  const sessionPartition = new RegExp(`^${slug}~([0-9a-f]{2})$`);
  const listPartition = new RegExp(`^${slug}~list(\\d+)$`);
  /** partition -> entities in each whole second of the window */
  const load = new Map<string, Float64Array>();
  const add = (partition: string, second: number, entities: number) => {
    let row = load.get(partition);
    if (!row) load.set(partition, (row = new Float64Array(seconds)));
    row[second]! += entities;
  };
  const across: Record<string, number> = {};
  let trafficTransactions = 0;
  let instanceTransactions = 0;
  for (const op of input.operations) {
    if (op.startedAt < input.from) continue;
    const second = Math.floor((op.startedAt - input.from) / 1000);
    if (second >= seconds) continue;
    const bucket = op.table === 'sessions' && op.partition !== undefined ? sessionPartition.exec(op.partition)?.[1] : undefined;
    if (bucket !== undefined) {
      trafficTransactions += input.trafficScale;
      const b = parseInt(bucket, 16);
      for (const order of copies) add(`${input.customerSlug}~${order[b]!.toString(16).padStart(2, '0')}`, second, op.entities);
      continue;
    }
    const listed = op.table === 'sessions' && op.partition !== undefined ? listPartition.exec(op.partition)?.[1] : undefined;
    if (listed !== undefined && Number(listed) < listPartitions) {
      trafficTransactions += input.trafficScale;
      for (const order of listCopies) add(`${input.customerSlug}~list${order[Number(listed)]!}`, second, op.entities);
      continue;
    }
    instanceTransactions += input.instanceScale;
    if (op.partition === undefined) {
      const table = op.table ?? '(tables)';
      across[table] = (across[table] ?? 0) + (op.entities * input.instanceScale) / seconds;
    } else add(`${op.table ?? '?'}/${op.partition}`, second, op.entities * input.instanceScale);
  }
  const peaks: PartitionPeak[] = [...load].map(([partition, row]) => ({ partition, entitiesPerSecond: Math.max(...row) }));
  peaks.sort((a, b) => b.entitiesPerSecond - a.entitiesPerSecond);
  return {
    peak: peaks[0] ?? { partition: '(none)', entitiesPerSecond: 0 },
    busiest: peaks.slice(0, 5),
    acrossPartitions: across,
    transactionsPerSecond: {
      traffic: trafficTransactions / seconds,
      instances: instanceTransactions / seconds,
      total: (trafficTransactions + instanceTransactions) / seconds,
    },
  };
}

/**
 * Storage round trips made one after another among `operations` (those of one request): the
 * longest chain of operations each starting after the previous one ended. Operations that
 * overlap (sent side by side) count once.
 */
export function sequentialRoundTrips(operations: Array<{ startedAt: number; endedAt: number }>): number {
  let count = 0;
  let lastEnd = Number.NEGATIVE_INFINITY;
  for (const op of [...operations].sort((a, b) => a.endedAt - b.endedAt)) {
    if (op.startedAt >= lastEnd) {
      count += 1;
      lastEnd = op.endedAt;
    }
  }
  return count;
}
