import { odata, type TableEntity, type TransactionAction } from '@azure/data-tables';
import { createHash } from 'node:crypto';
import type { KeyEnvironment } from '../../domain';
import type { Page } from '../../ports/audit-log';
import { assembleDocument } from '../../otlp/sessions';
import type {
  IngestSource,
  SessionBatch,
  SessionQuery,
  SessionRepository,
  SharedBatchContext,
  StoredSession,
} from '../../ports/session-repository';
import { BoundedCache } from '../../cache/bounded-cache';
import { absentIfNotFound, statusOf } from '../azure-errors';
import { INVALID_CURSOR, backoff, decodeCursor, encodeCursor, invertedTime, withoutUndefined } from './rows';
import type { TableStorage } from './table-storage';

/**
 * Sessions in the `sessions` table, one partition per customer:
 *
 * - `i_{sid}`                       index: the session's summary row key (written once, never changed)
 * - `s_{inverted time}_{sid}`       summary: counts, times, and the key that opened the session;
 *                                   the inverted first-seen time makes a partition scan newest first
 * - `b_{sid}_{content hash}_{part}` the span documents of each batch, split over rows and properties
 *                                   to stay inside Table Storage's entity and property limits
 * - `r_{shared hash}_{part}`        what the batches of one request share (resources, scopes),
 *                                   written once before them and referred to by hash, so a big
 *                                   resource is stored once per request, not once per session
 *
 * `{sid}` is a hash of the session id (ids are arbitrary text; row keys are not). Part 000 of a
 * batch is written in the same entity-group transaction as the summary update, so a batch is
 * counted exactly once: a retried request finds its part 000 and reports a duplicate.
 */

/** Characters per string property (Table Storage allows 64 KiB of UTF-16 per property). */
const CHUNK_CHARS = 30_000;
/** Data properties per row (an entity may hold 1 MiB). */
const CHUNKS_PER_ROW = 14;
/** Upper bound on the body of one entity-group transaction (the service allows 4 MiB). */
const TRANSACTION_BYTES = 3 * 1024 * 1024;
const MAX_TRACE_IDS = 20;
const MAX_ATTEMPTS = 30;

const sid = (sessionId: string): string => createHash('sha256').update(sessionId, 'utf8').digest('hex').slice(0, 32);
const indexRow = (s: string): string => `i_${s}`;
const batchRow = (s: string, contentHash: string, part: number): string =>
  `b_${s}_${contentHash.slice(0, 32)}_${String(part).padStart(3, '0')}`;
const sharedPrefix = (hash: string): string => `r_${hash.slice(0, 32)}_`;

type SummaryEntity = {
  partitionKey: string;
  rowKey: string;
  sessionId: string;
  sessionIdSource: string;
  serviceName?: string;
  keyId: string;
  keyLabel: string;
  application: string;
  environment: string;
  sandbox: boolean;
  anchor: string;
  spanCount: number;
  batchCount: number;
  traceIds: string;
  startedAt?: string;
  endedAt?: string;
  firstReceivedAt: string;
  lastReceivedAt: string;
};

function splitDocument(document: string): Record<string, string>[] {
  const chunks: string[] = [];
  for (let i = 0; i < document.length; i += CHUNK_CHARS) chunks.push(document.slice(i, i + CHUNK_CHARS));
  if (chunks.length === 0) chunks.push('');
  const rows: Record<string, string>[] = [];
  for (let i = 0; i < chunks.length; i += CHUNKS_PER_ROW) {
    const row: Record<string, string> = {};
    chunks.slice(i, i + CHUNKS_PER_ROW).forEach((chunk, n) => (row[`d${n}`] = chunk));
    rows.push(row);
  }
  return rows;
}

const entityBytes = (entity: object): number => Buffer.byteLength(JSON.stringify(entity), 'utf8');

/** A row's document text, rejoined from its data properties `d0`, `d1`, .... */
function chunksOf(row: Record<string, unknown>): string {
  let text = '';
  for (let n = 0; typeof row[`d${n}`] === 'string'; n++) text += row[`d${n}`] as string;
  return text;
}

