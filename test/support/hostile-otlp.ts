import { gzipSync } from 'node:zlib';
import { ExportTraceServiceRequest } from '../../shared/otlp/proto-schema';
import { MAX_SESSIONS_PER_REQUEST, MAX_SPANS_PER_REQUEST, MAX_VALUES_PER_REQUEST } from '../../shared/otlp/limits';

/**
 * The worst OTLP requests we can think of inside the 4 MiB body bound: each one aims at a
 * different cost (sessions times a big resource, one huge attribute, hundreds of thousands of
 * small values, nesting, invalid spans, compression), plus one just past each request bound.
 * Shared by the hostile-input suite (test/integration/hostile-ingest.test.ts) and the bench.
 */

export type HostileFormat = 'json' | 'protobuf';

export interface HostileCase {
  name: string;
  format: HostileFormat;
  /** The body as sent (gzipped when `gzip`). */
  body: Buffer;
  /** The body after content decoding: what the bounds are stated against. */
  decodedBytes: number;
  gzip: boolean;
  expect: { status: number; code?: string };
  /** Sessions the request creates when accepted. */
  sessions: number;
}

/** Room left under the 4 MiB bound for the framing around the bulk of a case. */
const BUDGET = 4 * 1024 * 1024 - 64 * 1024;

type AnyValue = { stringValue: string } | { intValue: number } | { arrayValue: { values: AnyValue[] } };
type KeyValue = { key: string; value: AnyValue };
interface SpanSpec {
  traceId: string;
  spanId: string;
  name?: string;
  attributes?: KeyValue[];
}
interface RequestSpec {
  resource?: KeyValue[];
  spans: SpanSpec[];
}

const hex = (n: number, bytes: number) => (n + 1).toString(16).padStart(bytes * 2, '0');
const span = (i: number, attributes: KeyValue[] = [], traceId = hex(i, 16)): SpanSpec => ({
  traceId,
  spanId: hex(i, 8),
  name: 'op',
  attributes,
});
const session = (id: string): KeyValue => ({ key: 'session.id', value: { stringValue: id } });

function encode(spec: RequestSpec, format: HostileFormat): Buffer {
  const nanos = '1700000000000000000';
  const spans = spec.spans.map((s) => ({
    ...s,
    ...(format === 'protobuf' ? { traceId: Buffer.from(s.traceId, 'hex'), spanId: Buffer.from(s.spanId, 'hex') } : {}),
    startTimeUnixNano: nanos,
    endTimeUnixNano: nanos,
  }));
  const request = {
    resourceSpans: [{ resource: { attributes: spec.resource ?? [] }, scopeSpans: [{ scope: { name: 'hostile' }, spans }] }],
  };
  if (format === 'json') return Buffer.from(JSON.stringify(request));
  return Buffer.from(ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(request)).finish());
}

function nested(depth: number): AnyValue {
  let value: AnyValue = { intValue: 1 };
  for (let i = 0; i < depth; i++) value = { arrayValue: { values: [value] } };
  return value;
}

/** Hand-written protobuf for shapes the encoder refuses to build (nesting past its own limit). */
function deepProtobuf(depth: number): Buffer {
  const varint = (n: number): Buffer => {
    const out: number[] = [];
    for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
    out.push(n);
    return Buffer.from(out);
  };
  const len = (field: number, bytes: Buffer) => Buffer.concat([Buffer.from([(field << 3) | 2]), varint(bytes.length), bytes]);
  let value = len(1, Buffer.from('leaf'));
  for (let i = 0; i < depth; i++) value = len(5, len(1, value));
  const body = Buffer.concat([
    len(1, Buffer.alloc(16, 1)),
    len(2, Buffer.alloc(8, 1)),
    len(9, Buffer.concat([len(1, Buffer.from('deep')), len(2, value)])),
  ]);
  return len(1, len(2, len(2, body)));
}

function build(
  name: string,
  format: HostileFormat,
  body: Buffer,
  expect: HostileCase['expect'],
  sessions: number,
  gzip = false,
): HostileCase {
  return { name, format, body: gzip ? gzipSync(body) : body, decodedBytes: body.length, gzip, expect, sessions };
}

