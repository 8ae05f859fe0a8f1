import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { hashSecret } from '../../shared/keys/compound-key';
import type { ServiceContext } from '../../app/context';
import { Tracing } from '../../shared/telemetry/tracing';
import { serveApp } from '../support/http';
import { op } from '../support/portal';
import { customerWithKey, testServices } from '../support/services';

/**
 * Spans, as Application Insights would get them from the distro: here an in-memory exporter
 * behind the process's OpenTelemetry API, with the async context manager the distro registers.
 */
describe('tracing', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;

  beforeAll(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    services = testServices({}, { tracing: new Tracing() });
    await services.revocations.poll();
    app = await serveApp(services);
  });
  afterAll(async () => {
    await app?.close();
    await services?.dispose();
    trace.disable();
    context.disable();
  });

  it('makes a span per request (route, status, request id, customer, key id) with a child per storage call', async () => {
    const { customer, key, keyId } = await customerWithKey(services);
    const spare = await services.useCases.keys.issue(customer.slug, { label: 'spare', application: 'a' }, op());
    await services.useCases.keys.revoke(customer.slug, spare.metadata.id, op());
    exporter.reset();
    const ok = await app.fetch('/v1/whoami', { headers: { 'x-api-key': key } });
    expect(ok.status).toBe(200);
    const refused = await app.fetch('/v1/whoami', { headers: { 'x-api-key': spare.key } });
    expect(refused.status).toBe(401);
    const spans = exporter.getFinishedSpans();
    const requests = spans.filter((s) => s.name === 'GET /v1/whoami');
    expect(requests).toHaveLength(2);
    const [first, second] = requests;
    expect(first!.attributes).toMatchObject({
      'http.route': '/v1/whoami',
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'veriproof.request_id': ok.headers.get('x-request-id'),
      'veriproof.customer': customer.slug,
      'veriproof.key_id': keyId,
    });
    expect(second!.attributes).toMatchObject({
      'http.response.status_code': 401,
      'veriproof.request_id': refused.headers.get('x-request-id'),
    });
    // The first request read the key's lookup row: a child span of its request span, in its trace.
    const storage = spans.filter((s) => s.name.startsWith('storage ') && s.spanContext().traceId === first!.spanContext().traceId);
    expect(storage.map((s) => s.name)).toContain('storage read keyLookup');
    for (const s of storage) expect(s.parentSpanContext?.spanId).toBe(first!.spanContext().spanId);

    // No span names or attributes carry a key, a secret, a component or a hash.
    const dump = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes })));
    for (const secret of [key, spare.key]) {
      for (const part of secret.split('.').slice(1)) expect(dump).not.toContain(part);
      expect(dump).not.toContain(hashSecret(secret.split('.').at(-1)!));
    }
  });

  it('marks a request answered 5xx as an error', async () => {
    const down = testServices(
      {
        STORAGE_TIMEOUT_MS: '200',
        TABLES_CONNECTION_STRING:
          'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Zm9v;TableEndpoint=http://127.0.0.1:9/devstoreaccount1',
      },
      { tracing: new Tracing() },
    );
    const downApp = await serveApp(down);
    try {
      exporter.reset();
      const { key } = await customerWithKey(services);
      const response = await downApp.fetch('/v1/whoami', { headers: { 'x-api-key': key } });
      expect(response.status).toBe(503);
      const span = exporter.getFinishedSpans().find((s) => s.name === 'GET /v1/whoami')!;
      expect(span.attributes['http.response.status_code']).toBe(503);
      expect(span.status.code).toBe(2);
    } finally {
      await downApp.close();
      await down.dispose();
    }
  });
});