function toSession(row: SummaryEntity): StoredSession {
  return {
    sessionId: row.sessionId,
    sessionIdSource: row.sessionIdSource as StoredSession['sessionIdSource'],
    serviceName: row.serviceName,
    keyId: row.keyId,
    keyLabel: row.keyLabel,
    application: row.application,
    environment: row.environment as KeyEnvironment,
    sandbox: row.sandbox,
    anchor: row.anchor as StoredSession['anchor'],
    spanCount: row.spanCount,
    batchCount: row.batchCount,
    traceIds: JSON.parse(row.traceIds) as string[],
    startedAt: row.startedAt,
    endedAt: row.endedAt,
    firstReceivedAt: row.firstReceivedAt,
    lastReceivedAt: row.lastReceivedAt,
  };
}

const minIso = (a: string | undefined, b: string | undefined) => (a && b ? (a < b ? a : b) : (a ?? b));
const maxIso = (a: string | undefined, b: string | undefined) => (a && b ? (a > b ? a : b) : (a ?? b));

export class TableSessionRepository implements SessionRepository {
  /** Session id hash -> summary row key; safe to cache because the index never changes. */
  private readonly summaryKeys = new BoundedCache<string, string>(10_000);
  /** Shared documents this instance has written (content-addressed, so never stale). */
  private readonly sharedWritten = new BoundedCache<string, true>(10_000);

  constructor(private readonly storage: TableStorage) {}

  private get table() {
    return this.storage.clients.sessions;
  }

  async storeShared(customerSlug: string, shared: SharedBatchContext): Promise<void> {
    const cacheKey = `${customerSlug}/${shared.hash}`;
    // An application sends the same resource with every export: written once, then known here.
    if (this.sharedWritten.get(cacheKey)) return;
    await this.writeAhead(
      splitDocument(shared.document).map((data, part) => ({
        ...data,
        partitionKey: customerSlug,
        rowKey: `${sharedPrefix(shared.hash)}${String(part).padStart(3, '0')}`,
      })),
    );
    this.sharedWritten.set(cacheKey, true);
  }

