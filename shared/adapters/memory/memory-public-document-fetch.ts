import { DocumentFetchError, type DocumentFetchLimits, type PublicDocumentFetch } from '../../ports/public-documents';

/** What an address answers: a body (200), or another status. */
export interface ServedDocument {
  status?: number;
  body: string;
}

/**
 * In-memory PublicDocumentFetch for unit tests: the documents served by address (a fixed answer or
 * one computed at each read), every read recorded with the limits it was asked under, and the
 * port's contract kept (a body over `maxBytes` is refused, a status other than 200 is a failure,
 * an address nothing serves is unreachable, an address the outbound guard would refuse is
 * `not_allowed`).
 */
export class MemoryPublicDocumentFetch implements PublicDocumentFetch {
  readonly requests: Array<{ url: string; limits: DocumentFetchLimits }> = [];
  private readonly documents = new Map<string, () => ServedDocument>();
  private readonly refusals = new Map<string, string>();
  /** While set, every read waits for it (reads arriving together, a slow issuer). */
  gate: Promise<void> | undefined;

  serve(url: string, document: ServedDocument | string | (() => ServedDocument | string)): void {
    const answer = typeof document === 'function' ? document : () => document;
    this.documents.set(url, () => {
      const served = answer();
      return typeof served === 'string' ? { body: served } : served;
    });
  }

  remove(url: string): void {
    this.documents.delete(url);
  }

  /** Reads of this address are refused as the outbound guard refuses one (`not_allowed`, with this reason), until `allow`. */
  refuse(url: string, detail: string): void {
    this.refusals.set(url, detail);
  }

  allow(url: string): void {
    this.refusals.delete(url);
  }

  /** Reads of this address so far. */
  count(url: string): number {
    return this.requests.filter((request) => request.url === url).length;
  }

  async get(url: string, limits: DocumentFetchLimits): Promise<string> {
    this.requests.push({ url, limits });
    if (this.gate) await this.gate;
    const refusal = this.refusals.get(url);
    if (refusal !== undefined) throw new DocumentFetchError('not_allowed', refusal);
    const served = this.documents.get(url)?.();
    if (!served) throw new DocumentFetchError('unreachable', 'nothing serves this address');
    const status = served.status ?? 200;
    if (status !== 200) throw new DocumentFetchError('status', `HTTP ${status}`);
    if (Buffer.byteLength(served.body) > limits.maxBytes) throw new DocumentFetchError('too_large', `more than ${limits.maxBytes} bytes`);
    return served.body;
  }
}
