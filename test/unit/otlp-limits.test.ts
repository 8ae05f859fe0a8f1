import { ApiError } from '../../shared/errors';
import { MAX_SPANS_PER_REQUEST, MAX_VALUES_PER_REQUEST, checkJsonValues, scanProtobufRequest } from '../../shared/otlp/limits';
import { ExportTraceServiceRequest } from '../../shared/otlp/proto-schema';
import { OtlpDecodeError, decodeTraceRequest } from '../../shared/otlp/trace-request';
import { encodeSpans, recordSpans } from '../support/otel';

const traceId = Buffer.alloc(16, 1);
const spanId = (i: number) => Buffer.from(i.toString(16).padStart(16, '0'), 'hex');
const protobufRequest = (spans: object[], resourceAttributes: object[] = []) =>
  ExportTraceServiceRequest.encode(
    ExportTraceServiceRequest.fromObject({ resourceSpans: [{ resource: { attributes: resourceAttributes }, scopeSpans: [{ spans }] }] }),
  ).finish();
const varint = (n: number): Buffer => {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return Buffer.from(out);
};
const codeOf = (run: () => unknown): string | undefined => {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof ApiError ? error.code : (error as Error).name;
  }
};

describe('OTLP request bounds, checked on the raw bytes before decoding', () => {
  it('counts the spans and values of a real exporter request, in agreement with the decoder', () => {
    const spans = recordSpans((tracer) => {
      for (let i = 0; i < 25; i++)
        tracer.startSpan(`op-${i}`, { attributes: { 'session.id': `s-${i % 5}`, n: i, tags: ['a', 'b'] } }).end();
    });
    const { protobuf } = encodeSpans(spans);
    const shape = scanProtobufRequest(protobuf);
    expect(shape.spans).toBe(25);
    expect(decodeTraceRequest(protobuf, 'protobuf').acceptedSpans).toBe(25);
    expect(shape.values).toBeGreaterThan(25 * 4); // spans, attributes and their values
  });

  it(`refuses more than ${MAX_SPANS_PER_REQUEST} spans with 413 too_many_spans, in protobuf and JSON`, () => {
    const over = Array.from({ length: MAX_SPANS_PER_REQUEST + 1 }, (_, i) => ({ traceId, spanId: spanId(i + 1) }));
    expect(codeOf(() => decodeTraceRequest(protobufRequest(over), 'protobuf'))).toBe('too_many_spans');
    const json = Buffer.from(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: over.map(() => ({})) }] }] }));
    expect(codeOf(() => decodeTraceRequest(json, 'json'))).toBe('too_many_spans');
    const atTheBound = Array.from({ length: MAX_SPANS_PER_REQUEST }, (_, i) => ({ traceId, spanId: spanId(i + 1) }));
    expect(decodeTraceRequest(protobufRequest(atTheBound), 'protobuf').acceptedSpans).toBe(MAX_SPANS_PER_REQUEST);
  });

  it(`refuses more than ${MAX_VALUES_PER_REQUEST} values before expanding them, in protobuf and JSON`, () => {
    // Two-byte empty attributes: half a million of them fit in about a megabyte.
    const attributes = Array.from({ length: MAX_VALUES_PER_REQUEST }, () => ({}));
    expect(codeOf(() => decodeTraceRequest(protobufRequest([{ traceId, spanId: spanId(1), attributes }]), 'protobuf'))).toBe(
      'too_many_values',
    );
    const json = Buffer.from(`{"resourceSpans":[${'{},'.repeat(MAX_VALUES_PER_REQUEST)}{}]}`);
    expect(codeOf(() => checkJsonValues(json))).toBe('too_many_values');
    expect(codeOf(() => decodeTraceRequest(json, 'json'))).toBe('too_many_values');
    // Braces inside strings are text, not values.
    expect(() => checkJsonValues(Buffer.from(JSON.stringify({ text: '{['.repeat(MAX_VALUES_PER_REQUEST) })))).not.toThrow();
  });

  it('rejects invalid spans one by one without failing the request', () => {
    const spans = [
      ...Array.from({ length: 5000 }, () => ({})), // no ids at all
      { traceId, spanId: spanId(7) },
    ];
    const decoded = decodeTraceRequest(protobufRequest(spans), 'protobuf');
    expect(decoded).toMatchObject({ acceptedSpans: 1, rejectedSpans: 5000 });
    expect(decoded.rejectionMessage).toMatch(/traceId: must be 16 bytes/);
  });

  it('refuses protobuf nested beyond any OTLP shape, and lengths running past their message, as invalid bodies', () => {
    // Written by hand: AnyValue { arrayValue (5) { values (1) { AnyValue ... } } }, 200 levels.
    const len = (field: number, bytes: Uint8Array) => Buffer.concat([Buffer.from([(field << 3) | 2]), varint(bytes.length), bytes]);
    let value: Uint8Array = len(1, Buffer.from('leaf'));
    for (let i = 0; i < 200; i++) value = len(5, len(1, value));
    const span = Buffer.concat([len(1, traceId), len(2, spanId(1)), len(9, Buffer.concat([len(1, Buffer.from('deep')), len(2, value)]))]);
    const deep = len(1, len(2, len(2, span)));
    expect(() => decodeTraceRequest(deep, 'protobuf')).toThrow(OtlpDecodeError);
    expect(() => decodeTraceRequest(deep, 'protobuf')).toThrow(/nested too deeply/);
    const truncated = protobufRequest([{ traceId, spanId: spanId(1) }]).slice(0, -3);
    expect(() => decodeTraceRequest(truncated, 'protobuf')).toThrow(OtlpDecodeError);
    expect(() => scanProtobufRequest(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow(/runs past/);
    expect(() => scanProtobufRequest(Uint8Array.from([0x0b]))).toThrow(/wire type 3/);
  });
});
