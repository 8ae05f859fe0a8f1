import { createHash } from 'node:crypto';
import type { SessionBatch, SharedBatchContext as SharedDocument } from '../ports/session-repository';
import {
  MAX_SESSION_ID_LENGTH,
  type AnyValueJson,
  type DecodedTraceRequest,
  type KeyValueJson,
  type ResourceSpansJson,
  type ScopeSpansJson,
  type SpanJson,
} from './otlp-json';

/** The attribute that names a session (OpenTelemetry semantic conventions). */
export const SESSION_ID_ATTRIBUTE = 'session.id';

/** The spans of one session in one request, before its document is built. */
export interface SessionGroup {
  sessionId: string;
  source: SessionBatch['sessionIdSource'];
  serviceName: string | undefined;
  /** Shared resource index -> shared scope index -> spans. */
  resources: Map<number, Map<number, SpanJson[]>>;
  traceIds: Set<string>;
  spanCount: number;
  minStart: bigint | undefined;
  maxEnd: bigint | undefined;
}

export interface GroupedSessions {
  shared: SharedDocument;
  sessions: SessionGroup[];
  /** Spans rejected here (an unusable session id), on top of the decoder's rejections. */
  rejectedSpans: number;
  rejectionMessage: string | undefined;
}

function attribute(attributes: KeyValueJson[] | undefined, key: string): AnyValueJson | undefined {
  return attributes?.find((kv) => kv.key === key)?.value;
}

/** A session id from an attribute value: strings as they are, integers as decimal text. */
function sessionIdOf(value: AnyValueJson | undefined): string | undefined {
  if (!value) return undefined;
  if ('stringValue' in value && value.stringValue !== '') return value.stringValue;
  if ('intValue' in value) return value.intValue;
  return undefined;
}

const nanosToIso = (nanos: bigint | undefined): string | undefined => {
  if (nanos === undefined || nanos === 0n) return undefined;
  const date = new Date(Number(nanos / 1_000_000n));
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
};

const sha256 = (...parts: string[]): string => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\n');
  return hash.digest('hex');
};

/**
 * Splits a decoded request into sessions: a span belongs to the session named by its own
 * `session.id` attribute, else its resource's, else to a session named by its trace id. Only
 * references are kept here; each session's document is built when it is written
 * ({@link sessionBatch}), so a request never holds all its documents at once.
 */
export function groupSessions(request: DecodedTraceRequest): GroupedSessions {
  const groups = new Map<string, SessionGroup>();
  let rejectedSpans = 0;
  let rejectionMessage: string | undefined;
  // Request (resource, scope) positions -> positions in the shared document, in first-use order.
  const sharedResources: Array<{ rs: ResourceSpansJson; scopes: ScopeSpansJson[]; scopeIndex: Map<number, number> }> = [];
  const resourceIndex = new Map<number, number>();

  request.resourceSpans.forEach((rs, ri) => {
    const resourceSession = sessionIdOf(attribute(rs.resource?.attributes, SESSION_ID_ATTRIBUTE));
    const serviceValue = attribute(rs.resource?.attributes, 'service.name');
    const serviceName = serviceValue && 'stringValue' in serviceValue ? serviceValue.stringValue : undefined;
    rs.scopeSpans.forEach((ss, si) => {
      for (const span of ss.spans) {
        const own = sessionIdOf(attribute(span.attributes, SESSION_ID_ATTRIBUTE));
        const sessionId = own ?? resourceSession ?? span.traceId;
        if (sessionId.length > MAX_SESSION_ID_LENGTH) {
          rejectedSpans += 1;
          rejectionMessage ??= `a ${SESSION_ID_ATTRIBUTE} longer than ${MAX_SESSION_ID_LENGTH} characters`;
          continue;
        }
        let r = resourceIndex.get(ri);
        if (r === undefined) {
          r = sharedResources.push({ rs, scopes: [], scopeIndex: new Map() }) - 1;
          resourceIndex.set(ri, r);
        }
        const shared = sharedResources[r]!;
        let sc = shared.scopeIndex.get(si);
        if (sc === undefined) {
          sc = shared.scopes.push(ss) - 1;
          shared.scopeIndex.set(si, sc);
        }
        let group = groups.get(sessionId);
        if (!group) {
          group = {
            sessionId,
            source: own !== undefined || resourceSession !== undefined ? 'attribute' : 'trace',
            serviceName,
            resources: new Map(),
            traceIds: new Set(),
            spanCount: 0,
            minStart: undefined,
            maxEnd: undefined,
          };
          groups.set(sessionId, group);
        }
        group.serviceName ??= serviceName;
        const scopes = group.resources.get(r) ?? new Map<number, SpanJson[]>();
        group.resources.set(r, scopes);
        const spans = scopes.get(sc) ?? [];
        scopes.set(sc, spans);
        spans.push(span);
        group.traceIds.add(span.traceId);
        group.spanCount += 1;
        const start = BigInt(span.startTimeUnixNano);
        const end = BigInt(span.endTimeUnixNano);
        if (start > 0n && (group.minStart === undefined || start < group.minStart)) group.minStart = start;
        if (end > 0n && (group.maxEnd === undefined || end > group.maxEnd)) group.maxEnd = end;
      }
    });
  });

  const document = JSON.stringify({
    resources: sharedResources.map(({ rs, scopes }) => ({
      ...(rs.resource ? { resource: rs.resource } : {}),
      ...(rs.schemaUrl ? { schemaUrl: rs.schemaUrl } : {}),
      scopes: scopes.map((ss) => ({ ...(ss.scope ? { scope: ss.scope } : {}), ...(ss.schemaUrl ? { schemaUrl: ss.schemaUrl } : {}) })),
    })),
  });
  return { shared: { hash: sha256(document), document }, sessions: [...groups.values()], rejectedSpans, rejectionMessage };
}

