import type { ServiceMetrics } from '../telemetry/metrics';
import type { Clock } from '../clock';
import type { KeyIdentity } from '../domain';
import type { Logger } from '../logging';
import { MAX_SESSIONS_PER_REQUEST, requestMemoryCost, tooManySessions } from '../otlp/limits';
import { groupSessions, sessionBatch } from '../otlp/sessions';
import { decodeTraceRequestInTurns, measureTraceRequest, type DecodedTraceRequest, type OtlpFormat } from '../otlp/trace-request';
import type { SessionRepository } from '../ports/session-repository';
import type { IngestAdmission } from './ingest-admission';

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
  admission: IngestAdmission;
  clock: Clock;
  log: Logger;
  metrics?: ServiceMetrics;
}

/** Stores the sessions of an OTLP export, tagged with the key that sent them. */
export class IngestService {
  private readonly sessions: SessionRepository;
  private readonly admission: IngestAdmission;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: ServiceMetrics | undefined;

  constructor(deps: IngestServiceDeps) {
    this.sessions = deps.sessions;
    this.admission = deps.admission;
    this.clock = deps.clock;
    this.log = deps.log;
    this.metrics = deps.metrics;
  }

  /**
   * Ingests an OTLP body (content-decoded): its shape is measured and bounded on the bytes, the
   * request waits for its estimated memory to fit the instance's budget, and only then is it
   * decoded and stored. Resolves once every session is durably stored.
   */
  async ingestBody(identity: KeyIdentity, body: Uint8Array, format: OtlpFormat): Promise<IngestResult> {
    const bytes = body.byteLength;
    try {
      const shape = measureTraceRequest(body, format);
      const release = await this.admission.admit(requestMemoryCost(shape, bytes));
      try {
        const result = await this.ingest(identity, await decodeTraceRequestInTurns(body, format));
        this.metrics?.ingest(identity.customerSlug, 'accepted', {
          bytes,
          batches: result.sessions,
          spans: result.acceptedSpans,
          droppedSpans: result.rejectedSpans,
        });
        return result;
      } finally {
        release();
      }
    } catch (error) {
      this.metrics?.ingest(identity.customerSlug, 'refused', { bytes });
      throw error;
    }
  }

  /**
   * Resolves only once every session of the request is durably stored, with what the sessions
   * share (resources, scopes). Each session's document is built only when it is written, so
   * memory stays bounded by the request, not by its sessions.
   */
  async ingest(identity: KeyIdentity, request: DecodedTraceRequest): Promise<IngestResult> {
    const grouped = groupSessions(request);
    if (grouped.sessions.length > MAX_SESSIONS_PER_REQUEST) throw tooManySessions();
    const receivedAt = this.clock.now().toISOString();
    const source = {
      customerId: identity.customerId,
      customerSlug: identity.customerSlug,
      keyId: identity.keyId,
      keyLabel: identity.keyLabel,
      application: identity.application,
      environment: identity.environment,
    };
    const { duplicates } = await this.sessions.append(
      source,
      grouped.sessions.map((group) => ({ sessionId: group.sessionId, build: () => sessionBatch(group, grouped.shared) })),
      grouped.shared,
      receivedAt,
    );

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
}
