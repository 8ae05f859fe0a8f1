import { ApiError } from '../../errors';
import type { Page } from '../../ports/audit-log';
import { assembleDocument } from '../../otlp/sessions';
import type {
  AppendResult,
  IngestSource,
  LazyBatch,
  SessionBatch,
  SessionQuery,
  SessionRepository,
  SharedBatchContext,
  StoredSession,
} from '../../ports/session-repository';

/** In-memory SessionRepository for unit tests. */
export class MemorySessionRepository implements SessionRepository {
  readonly sessions = new Map<string, StoredSession>();
  readonly batches = new Map<string, { hash: string; document: string; shared: string }[]>();
  readonly shared = new Map<string, string>();

  async append(source: IngestSource, batches: LazyBatch[], shared: SharedBatchContext, receivedAt: string): Promise<AppendResult> {
    this.shared.set(`${source.customerSlug}/${shared.hash}`, shared.document);
    const result = { stored: 0, duplicates: 0 };
    for (const lazy of batches) {
      if (this.appendOne(source, lazy.build(), receivedAt) === 'stored') result.stored += 1;
      else result.duplicates += 1;
    }
    return result;
  }

  private appendOne(source: IngestSource, batch: SessionBatch, receivedAt: string): 'stored' | 'duplicate' {
    const key = `${source.customerSlug}/${batch.sessionId}`;
    const stored = this.batches.get(key) ?? [];
    if (stored.some((b) => b.hash === batch.contentHash)) return 'duplicate';
    stored.push({ hash: batch.contentHash, document: batch.document, shared: batch.sharedHash });
    this.batches.set(key, stored);
    const current = this.sessions.get(key);
    const sandbox = source.environment === 'test';
    this.sessions.set(key, {
      sessionId: batch.sessionId,
      sessionIdSource: current?.sessionIdSource ?? batch.sessionIdSource,
      serviceName: current?.serviceName ?? batch.serviceName,
      keyId: current?.keyId ?? source.keyId,
      keyLabel: current?.keyLabel ?? source.keyLabel,
      application: current?.application ?? source.application,
      environment: current?.environment ?? source.environment,
      sandbox: current?.sandbox ?? sandbox,
      anchor: current?.anchor ?? (sandbox ? 'never' : 'pending'),
      spanCount: (current?.spanCount ?? 0) + batch.spanCount,
      batchCount: (current?.batchCount ?? 0) + 1,
      traceIds: [...new Set([...(current?.traceIds ?? []), ...batch.traceIds])].slice(0, 20),
      startedAt: earliest(current?.startedAt, batch.startedAt),
      endedAt: latest(current?.endedAt, batch.endedAt),
      firstReceivedAt: current?.firstReceivedAt ?? receivedAt,
      lastReceivedAt: latest(current?.lastReceivedAt, receivedAt)!,
    });
    return 'stored';
  }

  async get(customerSlug: string, sessionId: string): Promise<StoredSession | undefined> {
    return this.sessions.get(`${customerSlug}/${sessionId}`);
  }

  async documents(customerSlug: string, sessionId: string): Promise<string[]> {
    return (this.batches.get(`${customerSlug}/${sessionId}`) ?? []).map((b) =>
      assembleDocument(b.document, this.shared.get(`${customerSlug}/${b.shared}`)),
    );
  }

  async list(customerSlug: string, query: SessionQuery): Promise<Page<StoredSession>> {
    const after = query.cursor ? readCursor(customerSlug, query.cursor) : undefined;
    const rest = [...this.sessions.entries()]
      .filter(([key]) => key.startsWith(`${customerSlug}/`))
      .map(([, s]) => s)
      .filter((s) => !query.keyLabel || s.keyLabel === query.keyLabel)
      .filter((s) => (!query.from || s.firstReceivedAt >= query.from) && (!query.to || s.firstReceivedAt <= query.to))
      .filter((s) => !after || newestFirst(s, after) > 0)
      .sort(newestFirst);
    const items = rest.slice(0, query.limit);
    const last = items.at(-1);
    return { items, cursor: rest.length > query.limit && last ? writeCursor(customerSlug, last) : undefined };
  }
}

const earliest = (a: string | undefined, b: string | undefined) => (a && b ? (a < b ? a : b) : (a ?? b));
const latest = (a: string | undefined, b: string | undefined) => (a && b ? (a > b ? a : b) : (a ?? b));

/** A listing's position: the session a page ended with. */
type Position = Pick<StoredSession, 'firstReceivedAt' | 'sessionId'>;
/** Newest first arrival first; sessions first seen at one instant by id. */
function newestFirst(a: Position, b: Position): number {
  if (a.firstReceivedAt !== b.firstReceivedAt) return a.firstReceivedAt > b.firstReceivedAt ? -1 : 1;
  return a.sessionId === b.sessionId ? 0 : a.sessionId < b.sessionId ? -1 : 1;
}

/** A cursor goes on after the page's last session (sessions that arrive meanwhile do not shift it), for its customer only. */
const writeCursor = (customerSlug: string, last: Position): string =>
  Buffer.from(JSON.stringify({ s: customerSlug, t: last.firstReceivedAt, id: last.sessionId }), 'utf8').toString('base64url');

function readCursor(customerSlug: string, cursor: string): Position {
  let position: unknown;
  try {
    position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    // refused below
  }
  const { s, t, id } = (position && typeof position === 'object' ? position : {}) as Record<string, unknown>;
  if (s !== customerSlug || typeof t !== 'string' || typeof id !== 'string')
    throw new ApiError('validation_failed', 'The cursor is not valid here: pass back the cursor of the previous page unchanged.');
  return { firstReceivedAt: t, sessionId: id };
}
