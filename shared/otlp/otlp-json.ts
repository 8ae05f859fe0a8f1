/**
 * OTLP/JSON as the specification writes it (hex ids, decimal-string int64, integer enums): the
 * one shape both encodings of an `ExportTraceServiceRequest` are decoded into, and the walker
 * that checks a parsed body (JSON, or protobuf as plain objects) and normalises it into that
 * shape. Structural problems reject the request with {@link OtlpDecodeError}; a span whose ids
 * are invalid is rejected on its own and counted. The entry points are in trace-request.ts.
 */

export type AnyValueJson =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number | string }
  | { arrayValue: { values: AnyValueJson[] } }
  | { kvlistValue: { values: KeyValueJson[] } }
  | { bytesValue: string }
  | Record<string, never>;

export interface KeyValueJson {
  key: string;
  value: AnyValueJson;
}

export interface SpanJson {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValueJson[];
  droppedAttributesCount?: number;
  events?: Array<{ timeUnixNano: string; name: string; attributes: KeyValueJson[]; droppedAttributesCount?: number }>;
  droppedEventsCount?: number;
  links?: Array<{
    traceId: string;
    spanId: string;
    traceState?: string;
    attributes: KeyValueJson[];
    droppedAttributesCount?: number;
    flags?: number;
  }>;
  droppedLinksCount?: number;
  status?: { code: number; message?: string };
  flags?: number;
}

export interface ScopeSpansJson {
  scope?: { name: string; version?: string; attributes?: KeyValueJson[] };
  schemaUrl?: string;
  spans: SpanJson[];
}

export interface ResourceSpansJson {
  resource?: { attributes: KeyValueJson[]; droppedAttributesCount?: number };
  schemaUrl?: string;
  scopeSpans: ScopeSpansJson[];
}

export interface DecodedTraceRequest {
  resourceSpans: ResourceSpansJson[];
  acceptedSpans: number;
  rejectedSpans: number;
  /** Why the first rejected span was rejected (for the partial-success message). */
  rejectionMessage: string | undefined;
}

export type OtlpFormat = 'json' | 'protobuf';

/** The request body is not a well-formed ExportTraceServiceRequest. */
export class OtlpDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OtlpDecodeError';
  }
}

/** Deepest nesting of array and key-value-list attribute values we accept. */
export const MAX_VALUE_DEPTH = 32;
/** Longest session id we accept (a longer one rejects its span). */
export const MAX_SESSION_ID_LENGTH = 256;

/** Checks a parsed body (JSON, or a protobuf message as plain objects) and normalises it into OTLP/JSON. */
export const walkTraceRequest = (raw: unknown, format: OtlpFormat): DecodedTraceRequest => new Walker(format).request(raw);

class Walker {
  accepted = 0;
  rejected = 0;
  rejectionMessage: string | undefined;

  constructor(private readonly format: OtlpFormat) {}

  request(raw: unknown): DecodedTraceRequest {
    const top = this.object(raw, '(body)');
    const resourceSpans = this.array(top.resourceSpans, 'resourceSpans').map((rs, i) => this.resourceSpans(rs, `resourceSpans[${i}]`));
    return {
      resourceSpans,
      acceptedSpans: this.accepted,
      rejectedSpans: this.rejected,
      rejectionMessage: this.rejectionMessage,
    };
  }

  private resourceSpans(raw: unknown, path: string): ResourceSpansJson {
    const rs = this.object(raw, path);
    const out = {} as ResourceSpansJson;
    if (rs.resource !== undefined && rs.resource !== null) {
      const resource = this.object(rs.resource, `${path}.resource`);
      out.resource = { attributes: this.attributes(resource.attributes, `${path}.resource.attributes`) };
      const dropped = this.count(resource.droppedAttributesCount, `${path}.resource.droppedAttributesCount`);
      if (dropped) out.resource.droppedAttributesCount = dropped;
    }
    const schemaUrl = this.string(rs.schemaUrl, `${path}.schemaUrl`);
    if (schemaUrl) out.schemaUrl = schemaUrl;
    out.scopeSpans = this.array(rs.scopeSpans, `${path}.scopeSpans`).map((ss, i) => this.scopeSpans(ss, `${path}.scopeSpans[${i}]`));
    return out;
  }

