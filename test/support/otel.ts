import { randomBytes } from 'node:crypto';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';

/** Real spans from the OpenTelemetry SDK, made by `record`, with the given resource attributes. */
export function recordSpans(
  record: (tracer: ReturnType<TracerProvider['getTracer']>) => void,
  resource: Record<string, string> = { 'service.name': 'checkout' },
): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  record(provider.getTracer('test-scope', '1.2.3'));
  return exporter.getFinishedSpans();
}

/** The same spans as the OTLP/HTTP exporters encode them. */
export function encodeSpans(spans: ReadableSpan[]): { json: Uint8Array; protobuf: Uint8Array } {
  return {
    json: JsonTraceSerializer.serializeRequest(spans)!,
    protobuf: ProtobufTraceSerializer.serializeRequest(spans)!,
  };
}

/** One OTLP/JSON export of one span (`decide` of service `checkout`), as an ingest client sends it; with a session id when given. */
export function oneSpanExport(sessionId?: string): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: randomBytes(16).toString('hex'),
                spanId: randomBytes(8).toString('hex'),
                name: 'decide',
                startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
                endTimeUnixNano: String(BigInt(Date.now() + 5) * 1_000_000n),
                attributes: sessionId ? [{ key: 'session.id', value: { stringValue: sessionId } }] : [],
              },
            ],
          },
        ],
      },
    ],
  });
}
