import fc from 'fast-check';
import { SpanStatusCode } from '@opentelemetry/api';
import { assembleDocument, groupSessions, sessionBatch, type GroupedSessions } from '../../shared/otlp/sessions';
import { MAX_VALUE_DEPTH, OtlpDecodeError, decodeTraceRequest } from '../../shared/otlp/trace-request';
import { encodeSpans, recordSpans } from '../support/otel';

const utf8 = (value: unknown) => Buffer.from(JSON.stringify(value));
const span = (overrides: Record<string, unknown> = {}) => ({
  traceId: '5b8efff798038103d269b633813fc60c',
  spanId: 'eee19b7ec3c1b174',
  name: 'op',
  kind: 1,
  startTimeUnixNano: '1700000000000000000',
  endTimeUnixNano: '1700000001000000000',
  ...overrides,
});
/** Each session's batch, as the ingest service builds them one at a time. */
const batchesOf = (grouped: GroupedSessions) => grouped.sessions.map((group) => sessionBatch(group, grouped.shared));
const request = (spans: unknown[], resourceAttributes: unknown[] = []) => ({
  resourceSpans: [{ resource: { attributes: resourceAttributes }, scopeSpans: [{ scope: { name: 's' }, spans }] }],
});

describe('OTLP decoding: happy path', () => {
  const spans = recordSpans((tracer) => {
    const a = tracer.startSpan('checkout', {
      attributes: { 'session.id': 'sess-1', count: 5, ratio: 0.25, ok: true, tags: ['a', 'b'], big: 9007199254740991 },
    });
    a.addEvent('paid', { amount: 12 });
    a.setStatus({ code: SpanStatusCode.ERROR, message: 'declined' });
    a.end();
    const b = tracer.startSpan('lookup', {
      attributes: { 'session.id': 'sess-2' },
      links: [{ context: a.spanContext(), attributes: { why: 'retry' } }],
    });
    b.end();
    tracer.startSpan('orphan').end();
  });
  const encoded = encodeSpans(spans);

  it("decodes the real exporters' JSON and protobuf to the same document", () => {
    const fromJson = decodeTraceRequest(encoded.json, 'json');
    const fromProtobuf = decodeTraceRequest(encoded.protobuf, 'protobuf');
    expect(fromProtobuf).toEqual(fromJson);
    expect(fromJson.acceptedSpans).toBe(3);
    expect(fromJson.rejectedSpans).toBe(0);
    const [first] = fromJson.resourceSpans[0]!.scopeSpans[0]!.spans;
    expect(first).toMatchObject({
      name: 'checkout',
      traceId: spans[0]!.spanContext().traceId,
      spanId: spans[0]!.spanContext().spanId,
      status: { code: 2, message: 'declined' },
      events: [{ name: 'paid', attributes: [{ key: 'amount', value: { intValue: '12' } }] }],
    });
    expect(first!.attributes).toEqual(
      expect.arrayContaining([
        { key: 'count', value: { intValue: '5' } },
        { key: 'ratio', value: { doubleValue: 0.25 } },
        { key: 'ok', value: { boolValue: true } },
        { key: 'tags', value: { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } } },
        { key: 'big', value: { intValue: '9007199254740991' } },
      ]),
    );
  });

  it('groups spans into sessions by session.id, falling back to the trace id', () => {
    const grouped = groupSessions(decodeTraceRequest(encoded.json, 'json'));
    const byId = Object.fromEntries(batchesOf(grouped).map((b) => [b.sessionId, b]));
    expect(Object.keys(byId).sort()).toEqual(['sess-1', 'sess-2', spans[2]!.spanContext().traceId].sort());
    expect(byId['sess-1']).toMatchObject({ sessionIdSource: 'attribute', serviceName: 'checkout', spanCount: 1 });
    expect(byId[spans[2]!.spanContext().traceId]).toMatchObject({ sessionIdSource: 'trace', spanCount: 1 });
    const document = JSON.parse(assembleDocument(byId['sess-1']!.document, grouped.shared.document));
    expect(document.resourceSpans[0].resource.attributes).toEqual([{ key: 'service.name', value: { stringValue: 'checkout' } }]);
    expect(document.resourceSpans[0].scopeSpans[0].scope).toEqual({ name: 'test-scope', version: '1.2.3' });
    expect(document.resourceSpans[0].scopeSpans[0].spans.map((s: { name: string }) => s.name)).toEqual(['checkout']);
  });

  it('takes a resource-level session.id when spans have none, and gives equal content the same hash', () => {
    const body = utf8(request([span(), span({ spanId: '1111111111111111' })], [{ key: 'session.id', value: { stringValue: 'r-1' } }]));
    const first = groupSessions(decodeTraceRequest(body, 'json'));
    const again = groupSessions(decodeTraceRequest(body, 'json'));
    expect(batchesOf(first)).toHaveLength(1);
    expect(batchesOf(first)[0]).toMatchObject({
      sessionId: 'r-1',
      sessionIdSource: 'attribute',
      spanCount: 2,
      startedAt: '2023-11-14T22:13:20.000Z',
      endedAt: '2023-11-14T22:13:21.000Z',
    });
    expect(batchesOf(again)[0]!.contentHash).toBe(batchesOf(first)[0]!.contentHash);
    expect(again.shared.hash).toBe(first.shared.hash);
  });

  it('keeps what sessions share (resource, scope) in one document, referred to by every session', () => {
    const resource = [
      { key: 'service.name', value: { stringValue: 'big' } },
      { key: 'blob', value: { stringValue: 'r'.repeat(10_000) } },
    ];
    const spans = Array.from({ length: 50 }, (_, i) =>
      span({ spanId: (i + 1).toString(16).padStart(16, '0'), attributes: [{ key: 'session.id', value: { stringValue: `s-${i}` } }] }),
    );
    const grouped = groupSessions(decodeTraceRequest(utf8(request(spans, resource)), 'json'));
    const batches = batchesOf(grouped);
    expect(batches).toHaveLength(50);
    expect(grouped.shared.document.match(/rrrrrrrrrr/g)!.length).toBeGreaterThan(0);
    for (const batch of batches) {
      expect(batch.document).not.toContain('rrrrrrrrrr'); // the resource is not copied into sessions
      expect(batch.sharedHash).toBe(grouped.shared.hash);
      const whole = JSON.parse(assembleDocument(batch.document, grouped.shared.document));
      expect(whole.resourceSpans[0].resource.attributes).toEqual(resource);
      expect(whole.resourceSpans[0].scopeSpans[0].scope).toEqual({ name: 's' });
      expect(whole.resourceSpans[0].scopeSpans[0].spans).toHaveLength(1);
    }
    const total = grouped.shared.document.length + batches.reduce((sum, b) => sum + b.document.length, 0);
    expect(total).toBeLessThan(3 * utf8(request(spans, resource)).length);
  });

  it('accepts int64 as numbers or strings, upper-case hex ids, and an empty request', () => {
    const decoded = decodeTraceRequest(
      utf8(request([span({ traceId: '5B8EFFF798038103D269B633813FC60C', startTimeUnixNano: 5, endTimeUnixNano: '7' })])),
      'json',
    );
    expect(decoded.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId).toBe('5b8efff798038103d269b633813fc60c');
    expect(decoded.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.startTimeUnixNano).toBe('5');
    expect(decoded.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.endTimeUnixNano).toBe('7');
    expect(decodeTraceRequest(utf8({}), 'json')).toEqual({
      resourceSpans: [],
      acceptedSpans: 0,
      rejectedSpans: 0,
      rejectionMessage: undefined,
    });
    expect(decodeTraceRequest(new Uint8Array(0), 'protobuf').acceptedSpans).toBe(0);
  });
});

