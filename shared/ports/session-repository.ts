import type { KeyEnvironment } from '../domain';
import type { Page } from './audit-log';

/** Who sent a batch, recorded with every session it touches (the session's audit metadata). */
export interface IngestSource {
  customerId: string;
  customerSlug: string;
  keyId: string;
  keyLabel: string;
  application: string;
  environment: KeyEnvironment;
}

/** The spans of one session that arrived in one request, normalised. */
export interface SessionBatch {
  sessionId: string;
  /** Where the id came from: a `session.id` attribute, or the trace id as a fallback. */
  sessionIdSource: 'attribute' | 'trace';
  serviceName: string | undefined;
  spanCount: number;
  traceIds: string[];
  /** Earliest span start and latest span end, ISO 8601 (undefined when spans carry no times). */
  startedAt: string | undefined;
  endedAt: string | undefined;
  /**
   * This session's spans from one request, under the indices of their resource and scope in
   * the request's shared document (shared/otlp/sessions.ts).
   */
  document: string;
  /** The shared document (resources and scopes) the batch refers to; stored before the batch. */
  sharedHash: string;
  /** Content hash of `document`, which makes a retried request idempotent. */
  contentHash: string;
}

/** The resources and scopes of one request, stored once for all its sessions. */
export interface SharedBatchContext {
  hash: string;
  document: string;
}

/**
 * A session as its batches add up: who opened it (key, label, application, environment, id
 * source, and the first service name a batch gave) is its first batch's; span and batch counts
 * are sums, trace ids a union, `startedAt`/`endedAt` the earliest start and latest end of any
 * batch, `firstReceivedAt` its first arrival and `lastReceivedAt` the latest.
 */
export interface StoredSession {
  sessionId: string;
  sessionIdSource: 'attribute' | 'trace';
  serviceName: string | undefined;
  keyId: string;
  keyLabel: string;
  application: string;
  environment: KeyEnvironment;
  /** Sessions sent with a `test` key are sandbox sessions and are never anchored. */
  sandbox: boolean;
  anchor: 'pending' | 'never';
  spanCount: number;
  batchCount: number;
  traceIds: string[];
  startedAt: string | undefined;
  endedAt: string | undefined;
  firstReceivedAt: string;
  lastReceivedAt: string;
}

/** A session's batch in a request, built only when it is written (so a request never holds all its documents at once). */
export interface LazyBatch {
  sessionId: string;
  build(): SessionBatch;
}

export interface AppendResult {
  stored: number;
  /** Batches whose content was stored before (a retried request): not counted again. */
  duplicates: number;
  /**
   * Storage transactions the append made (the folds it leaves for later not included), which
   * the batch meter charges for beyond three per batch; adapters without transactions leave it out.
   */
  transactions?: number;
}

export interface SessionRepository {
  /**
   * Durably appends the batches of one request to their sessions (opening sessions on first
   * sight), with what the batches share (resources and scopes); resolves once all are stored. A
   * batch whose content was already stored for its session is recognised and not counted twice,
   * so a client retrying after a lost response does not duplicate data.
   */
  append(source: IngestSource, batches: LazyBatch[], shared: SharedBatchContext, receivedAt: string): Promise<AppendResult>;
  get(customerSlug: string, sessionId: string): Promise<StoredSession | undefined>;
  /** The stored span documents of a session as OTLP/JSON (resources and scopes included), in arrival order. */
  documents(customerSlug: string, sessionId: string): Promise<string[]>;
  /**
   * A customer's sessions, newest first (by first arrival), one page per call, optionally
   * narrowed to the key label a session was opened with and a window of first arrival. A page
   * holds at most `limit` sessions (it may hold fewer and still have a cursor); its cursor goes
   * on after its last session, whatever arrived since, and a cursor not handed out for this
   * customer is refused (`validation_failed`).
   */
  list(customerSlug: string, query: SessionQuery): Promise<Page<StoredSession>>;
}

export interface SessionQuery {
  keyLabel?: string;
  /** First arrival at or after (ISO 8601). */
  from?: string;
  /** First arrival at or before (ISO 8601). */
  to?: string;
  limit: number;
  cursor?: string;
}
