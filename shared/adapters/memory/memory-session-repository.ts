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
      sessionIdSource: batch.sessionIdSource,
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
      startedAt: current?.startedAt ?? batch.startedAt,
      endedAt: batch.endedAt ?? current?.endedAt,
      firstReceivedAt: current?.firstReceivedAt ?? receivedAt,
      lastReceivedAt: receivedAt,
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
    const all = [...this.sessions.entries()]
      .filter(([key]) => key.startsWith(`${customerSlug}/`))
      .map(([, s]) => s)
      .filter((s) => !query.keyLabel || s.keyLabel === query.keyLabel)
      .filter((s) => (!query.from || s.firstReceivedAt >= query.from) && (!query.to || s.firstReceivedAt <= query.to))
      .sort((a, b) => b.firstReceivedAt.localeCompare(a.firstReceivedAt));
    const start = query.cursor ? Number(query.cursor) : 0;
    const items = all.slice(start, start + query.limit);
    return { items, cursor: start + query.limit < all.length ? String(start + query.limit) : undefined };
  }
}
