import type { PipelineRequest, PipelineResponse } from '@azure/core-rest-pipeline';
import { TABLE_NAMES, type TableName } from './table-names';

export type StorageOperationKind = 'read' | 'query' | 'write' | 'batch' | 'table';

/**
 * The header an adapter sets (through an operation's `requestOptions.customHeaders`) on work a
 * request left for later, such as folding session summaries: it is counted with requests but
 * is not on any request's critical path. The recording policy removes it before sending.
 */
export const DEFERRED_WORK_HEADER = 'x-veriproof-deferred';

/** Operation options for deferred work: the call's own options, marked with {@link DEFERRED_WORK_HEADER}. */
export const deferredWork = <T extends object>(options: T): T & { requestOptions: { customHeaders: Record<string, string> } } => ({
  ...options,
  requestOptions: { customHeaders: { [DEFERRED_WORK_HEADER]: '1' } },
});

/** What one HTTP request to the Table service addresses, read from the request alone. */
export interface OperationTarget {
  kind: StorageOperationKind;
  /** The table's name in the account (prefixed), when the request names one. */
  table: string | undefined;
  /** The partition it touches; `undefined` for a query across partitions or a table operation. */
  partition: string | undefined;
  /** Entities the request writes (a batch: its inner operations); reads are known from the answer. */
  entitiesWritten: number;
}

const unquote = (value: string): string => value.replace(/''/g, "'");

export function describeOperation(request: PipelineRequest): OperationTarget {
  const url = new URL(request.url);
  const path = decodeURIComponent(url.pathname);
  if (path.endsWith('/$batch')) {
    const body = typeof request.body === 'string' ? request.body : '';
    const inner = /\n(?:POST|PUT|PATCH|MERGE|DELETE) \S*?\/([A-Za-z][A-Za-z0-9]*)(?:\(|\?| )/.exec(body);
    // Every entity of a batch is in one partition: the first that names it will do.
    const inJson = /"PartitionKey":"((?:[^"\\]|\\.)*)"/.exec(body)?.[1];
    const inUrl = /PartitionKey='((?:[^']|'')*)'/.exec(body)?.[1];
    return {
      kind: 'batch',
      table: inner?.[1],
      partition:
        inJson !== undefined ? (JSON.parse(`"${inJson}"`) as string) : inUrl !== undefined ? unquote(decodeURIComponent(inUrl)) : undefined,
      entitiesWritten: (body.match(/\n(?:POST|PUT|PATCH|MERGE|DELETE) /g) ?? []).length,
    };
  }
  if (/\/Tables(\(|$)/.test(path)) return { kind: 'table', table: undefined, partition: undefined, entitiesWritten: 0 };
  const table = /\/([A-Za-z][A-Za-z0-9]*)(?:\(|$)/.exec(path)?.[1];
  const keyed = /\(PartitionKey='((?:[^']|'')*)',RowKey='((?:[^']|'')*)'\)$/.exec(path);
  if (request.method === 'GET') {
    if (keyed) return { kind: 'read', table, partition: unquote(keyed[1]!), entitiesWritten: 0 };
    const filter = url.searchParams.get('$filter') ?? '';
    const partition = /PartitionKey eq '((?:[^']|'')*)'/.exec(filter)?.[1];
    return { kind: 'query', table, partition: partition === undefined ? undefined : unquote(partition), entitiesWritten: 0 };
  }
  if (keyed) return { kind: 'write', table, partition: unquote(keyed[1]!), entitiesWritten: 1 };
  // An insert names its keys in the body.
  let partition: string | undefined;
  if (typeof request.body === 'string') {
    try {
      partition = (JSON.parse(request.body) as { PartitionKey?: string }).PartitionKey;
    } catch {
      partition = undefined;
    }
  }
  return { kind: 'write', table, partition, entitiesWritten: 1 };
}

/** Entities an answer carries: the rows of a query page, the one entity of a successful point read. */
export function entitiesRead(target: OperationTarget, response: PipelineResponse): number {
  if (response.status >= 300) return 0;
  if (target.kind === 'read') return 1;
  if (target.kind !== 'query' || !response.bodyAsText) return 0;
  try {
    const value = (JSON.parse(response.bodyAsText) as { value?: unknown[] }).value;
    return Array.isArray(value) ? value.length : 0;
  } catch {
    return 0;
  }
}

