import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { createHash } from 'node:crypto';
import type { ParsedKey } from './api-key';
import { errorName } from './federation';

export interface Logger {
  warn(message: string): void;
}

export interface ExporterOptions {
  /** `{endpoint}/v1/traces`. */
  url: string;
  /** Resolves the key for one export (a static key, the customer's provider, or an exchanged ingest token). */
  resolveKey: () => Promise<ParsedKey>;
  /** Given for exchanged ingest tokens: a token the service refused (401) is dropped, so the next `resolveKey` exchanges again. */
  forgetKey?: (key: ParsedKey) => void;
  /** How long a key the service rejected stays paused (a different key resumes at once). */
  pauseMillis: number;
  timeoutMillis: number;
  logger: Logger;
  /** Milliseconds; default `Date.now`. */
  now?: () => number;
}

type InnerExporter = Pick<OTLPTraceExporter, 'export' | 'shutdown' | 'forceFlush'>;

/** The fingerprint a key's exporter is cached under: a hash, so no key material is kept as a map key. */
const fingerprint = (key: ParsedKey): string => createHash('sha256').update(JSON.stringify(key.headers)).digest('hex');

/**
 * The span exporter behind the SDK: OpenTelemetry's OTLP/HTTP protobuf exporter, one per key,
 * with the key resolved once per export.
 *
 * - 429 and 503 (and network errors): the OpenTelemetry exporter retries, after `Retry-After`
 *   when the service sends one, at most 5 attempts within the export timeout.
 * - 401 and 403: one log line naming the key by its customer (`vp_cust_{slug}`), never the key;
 *   exports with that key then pause for `pauseMillis` instead of hammering the service. A new
 *   key from the provider resumes at once.
 * - A provider that throws fails that export only.
 * - Without a key (`forgetKey` given: the ingest token of a token exchange), a 401 drops the token,
 *   the next one is exchanged and the export is sent once more with it; a second refusal pauses as
 *   above (no loop). A failed exchange fails that export only, with one warning.
 *
 * The key travels only in the two headers of the requests; it is never logged, thrown or put on
 * a span.
 */
export class VeriproofSpanExporter implements SpanExporter {
  private readonly exporters = new Map<string, InnerExporter>();
  private paused: { fingerprint: string; until: number } | undefined;
  private providerFailing = false;
  private readonly now: () => number;

