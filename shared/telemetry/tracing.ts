import * as otel from '@opentelemetry/api';
import type { Attributes, Span } from '@opentelemetry/api';

/** The parts of the OpenTelemetry API that tracing uses (the process's own, or the distro's copy in Azure). */
export type TraceApi = Pick<typeof otel, 'trace' | 'context'>;

/** The attributes our spans carry (besides OpenTelemetry's own `http.*`); never a key, secret or hash. */
export const SPAN_ATTRIBUTES = [
  'veriproof.request_id',
  'veriproof.customer',
  'veriproof.key_id',
  'veriproof.storage.table',
  'veriproof.storage.kind',
] as const;

const SERVER = 1; // SpanKind.SERVER, the same number in every API copy
const CLIENT = 2; // SpanKind.CLIENT
const ERROR = 2; // SpanStatusCode.ERROR

/**
 * Spans: one per request (route, status, request id, and once the door knows them the customer's
 * slug and the key's id, never the key), with a child per storage and Key Vault call. Spans go
 * wherever the API they come from sends them: nowhere locally (the API's no-op), to Application
 * Insights in Azure (the distro's API, app/azure-monitor.ts), to an in-memory exporter in tests.
 */
export class Tracing {
  private readonly tracer: otel.Tracer;

  constructor(private readonly api: TraceApi = otel) {
    this.tracer = api.trace.getTracer('veriproof.keys');
  }

  /** Runs a request's handling inside its span; the span ends with the response's status. */
  async request<R extends { status?: number | undefined }>(
    name: string,
    attributes: Attributes,
    handle: (span: Span) => Promise<R>,
  ): Promise<R> {
    return this.tracer.startActiveSpan(name, { kind: SERVER, attributes }, async (span) => {
      try {
        const response = await handle(span);
        const status = response.status ?? 200;
        span.setAttribute('http.response.status_code', status);
        if (status >= 500) span.setStatus({ code: ERROR });
        return response;
      } finally {
        span.end();
      }
    });
  }

  /** Runs a dependency call inside a child span of the current request (alone when there is none). */
  async child<T>(name: string, attributes: Attributes, call: () => Promise<T>): Promise<T> {
    if (!this.api.trace.getActiveSpan()) return call();
    return this.tracer.startActiveSpan(name, { kind: CLIENT, attributes }, async (span) => {
      try {
        return await call();
      } catch (error) {
        span.setStatus({ code: ERROR });
        throw error;
      } finally {
        span.end();
      }
    });
  }

  /** Adds what the door learnt (customer slug, key id) to the current request's span. */
  annotate(attributes: Attributes): void {
    this.api.trace.getActiveSpan()?.setAttributes(attributes);
  }
}
