import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { createHash } from 'node:crypto';
import type { ParsedKey } from './api-key';

export interface Logger {
  warn(message: string): void;
}

export interface ExporterOptions {
  /** `{endpoint}/v1/traces`. */
  url: string;
  /** Resolves the key for one export (a static key, or the customer's provider). */
  resolveKey: () => Promise<ParsedKey>;
  /** How long a key the service rejected stays paused (a different key resumes at once). */
  pauseMillis: number;
  timeoutMillis: number;
  logger: Logger;
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
 *
 * The key travels only in the two headers of the requests; it is never logged, thrown or put on
 * a span.
 */
export class VeriproofSpanExporter implements SpanExporter {
  private readonly exporters = new Map<string, InnerExporter>();
  private paused: { fingerprint: string; until: number } | undefined;
  private providerFailing = false;

  constructor(private readonly options: ExporterOptions) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.run(spans).then(resultCallback, () =>
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('Veriproof export failed') }),
    );
  }

  private async run(spans: ReadableSpan[]): Promise<ExportResult> {
    let key: ParsedKey;
    try {
      key = await this.options.resolveKey();
      this.providerFailing = false;
    } catch (error) {
      if (!this.providerFailing) {
        const what =
          error instanceof Error && error.name === 'InvalidApiKeyError'
            ? error.message
            : `The apiKeyProvider failed (${error instanceof Error ? error.name : 'error'}).`;
        this.options.logger.warn(`[veriproof] ${what} The spans of this export are dropped; the next export asks again.`);
      }
      this.providerFailing = true;
      return { code: ExportResultCode.FAILED, error: new Error('No Veriproof API key available for this export') };
    }
    const id = fingerprint(key);
    if (this.paused && this.paused.fingerprint === id && Date.now() < this.paused.until) {
      return { code: ExportResultCode.FAILED, error: new Error('Exporting is paused: the service rejected this API key') };
    }
    const result = await new Promise<ExportResult>((resolve) => this.exporterFor(id, key).export(spans, resolve));
    const status = (result.error as { code?: unknown } | undefined)?.code;
    if (result.code === ExportResultCode.FAILED && (status === 401 || status === 403)) {
      const problem = problemCode((result.error as { data?: unknown }).data);
      if (this.paused?.fingerprint !== id) {
        this.options.logger.warn(
          `[veriproof] The service rejected the API key of ${key.name} (${status}${problem ? ` ${problem}` : ''}): ${why(problem)}. ` +
            `Exporting with it is paused for ${Math.round(this.options.pauseMillis / 1000)} s; a new key (VERIPROOF_API_KEY or your apiKeyProvider) resumes at once.`,
        );
      }
      this.paused = { fingerprint: id, until: Date.now() + this.options.pauseMillis };
      return {
        code: ExportResultCode.FAILED,
        error: new Error(`Veriproof rejected the API key (${status}${problem ? ` ${problem}` : ''})`),
      };
    }
    return result;
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