  private scopeSpans(raw: unknown, path: string): ScopeSpansJson {
    const ss = this.object(raw, path);
    const spans: SpanJson[] = [];
    this.array(ss.spans, `${path}.spans`).forEach((span, i) => {
      const result = this.span(span, `${path}.spans[${i}]`);
      if (typeof result === 'string') {
        this.rejected += 1;
        this.rejectionMessage ??= result;
      } else {
        spans.push(result);
        this.accepted += 1;
      }
    });
    const out = {} as ScopeSpansJson;
    if (ss.scope !== undefined && ss.scope !== null) {
      const scope = this.object(ss.scope, `${path}.scope`);
      out.scope = { name: this.string(scope.name, `${path}.scope.name`) };
      const version = this.string(scope.version, `${path}.scope.version`);
      if (version) out.scope.version = version;
      const attributes = this.attributes(scope.attributes, `${path}.scope.attributes`);
      if (attributes.length) out.scope.attributes = attributes;
    }
    const schemaUrl = this.string(ss.schemaUrl, `${path}.schemaUrl`);
    if (schemaUrl) out.schemaUrl = schemaUrl;
    out.spans = spans;
    return out;
  }

  /** A valid span, or why it is rejected (a string: rejections are counted, not thrown). */
  private span(raw: unknown, path: string): SpanJson | string {
    const s = this.object(raw, path);
    const traceId = this.id(s.traceId, 16, `${path}.traceId`);
    const spanId = this.id(s.spanId, 8, `${path}.spanId`);
    if (!traceId) return `${path}.traceId: must be 16 bytes and not all zero`;
    if (!spanId) return `${path}.spanId: must be 8 bytes and not all zero`;
    const span: SpanJson = {
      traceId,
      spanId,
      name: this.string(s.name, `${path}.name`),
      kind: this.integer(s.kind, `${path}.kind`),
      startTimeUnixNano: this.int64(s.startTimeUnixNano, `${path}.startTimeUnixNano`),
      endTimeUnixNano: this.int64(s.endTimeUnixNano, `${path}.endTimeUnixNano`),
      attributes: this.attributes(s.attributes, `${path}.attributes`),
    };
    if (s.parentSpanId !== undefined && s.parentSpanId !== null && s.parentSpanId !== '') {
      const parent = this.id(s.parentSpanId, 8, `${path}.parentSpanId`);
      if (!parent) return `${path}.parentSpanId: must be empty or 8 bytes`;
      span.parentSpanId = parent;
    }
    const traceState = this.string(s.traceState, `${path}.traceState`);
    if (traceState) span.traceState = traceState;
    const events = this.array(s.events, `${path}.events`).map((e, i) => {
      const p = `${path}.events[${i}]`;
      const ev = this.object(e, p);
      const event: NonNullable<SpanJson['events']>[number] = {
        timeUnixNano: this.int64(ev.timeUnixNano, `${p}.timeUnixNano`),
        name: this.string(ev.name, `${p}.name`),
        attributes: this.attributes(ev.attributes, `${p}.attributes`),
      };
      const dropped = this.count(ev.droppedAttributesCount, `${p}.droppedAttributesCount`);
      if (dropped) event.droppedAttributesCount = dropped;
      return event;
    });
    if (events.length) span.events = events;
    const links: NonNullable<SpanJson['links']> = [];
    const rawLinks = this.array(s.links, `${path}.links`);
    for (let i = 0; i < rawLinks.length; i++) {
      const p = `${path}.links[${i}]`;
      const lk = this.object(rawLinks[i], p);
      const linkTrace = this.id(lk.traceId, 16, `${p}.traceId`);
      const linkSpan = this.id(lk.spanId, 8, `${p}.spanId`);
      if (!linkTrace || !linkSpan) return `${p}: a link needs a valid trace id and span id`;
      const link: NonNullable<SpanJson['links']>[number] = {
        traceId: linkTrace,
        spanId: linkSpan,
        attributes: this.attributes(lk.attributes, `${p}.attributes`),
      };
      const state = this.string(lk.traceState, `${p}.traceState`);
      if (state) link.traceState = state;
      const dropped = this.count(lk.droppedAttributesCount, `${p}.droppedAttributesCount`);
      if (dropped) link.droppedAttributesCount = dropped;
      const flags = this.count(lk.flags, `${p}.flags`);
      if (flags) link.flags = flags;
      links.push(link);
    }
    if (links.length) span.links = links;
    if (s.status !== undefined && s.status !== null) {
      const st = this.object(s.status, `${path}.status`);
      span.status = { code: this.integer(st.code, `${path}.status.code`) };
      const message = this.string(st.message, `${path}.status.message`);
      if (message) span.status.message = message;
    }
    for (const name of ['droppedAttributesCount', 'droppedEventsCount', 'droppedLinksCount', 'flags'] as const) {
      const value = this.count(s[name], `${path}.${name}`);
      if (value) span[name] = value;
    }
    return span;
  }

  private attributes(raw: unknown, path: string): KeyValueJson[] {
    return this.array(raw, path).map((kv, i) => this.keyValue(kv, `${path}[${i}]`, 0));
  }

  private keyValue(raw: unknown, path: string, depth: number): KeyValueJson {
    const kv = this.object(raw, path);
    return {
      key: this.string(kv.key, `${path}.key`),
      value: kv.value === undefined || kv.value === null ? {} : this.anyValue(kv.value, `${path}.value`, depth),
    };
  }

