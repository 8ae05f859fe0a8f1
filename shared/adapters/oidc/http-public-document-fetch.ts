import type { OutboundHttp } from '../../ports/outbound-http';
import { DocumentFetchError, type DocumentFetchLimits, type PublicDocumentFetch } from '../../ports/public-documents';

/**
 * Public documents read through the guarded outbound client (shared/ports/outbound-http.ts): the
 * address admitted by the outbound guard first (in production https only, to a host whose every
 * address is public; the connection pinned to them), no redirect followed (a 3xx is a failure, so
 * an issuer cannot send us elsewhere), the whole read under one deadline, and the body read up to
 * `maxBytes` and no further (a huge or endless answer costs at most that much memory).
 */
export class HttpPublicDocumentFetch implements PublicDocumentFetch {
  constructor(
    private readonly http: OutboundHttp,
    private readonly userAgent = 'veriproof-keys-oidc',
  ) {}

  async get(url: string, limits: DocumentFetchLimits): Promise<string> {
    const result = await this.http.send({
      url,
      method: 'GET',
      headers: { accept: 'application/json', 'user-agent': this.userAgent },
      timeoutMs: limits.timeoutMs,
      maxResponseBytes: limits.maxBytes,
    });
    if (!result.ok) {
      switch (result.failure) {
        case 'not_allowed':
          throw new DocumentFetchError('not_allowed', result.detail);
        case 'timeout':
          throw new DocumentFetchError('timeout', result.detail);
        case 'unresolved':
        case 'unreachable':
          throw new DocumentFetchError('unreachable', result.detail);
      }
    }
    const { status, truncated, body } = result.response;
    if (status >= 300 && status < 400) throw new DocumentFetchError('redirect', `HTTP ${status} (redirects are not followed)`);
    if (status !== 200) throw new DocumentFetchError('status', `HTTP ${status}`);
    if (truncated) throw new DocumentFetchError('too_large', `more than ${limits.maxBytes} bytes`);
    return body.toString('utf8');
  }
}
