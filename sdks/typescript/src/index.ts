import { context, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { parseApiKey, type ParsedKey } from './api-key';
import { VeriproofSpanExporter, type Logger } from './exporter';
import { FederatedCredential, TOKEN_PATH, type IdentityTokenProvider } from './federation';
import { SessionSpanProcessor } from './session';

export { InvalidApiKeyError } from './api-key';
export { IdentityTokenError, TokenExchangeError, type IdentityTokenContext, type IdentityTokenProvider } from './federation';
export {
  azureIdentityToken,
  fileIdentityToken,
  githubActionsIdentityToken,
  googleIdentityToken,
  type AzureIdentityTokenOptions,
  type AzureTokenCredential,
  type GitHubActionsIdentityTokenOptions,
  type GoogleIdentityTokenOptions,
} from './providers';
export { SESSION_ID_ATTRIBUTE, currentSession, withSession } from './session';
export {
  verifyWebhook,
  WebhookVerificationError,
  type VerifyWebhookOptions,
  type WebhookEvent,
  type WebhookHeaders,
  type WebhookVerificationReason,
} from './webhooks';

export interface VeriproofOptions {
  /** The compound key `vp_cust_{customer}.{component}.{secret}`; else `VERIPROOF_API_KEY`. */
  apiKey?: string;
  /** Called for every export (sync or async), so a key rotated in a secret manager is picked up without a restart. */
  apiKeyProvider?: () => string | Promise<string>;
  /**
   * Instead of a key: returns the workload's identity token (sync or async), which the SDK
   * exchanges for short-lived ingest tokens at `{endpoint}/v1/oauth/token`. Needs `customer`.
   * Ready ones: `githubActionsIdentityToken()`, `azureIdentityToken({ scope })`, `googleIdentityToken()`,
   * `fileIdentityToken(path)` (Kubernetes' projected service-account token).
   */
  identityTokenProvider?: IdentityTokenProvider;
  /** With `identityTokenProvider`: the customer's slug (`acme`), the exchange's audience. */
  customer?: string;
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
 * the secret in `X-API-Key`, the component in `x-functions-key`. Or without a key: with
 * `identityTokenProvider` and `customer`, the SDK exchanges the identity token at the first export,
 * sends the ingest token as `Authorization: Bearer`, exchanges again ahead of its expiry, and once
 * more when the service refuses it (401).
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
  const federated = options.identityTokenProvider !== undefined;
  checkCredentialOptions(options);
  const logger = options.logger ?? console;
  if (parsed.protocol === 'http:' && !isLoopback(parsed.hostname)) {
    logger.warn(
      `[veriproof] The endpoint http://${parsed.host} is plain HTTP: your ${federated ? 'identity token and ingest tokens' : 'API key'} would cross the network unencrypted. Use https.`,
    );
  }

  let resolveKey: () => Promise<ParsedKey>;
  let forgetKey: ((key: ParsedKey) => void) | undefined;
  if (options.identityTokenProvider) {
    const credential = new FederatedCredential({
      tokenUrl: new URL(`${endpoint.replace(/\/+$/, '')}${TOKEN_PATH}`).toString(),
      customer: options.customer!,
      identityTokenProvider: options.identityTokenProvider,
      timeoutMillis: options.exportTimeoutMillis ?? 10_000,
      pauseMillis: options.rejectedKeyPauseMillis ?? 60_000,
    });
    resolveKey = () => credential.key();
    forgetKey = (key) => credential.forget(key);
  } else if (options.apiKeyProvider) {
    const provider = options.apiKeyProvider;
    resolveKey = async () => parseApiKey(await provider(), 'apiKeyProvider');
  } else {
    const source = options.apiKey !== undefined ? 'the apiKey option' : 'VERIPROOF_API_KEY';
    const value = options.apiKey ?? process.env.VERIPROOF_API_KEY;
    if (value === undefined || value === '') {
      throw new TypeError('Set apiKey, apiKeyProvider or VERIPROOF_API_KEY, or identityTokenProvider and customer to send without a key.');
    }
    const parsed = parseApiKey(value, source); // a malformed key fails here, at configuration
    resolveKey = () => Promise.resolve(parsed);
  }

  const exporter = new VeriproofSpanExporter({
    url,
    resolveKey,
    forgetKey,
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

const CUSTOMER = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** Either a key (apiKey, apiKeyProvider, VERIPROOF_API_KEY) or an identity-token provider with its customer. */
function checkCredentialOptions(options: VeriproofOptions): void {
  if (options.identityTokenProvider !== undefined) {
    if (typeof options.identityTokenProvider !== 'function') {
      throw new TypeError('identityTokenProvider must be a function returning the identity token.');
    }
    if (options.apiKey !== undefined || options.apiKeyProvider !== undefined) {
      throw new TypeError('Give either a key (apiKey or apiKeyProvider) or identityTokenProvider with customer, not both.');
    }
    if (options.customer === undefined) throw new TypeError("identityTokenProvider needs customer, your customer's slug (e.g. 'acme').");
  }
  if (options.customer !== undefined) {
    const customer = options.customer;
    if (typeof customer !== 'string' || customer.length < 2 || customer.length > 32 || !CUSTOMER.test(customer)) {
      throw new TypeError("customer must be a customer's slug: 2 to 32 of a-z, 0-9 and inner hyphens (e.g. 'acme').");
    }
    if (options.identityTokenProvider === undefined) {
      throw new TypeError('customer goes with identityTokenProvider (a key names its customer itself).');
    }
  }
}

/** localhost, *.localhost, 127.0.0.0/8 and ::1: a plain-HTTP endpoint there never leaves the machine. */
function isLoopback(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return name === 'localhost' || name.endsWith('.localhost') || name === '::1' || /^127(\.\d{1,3}){3}$/.test(name);
}