/**
 * The stored form of one session's spans in one request: the spans, placed under the indices
 * of their resource and scope in the request's {@link SharedDocument}, with a content hash that
 * makes a retried request idempotent.
 */
export function sessionBatch(group: SessionGroup, shared: SharedDocument): SessionBatch {
  const document = JSON.stringify({
    shared: shared.hash,
    resourceSpans: [...group.resources].map(([resource, scopes]) => ({
      resource,
      scopeSpans: [...scopes].map(([scope, spans]) => ({ scope, spans })),
    })),
  });
  return {
    sessionId: group.sessionId,
    sessionIdSource: group.source,
    serviceName: group.serviceName,
    spanCount: group.spanCount,
    traceIds: [...group.traceIds],
    startedAt: nanosToIso(group.minStart),
    endedAt: nanosToIso(group.maxEnd),
    document,
    sharedHash: shared.hash,
    contentHash: sha256(group.sessionId, document),
  };
}

interface StoredBatchDocument {
  shared?: string;
  resourceSpans: Array<{ resource: number; scopeSpans: Array<{ scope: number; spans: SpanJson[] }> }>;
}
interface StoredSharedDocument {
  resources: Array<{ resource?: unknown; schemaUrl?: string; scopes: Array<{ scope?: unknown; schemaUrl?: string }> }>;
}

/**
 * A stored batch as OTLP/JSON again: its spans under their resources and scopes, taken from the
 * shared document. Batches stored before shared documents existed are whole already.
 */
export function assembleDocument(stored: string, shared: string | undefined): string {
  const batch = JSON.parse(stored) as StoredBatchDocument;
  if (typeof batch.shared !== 'string') return stored;
  const context = shared ? (JSON.parse(shared) as StoredSharedDocument) : { resources: [] };
  return JSON.stringify({
    resourceSpans: batch.resourceSpans.map(({ resource, scopeSpans }) => {
      const rs = context.resources[resource];
      return {
        ...(rs?.resource ? { resource: rs.resource } : {}),
        ...(rs?.schemaUrl ? { schemaUrl: rs.schemaUrl } : {}),
        scopeSpans: scopeSpans.map(({ scope, spans }) => {
          const ss = rs?.scopes[scope];
          return { ...(ss?.scope ? { scope: ss.scope } : {}), ...(ss?.schemaUrl ? { schemaUrl: ss.schemaUrl } : {}), spans };
        }),
      };
    }),
  });
}
