import { DocumentFetchError, type DocumentFetchLimits, type PublicDocumentFetch } from '../../ports/public-documents';

/**
 * Public documents read with the platform's fetch: no redirect followed (a 3xx is a failure, so
 * an issuer cannot send us elsewhere), the whole read under one deadline, and the body read as a
 * stream that is cut at `maxBytes` (a huge or endless answer costs at most that much memory).
 */
export class HttpPublicDocumentFetch implements PublicDocumentFetch {
  constructor(private readonly userAgent = 'veriproof-keys-oidc') {}

  async get(url: string, limits: DocumentFetchLimits): Promise<string> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (error) {
      throw new DocumentFetchError('not_allowed', 'not a URL', { cause: error });
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
      throw new DocumentFetchError('not_allowed', `scheme ${parsed.protocol}`);
    const signal = AbortSignal.timeout(limits.timeoutMs);
    let response: Response;
    try {
      response = await fetch(parsed, {
        headers: { accept: 'application/json', 'user-agent': this.userAgent },
        redirect: 'manual',
        credentials: 'omit',
        signal,
      });
    } catch (error) {
      throw failure(error, signal);
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel().catch(() => undefined);
      throw new DocumentFetchError('redirect', `HTTP ${response.status} (redirects are not followed)`);
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new DocumentFetchError('status', `HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declared > limits.maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw new DocumentFetchError('too_large', `declared ${declared} bytes, more than ${limits.maxBytes}`);
    }
    return readBounded(response, limits.maxBytes, signal);
  }
}

async function readBounded(response: Response, maxBytes: number, signal: AbortSignal): Promise<string> {
  if (!response.body) return '';
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new DocumentFetchError('too_large', `more than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof DocumentFetchError) throw error;
    throw failure(error, signal);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

function failure(error: unknown, signal: AbortSignal): DocumentFetchError {
  if (signal.aborted) return new DocumentFetchError('timeout', 'no complete answer in time', { cause: error });
  return new DocumentFetchError('unreachable', 'could not connect or read', { cause: error });
}
