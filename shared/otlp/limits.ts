import { ApiError } from '../errors';

/**
 * What one OTLP request may carry besides its bytes, checked before the body is expanded into
 * objects, so that no request costs more memory, CPU or storage than a bounded multiple of its
 * size. Our SDKs send at most 512 spans per request (OpenTelemetry's default batch), well
 * inside every bound.
 */

/** Spans per request, counted before decoding. */
export const MAX_SPANS_PER_REQUEST = 10_000;
/** Distinct sessions per request, counted after grouping and before anything is stored. */
export const MAX_SESSIONS_PER_REQUEST = 1_000;
/**
 * Values per request: resource and scope entries, spans, attributes, events, links and nested
 * attribute values together (protobuf messages, JSON objects and arrays). What decoding
 * allocates grows with this count, not with the byte count, so it is bounded on its own.
 */
export const MAX_VALUES_PER_REQUEST = 500_000;
/**
 * What an accepted request may write to storage, checked by the hostile-input suite
 * (test/integration/hostile-ingest.test.ts): at most `STORED_BYTES_PER_DECODED_BYTE` times its
 * decoded body plus `STORED_BYTES_PER_SESSION` per session it opens or extends (summary, index
 * and batch rows, its entry in the customer's recent-sessions index, with the storage protocol's
 * own framing). The first term is large because OTLP/JSON, the stored form, spells a 4-byte
 * protobuf nesting level in about 30 characters.
 */
export const STORED_BYTES_PER_DECODED_BYTE = 10;
export const STORED_BYTES_PER_SESSION = 4 * 1024;

/**
 * The memory a request may take while it is decoded and stored, estimated from its shape before
 * decoding: about 320 bytes of objects per value, and the body's text a dozen times over (the
 * raw and decoded body, its strings, the stored documents and the storage requests that carry them).
 * Measured peaks stay under the estimate (the hostile-input suite); the instance admits requests
 * while their estimates fit its budget (`INGEST_MEMORY_BUDGET_MB`).
 */
export function requestMemoryCost(shape: RequestShape, decodedBytes: number): number {
  return shape.values * 320 + decodedBytes * 12;
}
/** The estimate for the costliest request the bounds allow: what one request may hold at most. */
export const REQUEST_HEAP_BOUND_BYTES = MAX_VALUES_PER_REQUEST * 320 + 4 * 1024 * 1024 * 12;

/** Nesting of messages (resource spans, scope spans, span, attribute, nested values). */
const MAX_MESSAGE_DEPTH = 80;

export const tooManySpans = (): ApiError =>
  new ApiError('too_many_spans', `An OTLP request may carry at most ${MAX_SPANS_PER_REQUEST} spans; split the batch.`, {
    extensions: { maxSpans: MAX_SPANS_PER_REQUEST },
  });

export const tooManySessions = (): ApiError =>
  new ApiError('too_many_sessions', `An OTLP request may carry spans of at most ${MAX_SESSIONS_PER_REQUEST} sessions; split the batch.`, {
    extensions: { maxSessions: MAX_SESSIONS_PER_REQUEST },
  });

export const tooManyValues = (): ApiError =>
  new ApiError(
    'too_many_values',
    `An OTLP request may carry at most ${MAX_VALUES_PER_REQUEST} values (spans, attributes, events, links and nested values together); split the batch.`,
    { extensions: { maxValues: MAX_VALUES_PER_REQUEST } },
  );

/** The body is not well-formed protobuf wire format (reported as 400 `invalid_body`). */
export class WireFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireFormatError';
  }
}

// The submessage fields of the OTLP trace messages, by field number (opentelemetry-proto).
type Message =
  | 'request'
  | 'resourceSpans'
  | 'resource'
  | 'scopeSpans'
  | 'scope'
  | 'span'
  | 'event'
  | 'link'
  | 'status'
  | 'keyValue'
  | 'anyValue'
  | 'arrayValue'
  | 'keyValueList';