  constructor(private readonly options: ExporterOptions) {
    this.now = options.now ?? Date.now;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.run(spans).then(resultCallback, () =>
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('Veriproof export failed') }),
    );
  }

  private async run(spans: ReadableSpan[]): Promise<ExportResult> {
    let key = await this.resolve();
    if (!key) return { code: ExportResultCode.FAILED, error: new Error('No Veriproof API key available for this export') };
    let id = fingerprint(key);
    if (this.paused && this.paused.fingerprint === id && this.now() < this.paused.until) {
      return { code: ExportResultCode.FAILED, error: new Error('Exporting is paused: the service rejected this API key') };
    }
    let result = await this.send(spans, id, key);
    if (statusOf(result) === 401 && this.options.forgetKey) {
      // An exchanged ingest token the service no longer takes: exchange again, send once more.
      this.options.forgetKey(key);
      const fresh = await this.resolve();
      if (!fresh) return { code: ExportResultCode.FAILED, error: new Error('No Veriproof ingest token available for this export') };
      if (fingerprint(fresh) !== id) {
        key = fresh;
        id = fingerprint(fresh);
        result = await this.send(spans, id, key);
      }
    }
    const status = statusOf(result);
    if (result.code === ExportResultCode.FAILED && (status === 401 || status === 403)) {
      const problem = problemCode((result.error as { data?: unknown }).data);
      if (this.paused?.fingerprint !== id) this.options.logger.warn(this.refusal(key, status, problem));
      this.paused = { fingerprint: id, until: this.now() + this.options.pauseMillis };
      return {
        code: ExportResultCode.FAILED,
        error: new Error(`Veriproof rejected the ${key.federated ? 'ingest token' : 'API key'} (${status}${problem ? ` ${problem}` : ''})`),
      };
    }
    return result;
  }

  /** This export's key, or undefined (with one warning until a key comes again) when there is none. */
  private async resolve(): Promise<ParsedKey | undefined> {
    try {
      const key = await this.options.resolveKey();
      this.providerFailing = false;
      return key;
    } catch (error) {
      if (!this.providerFailing) {
        const name = errorName(error);
        let what: string;
        let then = 'The spans of this export are dropped; the next export asks again.';
        if (name === 'InvalidApiKeyError') what = (error as Error).message;
        else if (name === 'TokenExchangeError') {
          what = (error as Error).message;
          const retryIn = (error as { retryInMillis?: unknown }).retryInMillis;
          if (typeof retryIn === 'number')
            then = `The spans of this export are dropped; the exchange is tried again in ${Math.round(retryIn / 1000)} s.`;
        } else what = `The apiKeyProvider failed (${errorName(error)}).`;
        this.options.logger.warn(`[veriproof] ${what} ${then}`);
      }
      this.providerFailing = true;
      return undefined;
    }
  }

  private send(spans: ReadableSpan[], id: string, key: ParsedKey): Promise<ExportResult> {
    return new Promise<ExportResult>((resolve) => this.exporterFor(id, key).export(spans, resolve));
  }

  /** The warning for a key (or an exchanged ingest token) the service refused. */
  private refusal(key: ParsedKey, status: number, problem: string | undefined): string {
    const pause = Math.round(this.options.pauseMillis / 1000);
    const answer = `${status}${problem ? ` ${problem}` : ''}`;
    if (key.federated) {
      const again = status === 401 && this.options.forgetKey ? ', also one exchanged just now' : '';
      return (
        `[veriproof] The service refused the ingest token of ${key.name} (${answer})${again}: ${whyFederated(problem, status)}. ` +
        `Exporting with it is paused for ${pause} s; the next token exchange resumes at once.`
      );
    }
    return (
      `[veriproof] The service rejected the API key of ${key.name} (${answer}): ${why(problem)}. ` +
      `Exporting with it is paused for ${pause} s; a new key (VERIPROOF_API_KEY or your apiKeyProvider) resumes at once.`
    );
  }

  private exporterFor(id: string, key: ParsedKey): InnerExporter {
    let exporter = this.exporters.get(id);
    if (!exporter) {
      exporter = new OTLPTraceExporter({ url: this.options.url, headers: { ...key.headers }, timeoutMillis: this.options.timeoutMillis });
      this.exporters.set(id, exporter);
      // Keep the current key's exporter and the previous one (exports still under way); close older ones.
      while (this.exporters.size > 2) {
        const [oldest, old] = this.exporters.entries().next().value as [string, InnerExporter];
        this.exporters.delete(oldest);
        void old.shutdown().catch(() => undefined);
      }
    }
    return exporter;
  }

  async forceFlush(): Promise<void> {
    await Promise.all([...this.exporters.values()].map((e) => e.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.exporters.values()].map((e) => e.shutdown()));
    this.exporters.clear();
  }
}

/** The HTTP status of a failed export, when the service answered. */
function statusOf(result: ExportResult): unknown {
  return (result.error as { code?: unknown } | undefined)?.code;
}

/** The `code` of a problem+json error body, if that is what the body is. */
function problemCode(data: unknown): string | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const code = (JSON.parse(data) as { code?: unknown }).code;
    return typeof code === 'string' && /^[a-z_]{1,40}$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

/** What a refused ingest token (of a token exchange) means, in the words of the warning. */
function whyFederated(problem: string | undefined, status: number): string {
  if (problem === 'ip_not_allowed') return "this machine's address is not allowed; send from an allowed address";
  if (status === 403) return "the trust policy's tokens may not do this";
  return 'its trust policy may have been deleted, or the token has expired';
}

/** What a refusal means, by its problem code, in the words of the warning. */
function why(problem: string | undefined): string {
  switch (problem) {
    case 'api_key_expired':
      return "it has expired (its expiry, or the end of a roll's overlap, has passed); switch to its replacement";
    case 'ip_not_allowed':
      return "this machine's address is not on the key's IP allowlist; ask your admin to add it, or send from an allowed address";
    default:
      return 'it is unknown, revoked or not allowed to ingest';
  }
}