/** Every hostile case, built fresh (about 60 MB of bodies in all). */
export function hostileCases(): HostileCase[] {
  const cases: HostileCase[] = [];
  const ok = { status: 200 };

  // A resource of nearly 4 MiB shared by the bound's worth of sessions: stored once, not 1,000 times.
  for (const format of ['protobuf', 'json'] as const) {
    const spans = Array.from({ length: MAX_SESSIONS_PER_REQUEST }, (_, i) => span(i, [session(`s-${i}`)]));
    const framing = encode({ spans }, format).length;
    const resource = [{ key: 'blob', value: { stringValue: 'r'.repeat(BUDGET - framing) } }];
    const body = encode({ resource, spans }, format);
    cases.push(
      build(
        `${MAX_SESSIONS_PER_REQUEST} sessions sharing a ${Math.round(body.length / 1e6)} MB resource (${format})`,
        format,
        body,
        ok,
        spans.length,
      ),
    );
    if (format === 'protobuf') {
      cases.push(build(`the same, gzipped to ${Math.round(gzipSync(body).length / 1024)} KiB`, format, body, ok, spans.length, true));
    }
  }
  cases.push(
    build(
      `${MAX_SESSIONS_PER_REQUEST} sessions of one small span each`,
      'protobuf',
      encode({ spans: Array.from({ length: MAX_SESSIONS_PER_REQUEST }, (_, i) => span(i, [session(`t-${i}`)])) }, 'protobuf'),
      ok,
      MAX_SESSIONS_PER_REQUEST,
    ),
  );
  cases.push(
    build(
      `${MAX_SESSIONS_PER_REQUEST + 1} sessions, one past the bound`,
      'protobuf',
      encode({ spans: Array.from({ length: MAX_SESSIONS_PER_REQUEST + 1 }, (_, i) => span(i, [session(`s-${i}`)])) }, 'protobuf'),
      { status: 413, code: 'too_many_sessions' },
      0,
    ),
  );

  // One span carrying one attribute of nearly 4 MiB.
  cases.push(
    build(
      'one attribute of nearly 4 MiB',
      'protobuf',
      encode({ spans: [span(1, [{ key: 'big', value: { stringValue: 'b'.repeat(BUDGET) } }])] }, 'protobuf'),
      ok,
      1,
    ),
  );

  // As many small attributes as the values bound allows (two values each), then past it.
  const attributes = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: { intValue: i } }));
  const underValues = Math.floor(MAX_VALUES_PER_REQUEST / 2) - 100;
  cases.push(
    build(
      `${underValues} small attributes on one span`,
      'protobuf',
      encode({ spans: [span(1, attributes(underValues))] }, 'protobuf'),
      ok,
      1,
    ),
  );
  const jsonAttributes = Math.floor(BUDGET / 48); // about 46 bytes each in OTLP/JSON
  cases.push(
    build(
      `${jsonAttributes} small attributes on one span (json)`,
      'json',
      encode({ spans: [span(1, attributes(jsonAttributes))] }, 'json'),
      ok,
      1,
    ),
  );
  cases.push(
    build(
      `${MAX_VALUES_PER_REQUEST / 2 + 1000} attributes, past the values bound`,
      'protobuf',
      encode({ spans: [span(1, attributes(MAX_VALUES_PER_REQUEST / 2 + 1000))] }, 'protobuf'),
      {
        status: 413,
        code: 'too_many_values',
      },
      0,
    ),
  );

  // Nesting: values 31 deep (allowed; 64 values each) filling the values bound, and 200 deep (refused).
  const deepCount = Math.floor(MAX_VALUES_PER_REQUEST / 64) - 10;
  cases.push(
    build(
      `${deepCount} attributes nested 31 deep`,
      'protobuf',
      encode(
        {
          spans: [
            span(
              1,
              Array.from({ length: deepCount }, (_, i) => ({ key: `d${i}`, value: nested(31) })),
            ),
          ],
        },
        'protobuf',
      ),
      ok,
      1,
    ),
  );
  cases.push(build('an attribute nested 200 deep', 'protobuf', deepProtobuf(200), { status: 400, code: 'invalid_body' }, 0));
  cases.push(
    build(
      'JSON arrays nested 400,000 deep',
      'json',
      Buffer.from('['.repeat(400_000) + ']'.repeat(400_000)),
      { status: 400, code: 'invalid_body' },
      0,
    ),
  );

  // Spans: the bound's worth in one session with some weight each, then a flood of empty ones.
  const weighty = Array.from({ length: MAX_SPANS_PER_REQUEST }, (_, i) =>
    span(i, [session('one'), { key: 'payload', value: { stringValue: 'p'.repeat(300) } }], hex(0, 16)),
  );
  cases.push(build(`${MAX_SPANS_PER_REQUEST} spans of one session`, 'protobuf', encode({ spans: weighty }, 'protobuf'), ok, 1));
  cases.push(
    build(
      `${MAX_SPANS_PER_REQUEST / 2} spans of one session (json)`,
      'json',
      encode({ spans: weighty.slice(0, MAX_SPANS_PER_REQUEST / 2) }, 'json'),
      ok,
      1,
    ),
  );
  const invalid = Array.from({ length: MAX_SPANS_PER_REQUEST }, () => ({ traceId: '', spanId: '' }));
  cases.push(build(`${MAX_SPANS_PER_REQUEST} invalid spans`, 'protobuf', encode({ spans: invalid }, 'protobuf'), ok, 0));
  cases.push(build(`${MAX_SPANS_PER_REQUEST} invalid spans (json)`, 'json', encode({ spans: invalid }, 'json'), ok, 0));
  const empties = Buffer.alloc(Math.floor(BUDGET / 2) * 2);
  for (let i = 0; i < empties.length; i += 2) empties[i] = 0x12; // field 2 (spans), length 0
  const framed = (inner: Buffer) =>
    Buffer.concat([
      Buffer.from([0x0a]),
      varintOf(inner.length + 1 + varintOf(inner.length).length),
      Buffer.from([0x12]),
      varintOf(inner.length),
      inner,
    ]);
  cases.push(build('4 MiB of empty spans', 'protobuf', framed(empties), { status: 413, code: 'too_many_spans' }, 0));

  // Compression: a 64 MiB bomb is refused at the bound.
  cases.push({
    ...build('a gzip bomb of 64 MiB', 'protobuf', Buffer.alloc(64 * 1024 * 1024), { status: 413, code: 'payload_too_large' }, 0, true),
    decodedBytes: 4 * 1024 * 1024,
  });
  return cases;
}

function varintOf(n: number): Buffer {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return Buffer.from(out);
}
