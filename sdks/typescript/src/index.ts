import { context, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { parseApiKey, type ParsedKey } from './api-key';
import { VeriproofSpanExporter, type Logger } from './exporter';
import { SessionSpanProcessor } from './session';

export { InvalidApiKeyError } from './api-key';
export { SESSION_ID_ATTRIBUTE, currentSession, withSession } from './session';

export interface VeriproofOptions {
  /** The compound key `vp_cust_{customer}.{component}.{secret}`; else `VERIPROOF_API_KEY`. */
  apiKey?: string;
  /** Called for every export (sync or async), so a key rotated in a secret manager is picked up without a restart. */
  apiKeyProvider?: () => string | Promise<string>;
  /** The application this service belongs to (recorded on every span's resource). */
  applicationId: string;
  serviceName: string;
  /** The service's base URL (the SDK appends `/v1/traces`); else `VERIPROOF_ENDPOINT`. */
  endpoint?: string;
  /** Register as the global tracer provider (with an async-context manager). Default false. */
  setGlobal?: boolean;
  /** Extra resource attributes. */
  resourceAttributes?: Record<string, string | number | boolean>;
  /** How long a key the service rejected stays paused. Default 60 s. */
  rejectedKeyPauseMillis?: number;
  /** Per-export time bound, retries included. Default 10 s. */
  exportTimeoutMillis?: number;
  /** Where the SDK's few log lines go. Default console. */
  logger?: Logger;
}

export interface VeriproofHandle {
  tracerProvider: TracerProvider;
  /** A tracer of this provider (works without `setGlobal`). */
  tracer(name?: string, version?: string): Tracer;
  /** Exports what is queued now. Never rejects for a failed export (the SDK has logged it). */
  forceFlush(): Promise<void>;
  /** Exports what is queued, then stops. Call it before the process exits. Never rejects for a failed export. */
  shutdown(): Promise<void>;
}

/**
 * Sets up OpenTelemetry tracing that exports to Veriproof over OTLP/HTTP with a compound key:
 * the secret in `X-API-Key`, the component in `x-functions-key`.
 */
export function configureVeriproof(options: VeriproofOptions): VeriproofHandle {
  if (!options || typeof options.applicationId !== 'string' || options.applicationId.trim() === '') {
    throw new TypeError('configureVeriproof needs an applicationId.');
  }
  if (typeof options.serviceName !== 'string' || options.serviceName.trim() === '') {
    throw new TypeError('configureVeriproof needs a serviceName.');
  }
  const endpoint = options.endpoint ?? process.env.VERIPROOF_ENDPOINT;
  if (!endpoint) throw new TypeError('Set the endpoint option or VERIPROOF_ENDPOINT to the Veriproof service URL.');
  let parsed: URL;
  try {
    parsed = new URL(`${endpoint.replace(/\/+$/, '')}/v1/traces`);
  } catch {
    throw new TypeError('The Veriproof endpoint is not a URL.');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError('The Veriproof endpoint must be an http(s) URL.');
  if (parsed.username || parsed.password)
    throw new TypeError('The Veriproof endpoint carries credentials: give the key as the API key instead.');
  const url = parsed.toString();
  const logger = options.logger ?? console;
  if (parsed.protocol === 'http:' && !isLoopback(parsed.hostname)) {
    logger.warn(
      `[veriproof] The endpoint http://${parsed.host} is plain HTTP: your API key would cross the network unencrypted. Use https.`,
    );
  }

  let resolveKey: () => Promise<ParsedKey>;
  if (options.apiKeyProvider) {
    const provider = options.apiKeyProvider;
    resolveKey = async () => parseApiKey(await provider(), 'apiKeyProvider');
  } else {
    const source = options.apiKey !== undefined ? 'the apiKey option' : 'VERIPROOF_API_KEY';
    const value = options.apiKey ?? process.env.VERIPROOF_API_KEY;
    if (value === undefined || value === '') throw new TypeError('Set apiKey, apiKeyProvider or VERIPROOF_API_KEY.');
    const parsed = parseApiKey(value, source); // a malformed key fails here, at configuration
    resolveKey = () => Promise.resolve(parsed);
  }

  const exporter = new VeriproofSpanExporter({
    url,
    resolveKey,
    pauseMillis: options.rejectedKeyPauseMillis ?? 60_000,
    timeoutMillis: options.exportTimeoutMillis ?? 10_000,
    logger,
  });
  const tracerProvider = new TracerProvider({
    resource: resourceFromAttributes({
      ...options.resourceAttributes,
      'service.name': options.serviceName,
      'veriproof.application.id': options.applicationId,
    }),
    spanProcessors: [
      new SessionSpanProcessor(),
      new BatchSpanProcessor({ exporter, exportTimeoutMillis: options.exportTimeoutMillis ?? 10_000 }),
    ],
  });
  if (options.setGlobal) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(tracerProvider);
  }
  return {
    tracerProvider,
    tracer: (name = options.serviceName, version?: string) => tracerProvider.getTracer(name, version),
    // A failed export fails that export, never the application that flushes.
    forceFlush: () => tracerProvider.forceFlush().catch(() => undefined),
    shutdown: () => tracerProvider.shutdown().catch(() => undefined),
  };
}

/** localhost, *.localhost, 127.0.0.0/8 and ::1: a plain-HTTP endpoint there never leaves the machine. */
function isLoopback(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return name === 'localhost' || name.endsWith('.localhost') || name === '::1' || /^127(\.\d{1,3}){3}$/.test(name);
}
