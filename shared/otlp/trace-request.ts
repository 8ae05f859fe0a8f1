import { MAX_SPANS_PER_REQUEST, WireFormatError, checkJsonValues, scanProtobufRequest, tooManySpans, type RequestShape } from './limits';
import type protobuf from 'protobufjs';
import { OtlpDecodeError, walkTraceRequest, type DecodedTraceRequest, type OtlpFormat } from './otlp-json';
import { ExportTraceServiceRequest } from './proto-schema';

/**
 * Decoding of OTLP `ExportTraceServiceRequest` bodies (JSON or protobuf) into one normalised
 * shape, OTLP/JSON as the specification writes it (otlp-json.ts: the shape and the walker).
 * Both encodings go through the same walker, so they cannot drift apart.
 *
 * Structural problems (wrong types, truncated protobuf, absurd nesting) reject the request
 * with {@link OtlpDecodeError}; a span whose ids are invalid is rejected on its own and
 * counted (without an exception per span), which the handler reports as an OTLP partial
 * success. The request's bounds (shared/otlp/limits.ts) are checked on the raw bytes first,
 * so an oversized request is refused before it is expanded into objects.
 */

export { MAX_VALUE_DEPTH, OtlpDecodeError, type DecodedTraceRequest, type OtlpFormat } from './otlp-json';

/**
 * A request's shape from its bytes, before anything is decoded: its bounds checked (413 past
 * one), protobuf's framing checked (a body whose lengths run past their message is 400).
 */
export function measureTraceRequest(body: Uint8Array, format: OtlpFormat): RequestShape {
  if (format === 'json') return checkJsonValues(body);
  try {
    return scanProtobufRequest(body);
  } catch (error) {
    if (!(error instanceof WireFormatError)) throw error;
    throw new OtlpDecodeError(
      /deeply/.test(error.message)
        ? 'The protobuf body is nested too deeply.'
        : 'The body is not a valid protobuf ExportTraceServiceRequest.',
    );
  }
}

/** Decodes a request whose shape {@link measureTraceRequest} checked (it measures when not told). */
export function decodeTraceRequest(body: Uint8Array, format: OtlpFormat, measured = false): DecodedTraceRequest {
  if (!measured) measureTraceRequest(body, format);
  const raw = format === 'json' ? parseJson(body) : toPlain(decodeProtobuf(body));
  return walkTraceRequest(raw, format);
}

/**
 * {@link decodeTraceRequest} of a measured request, letting the event loop serve other requests
 * between its phases (protobuf decoding, conversion, validation), so the costliest request the
 * bounds allow holds the loop for a fraction of its time at once.
 */
export async function decodeTraceRequestInTurns(body: Uint8Array, format: OtlpFormat): Promise<DecodedTraceRequest> {
  let raw: unknown;
  if (format === 'json') {
    raw = parseJson(body);
  } else {
    const message = decodeProtobuf(body);
    await nextTurn();
    raw = toPlain(message);
  }
  await nextTurn();
  return walkTraceRequest(raw, format);
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function parseJson(body: Uint8Array): unknown {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch (error) {
    throw new OtlpDecodeError(error instanceof RangeError ? 'The JSON body is nested too deeply.' : 'The body is not valid JSON.');
  }
  if (countJsonSpans(raw) > MAX_SPANS_PER_REQUEST) throw tooManySpans();
  return raw;
}

function decodeProtobuf(body: Uint8Array): protobuf.Message {
  try {
    return ExportTraceServiceRequest.decode(body);
  } catch (error) {
    throw new OtlpDecodeError(
      error instanceof RangeError && /call stack/i.test(error.message)
        ? 'The protobuf body is nested too deeply.'
        : 'The body is not a valid protobuf ExportTraceServiceRequest.',
    );
  }
}

/** A decoded protobuf message as OTLP/JSON-like plain objects (ids as base64, int64 as strings). */
function toPlain(message: protobuf.Message): unknown {
  return ExportTraceServiceRequest.toObject(message, { longs: String, enums: Number, bytes: String, arrays: true });
}

/** Spans in a parsed OTLP/JSON body, counted without looking inside them (0 for a wrong shape: the walker reports it). */
function countJsonSpans(raw: unknown): number {
  let spans = 0;
  const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
  const field = (value: unknown, name: string): unknown =>
    typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
  for (const rs of list(field(raw, 'resourceSpans'))) {
    for (const ss of list(field(rs, 'scopeSpans'))) spans += list(field(ss, 'spans')).length;
  }
  return spans;
}
