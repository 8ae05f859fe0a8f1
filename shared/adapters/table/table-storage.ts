import { TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import type { PipelinePolicy, PipelineRequest } from '@azure/core-rest-pipeline';
import type { Config } from '../../config';
import { absentIfNotFound, toDependencyError } from '../azure-errors';

/** The tables the service owns (before the configured prefix). */
export const TABLE_NAMES = {
  /** Partition per customer: its profile row, its keys, label reservations, key requests, audit log. */
  customers: 'customers',
  /** Partitioned by the first four hex digits of a secret hash; one row per active key. */
  keyLookup: 'keylookup',
  /** Partition per customer: session summaries, their id index and span documents. */
  sessions: 'sessions',
  /** One partition: a row per revoked key, read by every instance about once a second. */
  revocations: 'revocations',
  /** One partition: where each key request lives and its status, for staff. */
  keyRequestIndex: 'keyrequestindex',
  /** One partition: rotated-out master components by the end of their grace period. */
  tenantKeyGrace: 'tenantkeygrace',
  /** One partition: each live instance's per-key demand, for sharing rate limits. */
  rateLimits: 'ratelimits',
  /** Partition per customer: requests per key per hour, one row per instance that counted them. */
  keyUsage: 'keyusage',
} as const;

export type TableName = keyof typeof TABLE_NAMES;

export type StorageOperationKind = 'read' | 'query' | 'write' | 'batch' | 'table';

/**
 * Counts every HTTP request the Table clients send (retries included), and the bytes the
 * writes carry: the storage bill, and what the ingest bounds are measured against. Each is
 * counted as request-driven or time-driven ({@link causeOf}), so each can be bounded in its own
 * terms: per request, and per instance-second.
 */
export class StorageOperationCounter {
  private readonly counts: Record<StorageOperationKind, number> = { read: 0, query: 0, write: 0, batch: 0, table: 0 };
  private readonly byCause = { request: 0, time: 0 };
  private written = 0;
  private readonly writtenByTable: Partial<Record<TableName, number>> = {};

  /** `tableNames` maps a table's name in the account (prefixed) to the service's name for it. */
  constructor(private readonly tableNames: ReadonlyMap<string, TableName> = new Map()) {}

  record(request: PipelineRequest): void {
    const kind = classify(request);
    this.counts[kind] += 1;
    this.byCause[causeOf(kind, this.tableNames.get(tableOf(request) ?? ''), request.url)] += 1;
    if ((kind === 'write' || kind === 'batch') && typeof request.body === 'string') {
      const bytes = Buffer.byteLength(request.body, 'utf8');
      this.written += bytes;
      const table = this.tableNames.get(tableOf(request) ?? '');
      if (table) this.writtenByTable[table] = (this.writtenByTable[table] ?? 0) + bytes;
    }
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

/** The table a request addresses: from its path, or for a batch from its first inner request. */
function tableOf(request: PipelineRequest): string | undefined {
  const path = new URL(request.url).pathname;
  if (path.endsWith('/$batch')) {
    const inner =
      typeof request.body === 'string'
        ? /\n(?:POST|PUT|PATCH|MERGE|DELETE) \S*?\/([A-Za-z][A-Za-z0-9]*)(?:\(|\?| )/.exec(request.body)
        : null;
    return inner?.[1];
  }
  return /\/([A-Za-z][A-Za-z0-9]*)(?:\(|$)/.exec(path)?.[1];
}

function classify(request: PipelineRequest): StorageOperationKind {
  const path = new URL(request.url).pathname;
  if (path.endsWith('/$batch')) return 'batch';
  if (/\/Tables(\(|$)/.test(path)) return 'table';
  if (request.method === 'GET') return /\(PartitionKey=.+,RowKey=.+\)$/.test(decodeURIComponent(path)) ? 'read' : 'query';
  return 'write';
}

/**
 * A hook the resilience tests use to stop the process at a given storage step. Production
 * never sets it.
 */
export type StorageFaultHook = (step: string) => void | Promise<void>;

export interface TableStorageOptions {
  credential?: TokenCredential;
  faultHook?: StorageFaultHook;
}

/**
 * The Table clients of the service, built once per process. Adapters get their clients
 * from here and run every call through {@link TableStorage.call}, which bounds its time and
 * turns an unreachable or failing service into {@link DependencyUnavailableError}.
 */
export class TableStorage {
  readonly clients: Record<TableName, TableClient>;
  readonly operations: StorageOperationCounter;
  private readonly timeoutMs: number;
  private readonly faultHook: StorageFaultHook | undefined;
  private ready: Promise<void> | undefined;

  constructor(config: Config['tables'], options: TableStorageOptions = {}) {
    this.timeoutMs = config.timeoutMs;
    this.faultHook = options.faultHook;
    this.operations = new StorageOperationCounter(
      new Map((Object.keys(TABLE_NAMES) as TableName[]).map((name) => [`${config.prefix}${TABLE_NAMES[name]}`, name])),
    );
    const counter: PipelinePolicy = {
      name: 'storageOperationCounter',
      sendRequest: (request, next) => {
        this.operations.record(request);
        return next(request);
      },
    };
    const clientOptions: TableServiceClientOptions = {
      retryOptions: { maxRetries: 2, retryDelayInMs: 100, maxRetryDelayInMs: 1000 },
      additionalPolicies: [{ policy: counter, position: 'perRetry' }],
    };
    const build = (table: string): TableClient => {
      const name = `${config.prefix}${table}`;
      if (config.connectionString) {
        const insecure = /(TableEndpoint=http:|UseDevelopmentStorage=true|DefaultEndpointsProtocol=http;)/i.test(config.connectionString);
        return TableClient.fromConnectionString(config.connectionString, name, {
          ...clientOptions,
          allowInsecureConnection: insecure,
        });
      }
      if (!config.endpoint || !options.credential) {
        throw new Error('TableStorage needs a connection string, or an endpoint and a credential');
      }
      return new TableClient(config.endpoint, name, options.credential, clientOptions);
    };
    this.clients = Object.fromEntries((Object.keys(TABLE_NAMES) as TableName[]).map((name) => [name, build(TABLE_NAMES[name])])) as Record<
      TableName,
      TableClient
    >;
  }

  /**
   * Creates the tables once per process (idempotent). A failure is not remembered: the next
   * call tries again, so a storage outage at start-up heals without a restart.
   */
  ensureTables(): Promise<void> {
    if (!this.ready) {
      this.ready = Promise.all(
        Object.values(this.clients).map((client) => client.createTable({ abortSignal: AbortSignal.timeout(this.timeoutMs) })),
      ).then(
        () => undefined,
        (error: unknown) => {
          this.ready = undefined;
          throw toStorageError(error);
        },
      );
    }
    return this.ready;
  }

  /**
   * Runs one storage operation with a time bound. Not-found and conflict answers are returned
   * to the caller as the SDK's RestError; outages become DependencyUnavailableError (see
   * {@link toDependencyError}).
   */
  async call<T>(operation: (options: { abortSignal: AbortSignal }) => Promise<T>): Promise<T> {
    await this.ensureTables();
    try {
      return await operation({ abortSignal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw toStorageError(error);
    }
  }

  /** Called by adapters between the writes of a multi-step operation (crash-consistency tests). */
  async step(name: string): Promise<void> {
    if (this.faultHook) await this.faultHook(name);
  }

  /** One cheap round trip: a point read that normally answers 404. */
  async probe(): Promise<void> {
    try {
      await absentIfNotFound(this.clients.customers.getEntity('~probe', '~probe', { abortSignal: AbortSignal.timeout(this.timeoutMs) }));
    } catch (error) {
      throw toStorageError(error);
    }
  }
}

/** What a Table Storage call throws for an SDK error (the same mapping as every Azure dependency). */
const toStorageError = (error: unknown): unknown => toDependencyError('table storage', error);
