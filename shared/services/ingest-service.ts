import type { ServiceMetrics } from '../telemetry/metrics';
import type { Clock } from '../clock';
import type { KeyIdentity } from '../domain';
import type { Logger } from '../logging';
import { decodeContent, tooLarge, type ContentEncoding } from '../otlp/http-body';
import { MAX_SESSIONS_PER_REQUEST, requestMemoryCost, tooManySessions } from '../otlp/limits';
import { groupSessions, sessionBatch } from '../otlp/sessions';
import { decodeTraceRequestInTurns, measureTraceRequest, type DecodedTraceRequest, type OtlpFormat } from '../otlp/trace-request';
import type { SessionRepository } from '../ports/session-repository';
import { BATCHES_POLICY, addRateLimitFields, batchesRateLimited } from '../rate-limit/batch-limit';
import type { IngestMemory, IngestTicket } from './ingest-memory';
import type { RateLimiter } from './rate-limiter';

/**
 * The storage transactions one unit of the batch limit pays for: a batch is one transaction,
 * three when it opens its session (the opening, and its entry in the recent-sessions index);
 * a request that needs more is charged one unit per this many.
 */
export const TRANSACTIONS_PER_BATCH = 3;

/** An OTLP request whose body has not been read yet: what its headers say, and how to read it. */
export interface PendingOtlpBody {
  format: OtlpFormat;
  encoding: ContentEncoding;
  /** The declared Content-Length, when there is one. */
  declaredBytes: number | undefined;
  /** Reads the body as sent, refusing it (413) past `maxBytes`. */
  read(maxBytes: number): Promise<Uint8Array>;
}

/** What the caller hands over besides the body. */
export interface IngestOptions {
  /** The response's headers, which get the batch limit's RateLimit fields beside the request limit's. */
  rateLimitFields?: Record<string, string>;
}

export interface IngestResult {
  acceptedSpans: number;
  rejectedSpans: number;
  rejectionMessage: string | undefined;
  sessions: number;
  /** Session batches that had been stored before (a retried request). */
  duplicates: number;
}

/** What an IngestService is built from. */
export interface IngestServiceDeps {
  sessions: SessionRepository;
  /** The instance's ingest memory (shared/services/ingest-memory.ts). */
  memory: IngestMemory;
  /** INGEST_MAX_BODY_BYTES: on the wire and after gunzip. */
  maxBodyBytes: number;
  /** Meters the session batches of each request per key (none: not metered, for tests of storage alone). */
  limiter?: Pick<RateLimiter, 'decideBatches' | 'chargeBatches'>;
  clock: Clock;
  log: Logger;
  metrics?: ServiceMetrics;
}

/** Stores the sessions of an OTLP export, tagged with the key that sent them. */
export class IngestService {
  private readonly sessions: SessionRepository;
  private readonly memory: IngestMemory;
  private readonly maxBodyBytes: number;
  private readonly limiter: Pick<RateLimiter, 'decideBatches' | 'chargeBatches'> | undefined;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: ServiceMetrics | undefined;

  constructor(deps: IngestServiceDeps) {
    this.sessions = deps.sessions;
    this.memory = deps.memory;
    this.maxBodyBytes = deps.maxBodyBytes;
    this.limiter = deps.limiter;
    this.clock = deps.clock;
    this.log = deps.log;
    this.metrics = deps.metrics;
  }

  /**
   * Ingests an OTLP request, holding memory only under a reservation of the instance's ingest
   * memory (shared/services/ingest-memory.ts): the body is read and inflated once its bound is
   * reserved, its shape is measured and bounded on the bytes, it waits for its estimated memory
   * to fit the budget, and only then is it decoded, metered (its session batches) and stored.
   * Resolves once every session is durably stored.
   */
  async ingestBody(identity: KeyIdentity, pending: PendingOtlpBody, options: IngestOptions = {}): Promise<IngestResult> {
    const max = this.maxBodyBytes;
    let bytes = 0;
    let ticket: IngestTicket | undefined;
    try {
      if (pending.declaredBytes !== undefined && pending.declaredBytes > max) throw tooLarge(max);
      const readBound = pending.declaredBytes ?? max;
      ticket = await this.memory.enter(readBound);
      const body = await this.receive(pending, readBound, ticket);
      bytes = body.byteLength;
      const shape = measureTraceRequest(body, pending.format);
      await ticket.admit(requestMemoryCost(shape, bytes));
      const result = await this.ingest(identity, await decodeTraceRequestInTurns(body, pending.format), options);
      this.metrics?.ingest(identity.customerSlug, 'accepted', {
        bytes,
        batches: result.sessions,
        spans: result.acceptedSpans,
        droppedSpans: result.rejectedSpans,
      });
      return result;
    } catch (error) {
      this.metrics?.ingest(identity.customerSlug, 'refused', { bytes });
      throw error;
    } finally {
      ticket?.release();
    }
  }

