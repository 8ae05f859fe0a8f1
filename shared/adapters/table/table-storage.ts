import { storageOutcome, type ServiceMetrics } from '../../telemetry/metrics';
import type { Tracing } from '../../telemetry/tracing';
import { TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { Config } from '../../config';
import { DependencyUnavailableError } from '../../errors';
import { absentIfNotFound, toDependencyError } from '../azure-errors';
import { partitionThrottlePolicy, type PartitionThrottleOptions } from './partition-throttle';
import { DEFERRED_WORK_HEADER, StorageOperationCounter, describeOperation, entitiesRead } from './storage-operations';
import { TABLE_NAMES, type TableName } from './table-names';

export { TABLE_NAMES, type TableName } from './table-names';
export { StorageOperationCounter, type StorageOperationKind, type StorageOperationRecord } from './storage-operations';

/**
 * A hook the resilience tests use to stop the process at a given storage step. Production
 * never sets it.
 */
export type StorageFaultHook = (step: string) => void | Promise<void>;

export interface TableStorageOptions {
  /** Where each operation's outcome is counted (the service's metrics). */
  metrics?: ServiceMetrics;
  /** Each operation as a child span of the request that made it. */
  tracing?: Tracing;
  credential?: TokenCredential;
  faultHook?: StorageFaultHook;
  /** The tables this account holds for the service (all of them by default; a sessions account holds `sessions`). */
  tables?: readonly TableName[];
  /** How operations are labelled by account in the counter's records. */
  account?: string;
  /** A counter shared with the service's other accounts (a new one otherwise). */
  operations?: StorageOperationCounter;
  /** How many operations the counter keeps one by one (the benchmark's partition-load model); 0 by default. */
  operationLog?: number;
  /** Tests and the benchmark only: answer like a partition over its scalability target. */
  throttle?: PartitionThrottleOptions;
}

/**
 * Retries of one call happen inside its time bound (`STORAGE_TIMEOUT_MS`): jittered
 * exponential backoff from 50 ms up to 1 s (or what the service asks in `Retry-After`) for
 * throttling (503 Server Busy, 500 Operation Timed Out), other 5xx and network failures, until
 * the bound aborts the call, which then surfaces as 503 `dependency_unavailable`. Writes are
 * safe to repeat: every write is an idempotent upsert, or a create whose conflict on a retry
 * the adapter reads as "already done".
 */
const RETRY_OPTIONS = { maxRetries: 20, retryDelayInMs: 50, maxRetryDelayInMs: 1000 };

/**
 * The Table clients of one storage account, built once per process. Adapters get their clients
 * from here and run every call through {@link TableStorage.call}, which bounds its time and
 * turns an unreachable or failing service into {@link DependencyUnavailableError}.
 */
export class TableStorage {
  readonly clients: Record<TableName, TableClient>;
  readonly operations: StorageOperationCounter;
  /** The address of the account (without a table), which identifies it in placement decisions. */
  readonly accountUrl: string;
  private readonly tables: readonly TableName[];
  private readonly timeoutMs: number;
  private readonly faultHook: StorageFaultHook | undefined;
  private ready: Promise<void> | undefined;
  /** The last answer the service gave within each call (by its abort signal): tells throttling from an outage. */
  private readonly lastAnswers = new WeakMap<object, number>();

  constructor(config: Config['tables'], options: TableStorageOptions = {}) {
    this.timeoutMs = config.timeoutMs;
    this.faultHook = options.faultHook;
    this.tables = options.tables ?? (Object.keys(TABLE_NAMES) as TableName[]);
    this.operations = options.operations ?? new StorageOperationCounter(config.prefix, options.operationLog ?? 0);
    const account = options.account ?? 'main';
    const metrics = options.metrics;
    const tracing = options.tracing;
    const operations = this.operations;
    const lastAnswers = this.lastAnswers;
    /** Requests marked deferred: the mark leaves with the first attempt, retries are the same request. */
    const deferredRequests = new WeakSet<object>();
    const counter: PipelinePolicy = {
      name: 'storageOperationCounter',
      async sendRequest(request, next) {
        if (request.headers.has(DEFERRED_WORK_HEADER)) {
          deferredRequests.add(request);
          request.headers.delete(DEFERRED_WORK_HEADER);
        }
        const deferred = deferredRequests.has(request);
        const target = describeOperation(request);
        const cause = operations.record(request, target);
        const table = operations.tableOf(target) ?? 'other';
        const send = () =>
          tracing
            ? tracing.child(
                `storage ${target.kind} ${table}`,
                { 'veriproof.storage.table': table, 'veriproof.storage.kind': target.kind },
                () => next(request),
              )
            : next(request);
        if (operations.logCapacity === 0) {
          let response;
          try {
            response = await send();
          } catch (error) {
            metrics?.storageOperation(table, target.kind, 'failed');
            throw error;
          }
          metrics?.storageOperation(table, target.kind, storageOutcome(response.status));
          if (request.abortSignal) lastAnswers.set(request.abortSignal, response.status);
          return response;
        }
        const startedAt = performance.timeOrigin + performance.now();
        let status = 0;
        let entities = target.entitiesWritten;
        try {
          const response = await send();
          status = response.status;
          if (request.abortSignal) lastAnswers.set(request.abortSignal, status);
          entities += entitiesRead(target, response);
          if (status >= 300 && target.kind !== 'query') entities = 0;
          return response;
        } finally {
          metrics?.storageOperation(table, target.kind, storageOutcome(status));
          operations.keep({
            account,
            table: operations.tableOf(target),
            partition: target.partition,
            kind: target.kind,
            entities,
            status,
            startedAt,
            endedAt: performance.timeOrigin + performance.now(),
            cause,
            deferred,
          });
        }
      },
    };
    const clientOptions: TableServiceClientOptions = {
      retryOptions: RETRY_OPTIONS,
      additionalPolicies: [
        { policy: counter, position: 'perRetry' },
        ...(options.throttle ? [{ policy: partitionThrottlePolicy(options.throttle), position: 'perRetry' as const }] : []),
      ],
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
    this.accountUrl = this.clients.sessions.url.replace(/\/+$/, '');
  }

  /**
   * Creates the tables once per process (idempotent). A failure is not remembered: the next
   * call tries again, so a storage outage at start-up heals without a restart.
   */
  ensureTables(): Promise<void> {
    if (!this.ready) {
      this.ready = Promise.all(
        this.tables
          .map((name) => this.clients[name])
          .map((client) => client.createTable({ abortSignal: AbortSignal.timeout(this.timeoutMs) })),
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
    const abortSignal = AbortSignal.timeout(this.timeoutMs);
    try {
      return await operation({ abortSignal });
    } catch (error) {
      // Retried until the time bound while the service kept answering "busy" (503 Server Busy,
      // 500 Operation Timed Out, 429): throttled, not down.
      const last = this.lastAnswers.get(abortSignal);
      if (abortSignal.aborted && (last === 503 || last === 500 || last === 429)) {
        throw new DependencyUnavailableError('table storage', error, { throttled: true });
      }
      throw toStorageError(error);
    }
  }

  /** Called by adapters between the writes of a multi-step operation (crash-consistency tests). */
  async step(name: string): Promise<void> {
    if (this.faultHook) await this.faultHook(name);
  }

  /** One cheap round trip to this account: a point read (in its first table) that normally answers 404. */
  async probe(): Promise<void> {
    try {
      const table = this.clients[this.tables[0] ?? 'customers'];
      await absentIfNotFound(table.getEntity('~probe', '~probe', { abortSignal: AbortSignal.timeout(this.timeoutMs) }));
    } catch (error) {
      throw toStorageError(error);
    }
  }
}

/** What a Table Storage call throws for an SDK error (the same mapping as every Azure dependency). */
const toStorageError = (error: unknown): unknown => toDependencyError('table storage', error);