/** One storage operation as the recording policy saw it (every attempt of a retried call is one). */
export interface StorageOperationRecord {
  /** Which configured account served it (`main`, or `sessions-N` for a sessions account). */
  account: string;
  table: TableName | undefined;
  partition: string | undefined;
  kind: StorageOperationKind;
  /** Entities written plus entities read. */
  entities: number;
  /** The service's answer, 0 when there was none. */
  status: number;
  /** Epoch milliseconds, fractional. */
  startedAt: number;
  endedAt: number;
  cause: 'request' | 'time';
  /** Work a request left for later: counted with requests, off their critical path. */
  deferred: boolean;
}

/**
 * Counts every HTTP request the Table clients send (retries included), and the bytes the
 * writes carry: the storage bill, and what the ingest bounds are measured against. Each is
 * counted as request-driven or time-driven ({@link causeOf}), so each can be bounded in its own
 * terms: per request, and per instance-second. With a capacity, it also keeps the last
 * operations one by one (table, partition, entities, timing) for the benchmark's partition-load
 * model; production leaves that off.
 */
export class StorageOperationCounter {
  private readonly counts: Record<StorageOperationKind, number> = { read: 0, query: 0, write: 0, batch: 0, table: 0 };
  private readonly byCause = { request: 0, time: 0 };
  private written = 0;
  private readonly writtenByTable: Partial<Record<TableName, number>> = {};
  private readonly tableNames = new Map<string, TableName>();
  private readonly log: StorageOperationRecord[] = [];
  private logStart = 0;

  /** `prefix` is the configured table prefix; `logCapacity` how many operations to keep one by one (0: none). */
  constructor(
    prefix = '',
    readonly logCapacity = 0,
  ) {
    for (const name of Object.keys(TABLE_NAMES) as TableName[]) this.tableNames.set(`${prefix}${TABLE_NAMES[name]}`, name);
  }

  /** The service's name for a table named in a request. */
  tableOf(target: OperationTarget): TableName | undefined {
    return this.tableNames.get(target.table ?? '');
  }

  /** Counts a request as it is sent. */
  record(request: PipelineRequest, target: OperationTarget): 'request' | 'time' {
    this.counts[target.kind] += 1;
    const table = this.tableOf(target);
    const cause = causeOf(target.kind, table, request.url);
    this.byCause[cause] += 1;
    if ((target.kind === 'write' || target.kind === 'batch') && typeof request.body === 'string') {
      const bytes = Buffer.byteLength(request.body, 'utf8');
      this.written += bytes;
      if (table) this.writtenByTable[table] = (this.writtenByTable[table] ?? 0) + bytes;
    }
    return cause;
  }

  /** Keeps one finished operation, when keeping them is on. */
  keep(record: StorageOperationRecord): void {
    if (this.logCapacity === 0) return;
    if (this.log.length < this.logCapacity) this.log.push(record);
    else {
      this.log[this.logStart] = record;
      this.logStart = (this.logStart + 1) % this.logCapacity;
    }
  }

  /** The kept operations that ended at or after `since` (epoch ms), oldest first. */
  recent(since = 0): StorageOperationRecord[] {
    return [...this.log.slice(this.logStart), ...this.log.slice(0, this.logStart)].filter((r) => r.endedAt >= since);
  }

  snapshot(): Readonly<Record<StorageOperationKind, number>> & {
    total: number;
    /** Operations requests caused (handlers, doors, and the usage flushes of their counts). */
    requestDriven: number;
    /** Operations the clock caused: revocation-feed reads, rate-limit syncs, health probes. */
    timeDriven: number;
    bytesWritten: number;
    bytesWrittenByTable: Partial<Record<TableName, number>>;
  } {
    const total = Object.values(this.counts).reduce((a, b) => a + b, 0);
    return {
      ...this.counts,
      total,
      requestDriven: this.byCause.request,
      timeDriven: this.byCause.time,
      bytesWritten: this.written,
      bytesWrittenByTable: { ...this.writtenByTable },
    };
  }
}

/**
 * Whether the clock or a request caused an operation, told by what it touches: the clock's work
 * has tables and reads of its own. Only the rate limiter's sync uses `ratelimits`; only the
 * instance's feed poll (and the revocation-completion timer) read `revocations`, which requests
 * write to; the health probe reads the one row `~probe`. Everything else is requests' work, the
 * usage flush of their counts included, and so are the rare writes of the other timers.
 * Classifying by target costs nothing per request; tracking async context would (an
 * AsyncLocalStorage makes every await two to three times dearer on Node 22).
 */
function causeOf(kind: StorageOperationKind, table: TableName | undefined, url: string): 'request' | 'time' {
  if (table === 'rateLimits') return 'time';
  if (table === 'revocations' && kind === 'query') return 'time';
  if (kind === 'read' && decodeURIComponent(new URL(url).pathname).includes("RowKey='~probe'")) return 'time';
  return 'request';
}