  /**
   * The body, read within the ticket's read reservation (which then shrinks to the bytes read);
   * a gzip body then reserves its inflate bound (zlib collects its output, then joins it: twice
   * the body bound) before it is inflated, and keeps only the inflated body.
   */
  private async receive(pending: PendingOtlpBody, readBound: number, ticket: IngestTicket): Promise<Uint8Array> {
    const raw = await pending.read(readBound);
    ticket.holding(raw.byteLength);
    if (pending.encoding !== 'gzip') return raw;
    await ticket.beforeInflating(2 * this.maxBodyBytes);
    const body = await decodeContent(raw, pending.encoding, this.maxBodyBytes);
    ticket.holding(body.byteLength);
    return body;
  }

  /**
   * Resolves only once every session of the request is durably stored, with what the sessions
   * share (resources, scopes). Each session's document is built only when it is written, so
   * memory stays bounded by the request, not by its sessions.
   */
  async ingest(identity: KeyIdentity, request: DecodedTraceRequest, options: IngestOptions = {}): Promise<IngestResult> {
    const grouped = groupSessions(request);
    if (grouped.sessions.length > MAX_SESSIONS_PER_REQUEST) throw tooManySessions();
    this.meterBatches(identity, grouped.sessions.length, options);
    const receivedAt = this.clock.now().toISOString();
    const source = {
      customerId: identity.customerId,
      customerSlug: identity.customerSlug,
      keyId: identity.keyId,
      keyLabel: identity.keyLabel,
      application: identity.application,
      environment: identity.environment,
    };
    // No session, nothing to store (not even the shared resources: they belong to batches).
    const { duplicates, transactions } =
      grouped.sessions.length === 0
        ? { duplicates: 0, transactions: 0 }
        : await this.sessions.append(
            source,
            grouped.sessions.map((group) => ({ sessionId: group.sessionId, build: () => sessionBatch(group, grouped.shared) })),
            grouped.shared,
            receivedAt,
          );
    this.chargeBeyondBatches(identity, grouped.sessions.length, transactions);

    const rejectedSpans = request.rejectedSpans + grouped.rejectedSpans;
    const result: IngestResult = {
      acceptedSpans: request.acceptedSpans - grouped.rejectedSpans,
      rejectedSpans,
      rejectionMessage: request.rejectionMessage ?? grouped.rejectionMessage,
      sessions: grouped.sessions.length,
      duplicates,
    };
    this.log.info('traces ingested', {
      customer: identity.customerSlug,
      keyId: identity.keyId,
      spans: result.acceptedSpans,
      rejected: rejectedSpans,
      sessions: result.sessions,
      duplicates,
    });
    return result;
  }

  /**
   * A request whose batches took more than {@link TRANSACTIONS_PER_BATCH} storage transactions
   * each (bodies of megabytes: rows written ahead) owes one more unit per that many beyond; it is
   * charged after the fact (nothing is stored half), and the key's next batches wait for it.
   */
  private chargeBeyondBatches(identity: KeyIdentity, batches: number, transactions: number | undefined): void {
    const owed = Math.ceil((transactions ?? 0) / TRANSACTIONS_PER_BATCH) - batches;
    if (this.limiter && owed > 0) this.limiter.chargeBatches(identity, owed);
  }

  /** Takes the request's session batches from the key's batch limit; over it, 429 before anything is stored. */
  private meterBatches(identity: KeyIdentity, batches: number, options: IngestOptions): void {
    if (!this.limiter) return;
    const decision = this.limiter.decideBatches(identity, batches);
    if (options.rateLimitFields) addRateLimitFields(options.rateLimitFields, BATCHES_POLICY, decision);
    if (!decision.allowed) throw batchesRateLimited(batches, decision);
  }
}