  async append(source: IngestSource, batch: SessionBatch, receivedAt: string): Promise<'stored' | 'duplicate'> {
    const pk = source.customerSlug;
    const s = sid(batch.sessionId);
    const parts = splitDocument(batch.document).map((data, part) => ({
      ...data,
      partitionKey: pk,
      rowKey: batchRow(s, batch.contentHash, part),
      receivedAt,
      parts: 0,
      shared: batch.sharedHash,
    }));
    const marker = parts[0]!;
    marker.parts = parts.length;

    // Parts after the first are written ahead, idempotently; they count only once part 000 exists.
    await this.writeAhead(parts.slice(1));

    const cacheKey = `${pk}/${s}`;
    // A session this instance has not seen is most often new: try to open it at once and only
    // read the index when that conflicts (another batch of it arrived first, here or elsewhere).
    let tryCreate = !this.summaryKeys.get(cacheKey);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      await backoff(attempt);
      const summaryKey = tryCreate ? undefined : (this.summaryKeys.get(cacheKey) ?? (await this.readIndex(pk, s)));
      tryCreate = false;
      if (!summaryKey) {
        const rowKey = `s_${invertedTime(receivedAt)}_${s}`;
        const summary = this.newSummary(pk, rowKey, source, batch, receivedAt);
        try {
          await this.storage.call((o) =>
            this.table.submitTransaction(
              [
                ['create', { partitionKey: pk, rowKey: indexRow(s), summaryRowKey: rowKey }],
                ['create', withoutUndefined(summary)],
                ['create', marker],
              ],
              o,
            ),
          );
          this.summaryKeys.set(cacheKey, rowKey);
          return 'stored';
        } catch (error) {
          if (statusOf(error) !== 409) throw error;
          continue; // another request opened this session first: take the update path
        }
      }
      const current = await this.readSummary(pk, summaryKey);
      if (!current) {
        this.summaryKeys.delete(cacheKey);
        continue;
      }
      const merged = this.mergeSummary(current, batch, receivedAt);
      try {
        await this.storage.call((o) =>
          this.table.submitTransaction(
            [
              ['update', withoutUndefined(merged), 'Merge', { etag: current.etag }],
              ['create', marker],
            ] satisfies TransactionAction[],
            o,
          ),
        );
        this.summaryKeys.set(cacheKey, summaryKey);
        return 'stored';
      } catch (error) {
        const status = statusOf(error);
        if (status === 409) return 'duplicate';
        if (status === 412) continue;
        throw error;
      }
    }
    throw new Error('session append: the summary kept changing under concurrent updates');
  }

  async get(customerSlug: string, sessionId: string): Promise<StoredSession | undefined> {
    const key = await this.readIndex(customerSlug, sid(sessionId));
    if (!key) return undefined;
    const row = await this.readSummary(customerSlug, key);
    return row ? toSession(row) : undefined;
  }

  async documents(customerSlug: string, sessionId: string): Promise<string[]> {
    const s = sid(sessionId);
    const rows = await this.rowsFrom(customerSlug, `b_${s}_`);
    const batches = new Map<string, { receivedAt: string; parts: number; shared: string | undefined; rows: Map<number, string> }>();
    for (const row of rows) {
      const [, , hash, partText] = row.rowKey.split('_');
      const part = Number(partText);
      const entry = batches.get(hash!) ?? { receivedAt: '', parts: 0, shared: undefined, rows: new Map<number, string>() };
      entry.rows.set(part, chunksOf(row));
      if (part === 0) {
        entry.receivedAt = row.receivedAt as string;
        entry.parts = row.parts as number;
        entry.shared = typeof row.shared === 'string' ? row.shared : undefined;
      }
      batches.set(hash!, entry);
    }
    const committed = [...batches.values()]
      .filter((b) => b.parts > 0 && b.rows.size >= b.parts) // a batch without its part 000 was never committed
      .sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
    const shared = new Map<string, string>();
    for (const hash of new Set(committed.flatMap((b) => (b.shared ? [b.shared] : [])))) {
      const parts = await this.rowsFrom(customerSlug, sharedPrefix(hash));
      shared.set(
        hash,
        parts
          .sort((a, b) => a.rowKey.localeCompare(b.rowKey))
          .map(chunksOf)
          .join(''),
      );
    }
    return committed.map((b) => {
      const stored = Array.from({ length: b.parts }, (_, i) => b.rows.get(i) ?? '').join('');
      return assembleDocument(stored, b.shared ? shared.get(b.shared) : undefined);
    });
  }

  /** Every row of the customer's partition whose key starts with `prefix`. */
  private rowsFrom(customerSlug: string, prefix: string): Promise<Array<Record<string, unknown> & { rowKey: string }>> {
    return this.storage.call(async (o) => {
      const out: Array<Record<string, unknown> & { rowKey: string }> = [];
      const upper = `${prefix.slice(0, -1)}\``; // '`' sorts right after '_'
      for await (const row of this.table.listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey eq ${customerSlug} and RowKey ge ${prefix} and RowKey lt ${upper}` },
        abortSignal: o.abortSignal,
      })) {
        out.push(row as Record<string, unknown> & { rowKey: string });
      }
      return out;
    });
  }

  async list(customerSlug: string, query: SessionQuery): Promise<Page<StoredSession>> {
    // Summary rows sort newest first, so a time window is a row-key range.
    const upper = query.from ? `s_${invertedTime(query.from)}_~` : 's`';
    const lower = query.to ? `s_${invertedTime(query.to)}` : 's_';
    let filter = odata`PartitionKey eq ${customerSlug} and RowKey ge ${lower} and RowKey lt ${upper}`;
    if (query.keyLabel) filter += odata` and keyLabel eq ${query.keyLabel}`;
    return this.storage.call(async (o) => {
      const pages = this.table
        .listEntities<SummaryEntity>({ queryOptions: { filter }, abortSignal: o.abortSignal })
        .byPage({ maxPageSize: query.limit, continuationToken: decodeCursor(query.cursor, customerSlug) });
      const page = await pages.next().catch((error: unknown) => {
        throw query.cursor && statusOf(error) === 400 ? INVALID_CURSOR() : error;
      });
      if (page.done) return { items: [], cursor: undefined };
      return { items: page.value.map(toSession), cursor: encodeCursor(page.value.continuationToken, customerSlug) };
    });
  }

  private async writeAhead(rows: TableEntity<Record<string, unknown>>[]): Promise<void> {
    let group: TransactionAction[] = [];
    let bytes = 0;
    const flush = async () => {
      if (group.length === 0) return;
      const actions = group;
      group = [];
      bytes = 0;
      await this.storage.call((o) => this.table.submitTransaction(actions, o));
    };
    for (const row of rows) {
      const size = entityBytes(row);
      if (group.length > 0 && (bytes + size > TRANSACTION_BYTES || group.length >= 99)) await flush();
      group.push(['upsert', row, 'Replace']);
      bytes += size;
    }
    await flush();
  }

  private newSummary(pk: string, rowKey: string, source: IngestSource, batch: SessionBatch, receivedAt: string): SummaryEntity {
    const sandbox = source.environment === 'test';
    return {
      partitionKey: pk,
      rowKey,
      sessionId: batch.sessionId,
      sessionIdSource: batch.sessionIdSource,
      serviceName: batch.serviceName,
      keyId: source.keyId,
      keyLabel: source.keyLabel,
      application: source.application,
      environment: source.environment,
      sandbox,
      anchor: sandbox ? 'never' : 'pending',
      spanCount: batch.spanCount,
      batchCount: 1,
      traceIds: JSON.stringify(batch.traceIds.slice(0, MAX_TRACE_IDS)),
      startedAt: batch.startedAt,
      endedAt: batch.endedAt,
      firstReceivedAt: receivedAt,
      lastReceivedAt: receivedAt,
    };
  }

  private mergeSummary(current: SummaryEntity, batch: SessionBatch, receivedAt: string): SummaryEntity {
    const traceIds = [...new Set([...(JSON.parse(current.traceIds) as string[]), ...batch.traceIds])];
    return {
      partitionKey: current.partitionKey,
      rowKey: current.rowKey,
      sessionId: current.sessionId,
      sessionIdSource: current.sessionIdSource,
      keyId: current.keyId,
      keyLabel: current.keyLabel,
      application: current.application,
      environment: current.environment,
      sandbox: current.sandbox,
      anchor: current.anchor,
      firstReceivedAt: current.firstReceivedAt,
      serviceName: current.serviceName ?? batch.serviceName,
      spanCount: current.spanCount + batch.spanCount,
      batchCount: current.batchCount + 1,
      traceIds: JSON.stringify(traceIds.slice(0, MAX_TRACE_IDS)),
      startedAt: minIso(current.startedAt, batch.startedAt),
      endedAt: maxIso(current.endedAt, batch.endedAt),
      lastReceivedAt: maxIso(current.lastReceivedAt, receivedAt)!,
    };
  }

  private async readIndex(pk: string, s: string): Promise<string | undefined> {
    const row = await absentIfNotFound(
      this.storage.call((o) =>
        this.table.getEntity<{ summaryRowKey: string }>(pk, indexRow(s), { ...o, queryOptions: { select: ['summaryRowKey'] } }),
      ),
    );
    return row?.summaryRowKey;
  }

  private readSummary(pk: string, rowKey: string): Promise<(SummaryEntity & { etag: string }) | undefined> {
    return absentIfNotFound(this.storage.call((o) => this.table.getEntity<SummaryEntity>(pk, rowKey, o)));
  }
}