describe('OTLP decoding: error path', () => {
  it('rejects single spans with bad ids and keeps the rest (partial success)', () => {
    const decoded = decodeTraceRequest(
      utf8(request([span(), span({ traceId: 'abc' }), span({ spanId: '0000000000000000' }), span({ parentSpanId: 'zz' })])),
      'json',
    );
    expect(decoded.acceptedSpans).toBe(1);
    expect(decoded.rejectedSpans).toBe(3);
    expect(decoded.rejectionMessage).toMatch(/traceId/);
  });

  it('rejects a span whose session id is too long', () => {
    const grouped = groupSessions(
      decodeTraceRequest(
        utf8(request([span({ attributes: [{ key: 'session.id', value: { stringValue: 'x'.repeat(300) } }] }), span()])),
        'json',
      ),
    );
    expect(grouped.sessions).toHaveLength(1);
    expect(grouped.rejectedSpans).toBe(1);
  });

  it.each([
    ['not JSON', Buffer.from('{"resourceSpans": ['), /not valid JSON/],
    ['an array', utf8([]), /must be an object/],
    ['resourceSpans not an array', utf8({ resourceSpans: 'x' }), /resourceSpans: must be an array/],
    ['a span name of the wrong type', utf8(request([span({ name: 5 })])), /spans\[0\]\.name: must be a string/],
    ['a non-integer kind', utf8(request([span({ kind: 'SERVER' })])), /kind: must be an integer/],
    ['a bad int64', utf8(request([span({ startTimeUnixNano: '12abc' })])), /startTimeUnixNano/],
    ['a bool that is not', utf8(request([span({ attributes: [{ key: 'k', value: { boolValue: 'yes' } }] })])), /boolValue/],
  ])('refuses %s with a message that names the field', (_name, body, message) => {
    expect(() => decodeTraceRequest(body, 'json')).toThrow(OtlpDecodeError);
    expect(() => decodeTraceRequest(body, 'json')).toThrow(message);
  });

  it('refuses attribute values nested deeper than the limit', () => {
    let value: Record<string, unknown> = { stringValue: 'leaf' };
    for (let i = 0; i < MAX_VALUE_DEPTH + 1; i++) value = { arrayValue: { values: [value] } };
    expect(() => decodeTraceRequest(utf8(request([span({ attributes: [{ key: 'deep', value }] })])), 'json')).toThrow(/nest deeper/);
  });

  it('refuses JSON nested beyond what the parser can hold, without crashing', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    expect(() => decodeTraceRequest(Buffer.from(`{"resourceSpans":${deep}}`), 'json')).toThrow(OtlpDecodeError);
  });

  it('refuses truncated protobuf', () => {
    const { protobuf } = encodeSpans(recordSpans((t) => t.startSpan('x').end()));
    expect(() => decodeTraceRequest(protobuf.slice(0, protobuf.length - 3), 'protobuf')).toThrow(OtlpDecodeError);
  });

  it('never fails with anything but OtlpDecodeError on random bytes, JSON or protobuf', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.constantFrom('json' as const, 'protobuf' as const), (bytes, format) => {
        try {
          decodeTraceRequest(bytes, format);
        } catch (error) {
          expect(error).toBeInstanceOf(OtlpDecodeError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('never fails with anything but OtlpDecodeError on random JSON values in any field', () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.constantFrom('name', 'kind', 'attributes', 'events', 'links', 'status', 'traceId', 'flags'),
        (value, field) => {
          try {
            const result = decodeTraceRequest(utf8(request([span({ [field]: value })])), 'json');
            expect(result.acceptedSpans + result.rejectedSpans).toBe(1);
          } catch (error) {
            expect(error).toBeInstanceOf(OtlpDecodeError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never fails with anything but OtlpDecodeError on mutated protobuf', () => {
    const { protobuf } = encodeSpans(recordSpans((t) => t.startSpan('x', { attributes: { a: 'b', n: [1, 2] } }).end()));
    fc.assert(
      fc.property(fc.nat(protobuf.length - 1), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const mutated = Uint8Array.from(protobuf);
        mutated[at] = byte;
        try {
          decodeTraceRequest(mutated, 'protobuf');
        } catch (error) {
          expect(error).toBeInstanceOf(OtlpDecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
