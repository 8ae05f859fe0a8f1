import * as otel from '@opentelemetry/api';
import type { Attributes, Span, SpanOptions } from '@opentelemetry/api';

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

/** A route's request spans for one method: their name and start options, made once (they never change). */
export interface RequestSpan {
  readonly name: string;
  readonly options: SpanOptions;
}

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
  /** Request spans by route, then method (a handful of each). */
  private readonly requestSpans = new Map<string, Map<string, RequestSpan>>();
  /** The attributes naming each key (customer slug, key id), made once per identity read (frozen, so shared). */
  private readonly keyAttributes = new WeakMap<object, Attributes>();

  constructor(private readonly api: TraceApi = otel) {
    this.tracer = api.trace.getTracer('veriproof.keys');
  }

  /**
   * The request span of a route template (without its leading slash; `undefined` when unknown)
   * and a method: named `GET /v1/whoami`, with `http.request.method` and `http.route` (the
   * template, never the path's values). Made once per route and method.
   */
  requestSpan(method: string, route: string | undefined): RequestSpan {
    const key = route ?? '';
    let byMethod = this.requestSpans.get(key);
    if (byMethod === undefined) this.requestSpans.set(key, (byMethod = new Map<string, RequestSpan>()));
    let span = byMethod.get(method);
    if (span === undefined) {
      const attributes = Object.freeze({ 'http.request.method': method, 'http.route': `/${key}` });
      span = Object.freeze({ name: `${method} /${route ?? '?'}`, options: Object.freeze({ kind: SERVER, attributes }) });
      byMethod.set(method, span);
    }
    return span;
  }

  /**
   * Runs a request's handling inside its span (from {@link requestSpan}), which carries the
   * request's id; the span ends with the response's status.
   */
  request<R extends { status?: number | undefined }>(
    requestSpan: RequestSpan,
    requestId: string,
    handle: (span: Span) => Promise<R>,
  ): Promise<R> {
    // Not itself async: the span's own callback is the request's one promise (another around it
    // would cost its allocation and microtask turns, and the context manager's hooks on each).
    return this.tracer.startActiveSpan(requestSpan.name, requestSpan.options, async (span) => {
      span.setAttribute('veriproof.request_id', requestId);
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

  /** Adds what a door learnt (a portal user's customer) to the current request's span. */
  annotate(attributes: Attributes): void {
    this.api.trace.getActiveSpan()?.setAttributes(attributes);
  }

  /** Adds the key the API-key door found (its customer's slug, its id; never the key) to the current request's span. */
  annotateKey(identity: { customerSlug: string; keyId: string }): void {
    const span = this.api.trace.getActiveSpan();
    if (span === undefined) return;
    let attributes = this.keyAttributes.get(identity);
    if (attributes === undefined) {
      attributes = Object.freeze({ 'veriproof.customer': identity.customerSlug, 'veriproof.key_id': identity.keyId });
      this.keyAttributes.set(identity, attributes);
    }
    span.setAttributes(attributes);
  }
}