  private anyValue(raw: unknown, path: string, depth: number): AnyValueJson {
    if (depth >= MAX_VALUE_DEPTH) throw new OtlpDecodeError(`${path}: attribute values nest deeper than ${MAX_VALUE_DEPTH} levels`);
    const v = this.object(raw, path);
    if (v.stringValue !== undefined && v.stringValue !== null) return { stringValue: this.string(v.stringValue, `${path}.stringValue`) };
    if (v.boolValue !== undefined && v.boolValue !== null) {
      if (typeof v.boolValue !== 'boolean') throw new OtlpDecodeError(`${path}.boolValue: must be a boolean`);
      return { boolValue: v.boolValue };
    }
    if (v.intValue !== undefined && v.intValue !== null) return { intValue: this.int64(v.intValue, `${path}.intValue`) };
    if (v.doubleValue !== undefined && v.doubleValue !== null) return { doubleValue: this.double(v.doubleValue, `${path}.doubleValue`) };
    if (v.bytesValue !== undefined && v.bytesValue !== null) {
      const text = this.string(v.bytesValue, `${path}.bytesValue`);
      if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) throw new OtlpDecodeError(`${path}.bytesValue: must be base64`);
      return { bytesValue: text };
    }
    if (v.arrayValue !== undefined && v.arrayValue !== null) {
      const a = this.object(v.arrayValue, `${path}.arrayValue`);
      return {
        arrayValue: {
          values: this.array(a.values, `${path}.arrayValue.values`).map((x, i) =>
            this.anyValue(x, `${path}.arrayValue.values[${i}]`, depth + 1),
          ),
        },
      };
    }
    if (v.kvlistValue !== undefined && v.kvlistValue !== null) {
      const l = this.object(v.kvlistValue, `${path}.kvlistValue`);
      return {
        kvlistValue: {
          values: this.array(l.values, `${path}.kvlistValue.values`).map((x, i) =>
            this.keyValue(x, `${path}.kvlistValue.values[${i}]`, depth + 1),
          ),
        },
      };
    }
    return {};
  }

  /** Trace and span ids: hex in OTLP/JSON, base64 after protobuf decoding. `undefined` if invalid. */
  private id(raw: unknown, bytes: number, path: string): string | undefined {
    if (raw === undefined || raw === null || raw === '') return undefined;
    if (typeof raw !== 'string') throw new OtlpDecodeError(`${path}: must be a string`);
    let hex: string;
    if (this.format === 'json') {
      if (raw.length !== bytes * 2 || !/^[0-9a-fA-F]+$/.test(raw)) return undefined;
      hex = raw.toLowerCase();
    } else {
      const buffer = Buffer.from(raw, 'base64');
      if (buffer.length !== bytes) return undefined;
      hex = buffer.toString('hex');
    }
    return /^0+$/.test(hex) ? undefined : hex;
  }

  private object(raw: unknown, path: string): Record<string, unknown> {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new OtlpDecodeError(`${path}: must be an object`);
    }
    return raw as Record<string, unknown>;
  }

  private array(raw: unknown, path: string): unknown[] {
    if (raw === undefined || raw === null) return [];
    if (!Array.isArray(raw)) throw new OtlpDecodeError(`${path}: must be an array`);
    return raw;
  }

  private string(raw: unknown, path: string): string {
    if (raw === undefined || raw === null) return '';
    if (typeof raw !== 'string') throw new OtlpDecodeError(`${path}: must be a string`);
    return raw;
  }

  private int64(raw: unknown, path: string): string {
    if (raw === undefined || raw === null) return '0';
    if (typeof raw === 'number' && Number.isSafeInteger(raw)) return String(raw);
    if (typeof raw === 'string' && /^-?\d{1,20}$/.test(raw)) return BigInt(raw).toString();
    throw new OtlpDecodeError(`${path}: must be an integer (a number or a decimal string)`);
  }

  private integer(raw: unknown, path: string): number {
    if (raw === undefined || raw === null) return 0;
    if (typeof raw === 'number' && Number.isInteger(raw)) return raw;
    throw new OtlpDecodeError(`${path}: must be an integer`);
  }

  private count(raw: unknown, path: string): number {
    if (raw === undefined || raw === null) return 0;
    if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0 && raw <= 0xffffffff) return raw;
    throw new OtlpDecodeError(`${path}: must be a non-negative integer`);
  }

  private double(raw: unknown, path: string): number | string {
    if (typeof raw === 'number') return Number.isFinite(raw) ? raw : String(raw);
    if (raw === 'NaN' || raw === 'Infinity' || raw === '-Infinity') return raw;
    if (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
    throw new OtlpDecodeError(`${path}: must be a number`);
  }
}