const SUBMESSAGES: Record<Message, Partial<Record<number, Message>>> = {
  request: { 1: 'resourceSpans' },
  resourceSpans: { 1: 'resource', 2: 'scopeSpans' },
  resource: { 1: 'keyValue' },
  scopeSpans: { 1: 'scope', 2: 'span' },
  scope: { 3: 'keyValue' },
  span: { 9: 'keyValue', 11: 'event', 13: 'link', 15: 'status' },
  event: { 3: 'keyValue' },
  link: { 4: 'keyValue' },
  status: {},
  keyValue: { 2: 'anyValue' },
  anyValue: { 5: 'arrayValue', 6: 'keyValueList' },
  arrayValue: { 1: 'anyValue' },
  keyValueList: { 1: 'keyValue' },
};

export interface RequestShape {
  spans: number;
  values: number;
}

/**
 * Walks an `ExportTraceServiceRequest` in protobuf wire format without decoding it: counts its
 * spans and values and checks that every length stays inside its parent. Throws the 413 of the
 * first bound exceeded as soon as it is exceeded, or {@link WireFormatError}.
 */
export function scanProtobufRequest(body: Uint8Array): RequestShape {
  const shape: RequestShape = { spans: 0, values: 0 };
  scanMessage(body, 0, body.length, 'request', 0, shape);
  return shape;
}

function scanMessage(buf: Uint8Array, start: number, end: number, message: Message, depth: number, shape: RequestShape): void {
  if (depth > MAX_MESSAGE_DEPTH) throw new WireFormatError('The protobuf body is nested too deeply.');
  const children = SUBMESSAGES[message];
  const cursor = { pos: start };
  while (cursor.pos < end) {
    const tag = readVarint(buf, cursor, end);
    const fieldNumber = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (fieldNumber === 0) throw new WireFormatError('field number 0');
    switch (wireType) {
      case 0:
        readVarint(buf, cursor, end);
        break;
      case 1:
        cursor.pos += 8;
        break;
      case 5:
        cursor.pos += 4;
        break;
      case 2: {
        const length = readVarint(buf, cursor, end);
        if (length > end - cursor.pos) throw new WireFormatError('a length runs past its message');
        const child = children[fieldNumber];
        if (child) {
          shape.values += 1;
          if (child === 'span' && ++shape.spans > MAX_SPANS_PER_REQUEST) throw tooManySpans();
          if (shape.values > MAX_VALUES_PER_REQUEST) throw tooManyValues();
          // A status holds no messages of its own.
          if (child !== 'status') scanMessage(buf, cursor.pos, cursor.pos + length, child, depth + 1, shape);
        }
        cursor.pos += length;
        break;
      }
      default:
        throw new WireFormatError(`wire type ${wireType}`);
    }
    if (cursor.pos > end) throw new WireFormatError('a field runs past its message');
  }
}

/** A base-128 varint (at most 10 bytes) at `cursor.pos`, which it advances; lengths beyond 2^53 cannot be in bounds anyway. */
function readVarint(buf: Uint8Array, cursor: { pos: number }, end: number): number {
  let value = 0;
  let scale = 1;
  const limit = Math.min(end, cursor.pos + 10);
  for (let pos = cursor.pos; pos < limit; pos++) {
    const byte = buf[pos]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      cursor.pos = pos + 1;
      return value;
    }
    scale *= 128;
  }
  throw new WireFormatError('a truncated varint');
}

/**
 * Counts the objects and arrays of a JSON body from its bytes, before parsing, and throws
 * {@link tooManyValues} past the bound: what `JSON.parse` allocates grows with this count.
 */
export function checkJsonValues(body: Uint8Array): RequestShape {
  let values = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]!;
    if (inString) {
      if (byte === 0x5c)
        i += 1; // backslash: skip the escaped character
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if ((byte === 0x7b || byte === 0x5b) && ++values > MAX_VALUES_PER_REQUEST) {
      throw tooManyValues();
    }
  }
  return { spans: 0, values }; // spans are counted once parsed
}
