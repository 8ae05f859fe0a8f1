import { createHash } from 'node:crypto';
import type { SessionBatch } from '../ports/session-repository';
import {
  MAX_SESSION_ID_LENGTH,
  type AnyValueJson,
  type DecodedTraceRequest,
  type KeyValueJson,
  type ResourceSpansJson,
  type ScopeSpansJson,
  type SpanJson,
} from './trace-request';

/** The attribute that names a session (OpenTelemetry semantic conventions). */
export const SESSION_ID_ATTRIBUTE = 'session.id';

export interface GroupedSessions {
  batches: SessionBatch[];
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

const nanosToIso = (nanos: string): string | undefined => {
  if (nanos === '0') return undefined;
  const ms = Number(BigInt(nanos) / 1_000_000n);
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
};

interface Group {
  sessionId: string;
  source: SessionBatch['sessionIdSource'];
  serviceName: string | undefined;
  /** resource index -> scope index -> spans, keeping the request's structure. */
  resources: Map<number, Map<number, SpanJson[]>>;
  traceIds: Set<string>;
  spanCount: number;
  minStart: bigint | undefined;
  maxEnd: bigint | undefined;
}

/**
 * Splits a decoded request into sessions: a span belongs to the session named by its own
 * `session.id` attribute, else its resource's, else to a session named by its trace id.
 * Each session gets an OTLP/JSON document holding only its spans, with their resource and
 * scope, and a content hash that makes retries idempotent.
 */
export function groupSessions(request: DecodedTraceRequest): GroupedSessions {
  const groups = new Map<string, Group>();
  let rejectedSpans = 0;
  let rejectionMessage: string | undefined;

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
        const scopes = group.resources.get(ri) ?? new Map<number, SpanJson[]>();
        group.resources.set(ri, scopes);
        const spans = scopes.get(si) ?? [];
        scopes.set(si, spans);
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

  const batches = [...groups.values()].map((group): SessionBatch => {
    const resourceSpans: ResourceSpansJson[] = [...group.resources].map(([ri, scopes]) => {
      const rs = request.resourceSpans[ri]!;
      const out: ResourceSpansJson = {
        ...(rs.resource ? { resource: rs.resource } : {}),
        ...(rs.schemaUrl ? { schemaUrl: rs.schemaUrl } : {}),
        scopeSpans: [...scopes].map(([si, spans]): ScopeSpansJson => {
          const ss = rs.scopeSpans[si]!;
          return { ...(ss.scope ? { scope: ss.scope } : {}), ...(ss.schemaUrl ? { schemaUrl: ss.schemaUrl } : {}), spans };
        }),
      };
      return out;
    });
    const document = JSON.stringify({ resourceSpans });
    return {
      sessionId: group.sessionId,
      sessionIdSource: group.source,
      serviceName: group.serviceName,
      spanCount: group.spanCount,
      traceIds: [...group.traceIds],
      startedAt: group.minStart === undefined ? undefined : nanosToIso(group.minStart.toString()),
      endedAt: group.maxEnd === undefined ? undefined : nanosToIso(group.maxEnd.toString()),
      document,
      contentHash: createHash('sha256').update(group.sessionId).update('\n').update(document).digest('hex'),
    };
  });

  return { batches, rejectedSpans, rejectionMessage };
}
