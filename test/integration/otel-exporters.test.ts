import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { gzipSync } from 'node:zlib';
import { TableSessionRepository } from '../../shared/adapters/table/table-session-repository';
import { ExportTraceServiceResponse } from '../../shared/otlp/proto-schema';
import type { ServiceContext } from '../../app/context';
import { problemOf, serveApp } from '../support/http';
import { encodeSpans, recordSpans } from '../support/otel';
import { op } from '../support/portal';
import { customerWithKey, testServices } from '../support/services';

type Exporter = JsonExporter | ProtoExporter;

function exportWith(exporter: Exporter, spans: ReadableSpan[]): Promise<{ code: number; error?: Error }> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

describe('OTLP ingest with the real OpenTelemetry exporters', () => {
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  let sessions: TableSessionRepository;

  beforeAll(async () => {
    // These tests judge what is stored, not how fast: storage gets the default bound's tenfold, so
    // one busy core writing 10,000 spans is not answered 503 dependency_unavailable.
    services = testServices({ STORAGE_TIMEOUT_MS: '30000' });
    app = await serveApp(services);
    sessions = new TableSessionRepository([services.storage]);
  });
  afterAll(async () => {
    await app.close();
    await services.dispose();
  });

  const exporters: Array<[string, (key: string, extra?: object) => Exporter]> = [
    ['http/json', (key, extra = {}) => new JsonExporter({ url: `${app.url}/v1/traces`, headers: { 'X-API-Key': key }, ...extra })],
    ['http/protobuf', (key, extra = {}) => new ProtoExporter({ url: `${app.url}/v1/traces`, headers: { 'X-API-Key': key }, ...extra })],
  ];

  describe.each(exporters)('%s exporter', (_name, makeExporter) => {
    it('exports spans that are stored as sessions with the sending key, before the 200', async () => {
      const { key, keyId, customer } = await customerWithKey(services, { label: 'checkout-prod' });
      const spans = recordSpans((tracer) => {
        const root = tracer.startSpan('checkout', { attributes: { 'session.id': 'user-42-visit' } });
        tracer.startSpan('pay', { attributes: { 'session.id': 'user-42-visit' } }).end();
        root.end();
        tracer.startSpan('background-job').end();
      });
      const exporter = makeExporter(key);
      const result = await exportWith(exporter, spans);
      expect(result).toEqual({ code: 0 });
      const stored = await sessions.get(customer.slug, 'user-42-visit');
      expect(stored).toMatchObject({
        keyId,
        keyLabel: 'checkout-prod',
        application: 'test-app',
        environment: 'live',
        sandbox: false,
        spanCount: 2,
        serviceName: 'checkout',
        sessionIdSource: 'attribute',
      });
      const byTrace = await sessions.get(customer.slug, spans[2]!.spanContext().traceId);
      expect(byTrace).toMatchObject({ spanCount: 1, sessionIdSource: 'trace' });
      const [document] = await sessions.documents(customer.slug, 'user-42-visit');
      expect(
        JSON.parse(document!)
          .resourceSpans[0].scopeSpans[0].spans.map((s: { name: string }) => s.name)
          .sort(),
      ).toEqual(['checkout', 'pay']);
      await exporter.shutdown();
    });

    it('marks the sessions of a test key as sandbox', async () => {
      const { key, customer } = await customerWithKey(services, { environment: 'test' });
      const spans = recordSpans((tracer) => tracer.startSpan('ci-run', { attributes: { 'session.id': 'ci-1' } }).end());
      const exporter = makeExporter(key);
      expect((await exportWith(exporter, spans)).code).toBe(0);
      expect(await sessions.get(customer.slug, 'ci-1')).toMatchObject({ sandbox: true, anchor: 'never', environment: 'test' });
      await exporter.shutdown();
    });

    it('works with gzip compression', async () => {
      const { key, customer } = await customerWithKey(services);
      const spans = recordSpans((tracer) => tracer.startSpan('zipped', { attributes: { 'session.id': 'gz-1' } }).end());
      const exporter = makeExporter(key, { compression: 'gzip' });
      expect((await exportWith(exporter, spans)).code).toBe(0);
      expect(await sessions.get(customer.slug, 'gz-1')).toMatchObject({ spanCount: 1 });
      await exporter.shutdown();
    });

    it('fails the export with a revoked key (401), storing nothing', async () => {
      const { key, keyId, customer } = await customerWithKey(services);
      await services.useCases.keys.revoke(customer.slug, keyId, op(), { force: true });
      const spans = recordSpans((tracer) => tracer.startSpan('late', { attributes: { 'session.id': 'after-revoke' } }).end());
      const exporter = makeExporter(key);
      const result = await exportWith(exporter, spans);
      expect(result.code).toBe(1);
      expect(String(result.error?.message ?? result.error)).toMatch(/401|Unauthorized/i);
      expect(await sessions.get(customer.slug, 'after-revoke')).toBeUndefined();
      await exporter.shutdown();
    });
  });

  describe('protocol details', () => {
    it('answers in the request encoding and reports rejected spans as partial success', async () => {
      const { key } = await customerWithKey(services);
      const good = {
        traceId: '5b8efff798038103d269b633813fc60c',
        spanId: 'eee19b7ec3c1b174',
        name: 'ok',
        startTimeUnixNano: '1',
        endTimeUnixNano: '2',
      };
      const bad = { ...good, traceId: 'not-hex' };
      const body = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [good, bad] }] }] });
      const json = await app.fetch('/v1/traces', {
        method: 'POST',
        headers: { 'X-API-Key': key, 'content-type': 'application/json' },
        body,
      });
      expect(json.status).toBe(200);
      expect(json.headers.get('content-type')).toBe('application/json');
      expect(await json.json()).toEqual({ partialSuccess: { rejectedSpans: '1', errorMessage: expect.stringMatching(/traceId/) } });

      const spans = recordSpans((tracer) => tracer.startSpan('p').end());
      const proto = await app.fetch('/v1/traces', {
        method: 'POST',
        headers: { 'X-API-Key': key, 'content-type': 'application/x-protobuf' },
        body: encodeSpans(spans).protobuf,
      });
      expect(proto.status).toBe(200);
      expect(proto.headers.get('content-type')).toBe('application/x-protobuf');
      const decoded = ExportTraceServiceResponse.toObject(ExportTraceServiceResponse.decode(new Uint8Array(await proto.arrayBuffer())));
      expect(decoded).toEqual({});
    });

    it('treats a retried request as already stored (idempotent)', async () => {
      const { key, customer } = await customerWithKey(services);
      const body = encodeSpans(recordSpans((tracer) => tracer.startSpan('once', { attributes: { 'session.id': 'retry-me' } }).end())).json;
      for (let i = 0; i < 3; i++) {
        const response = await app.fetch('/v1/traces', {
          method: 'POST',
          headers: { 'X-API-Key': key, 'content-type': 'application/json' },
          body,
        });
        expect(response.status).toBe(200);
      }
      expect(await sessions.get(customer.slug, 'retry-me')).toMatchObject({ spanCount: 1, batchCount: 1 });
    });

    it.each([
      ['415 for another content type', { 'content-type': 'text/plain' }, 'x', 415, 'unsupported_media_type'],
      ['415 for a missing content type', {}, 'x', 415, 'unsupported_media_type'],
      [
        '415 for an unknown content encoding',
        { 'content-type': 'application/json', 'content-encoding': 'br' },
        '{}',
        415,
        'unsupported_media_type',
      ],
      ['400 for bad JSON', { 'content-type': 'application/json' }, '{"resourceSpans":', 400, 'invalid_body'],
      ['400 for a JSON body of the wrong shape', { 'content-type': 'application/json' }, '{"resourceSpans":{}}', 400, 'invalid_body'],
      [
        '400 for garbage protobuf',
        { 'content-type': 'application/x-protobuf' },
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f]),
        400,
        'invalid_body',
      ],
      ['400 for broken gzip', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, 'not gzip', 400, 'invalid_body'],
    ])('answers %s', async (_name, headers, body, status, code) => {
      const { key } = await customerWithKey(services);
      const response = await app.fetch('/v1/traces', { method: 'POST', headers: { 'X-API-Key': key, ...headers }, body });
      expect(response.status).toBe(status);
      expect((await problemOf(response)).code).toBe(code);
    });

    it('answers 413 over 4 MiB, declared or after gunzip', async () => {
      const { key } = await customerWithKey(services);
      const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
      const plain = await app.fetch('/v1/traces', {
        method: 'POST',
        headers: { 'X-API-Key': key, 'content-type': 'application/json' },
        body: big,
      });
      expect(plain.status).toBe(413);
      expect((await problemOf(plain)).code).toBe('payload_too_large');
      const bomb = gzipSync(big); // a few KiB on the wire, over the limit once inflated
      expect(bomb.length).toBeLessThan(10_000);
      const zipped = await app.fetch('/v1/traces', {
        method: 'POST',
        headers: { 'X-API-Key': key, 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: bomb,
      });
      expect(zipped.status).toBe(413);
    });

    it('ingests 10,000 spans in one request', async () => {
      const { key, customer } = await customerWithKey(services);
      const spans = Array.from({ length: 10_000 }, (_, i) => ({
        traceId: '5b8efff798038103d269b633813fc60c',
        spanId: (i + 1).toString(16).padStart(16, '0'),
        name: `s${i}`,
        startTimeUnixNano: '1700000000000000000',
        endTimeUnixNano: '1700000000100000000',
        attributes: [{ key: 'session.id', value: { stringValue: `bulk-${i % 5}` } }],
      }));
      const response = await app.fetch('/v1/traces', {
        method: 'POST',
        headers: { 'X-API-Key': key, 'content-type': 'application/json' },
        body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({});
      for (let s = 0; s < 5; s++) expect(await sessions.get(customer.slug, `bulk-${s}`)).toMatchObject({ spanCount: 2000 });
    });
  });
});
