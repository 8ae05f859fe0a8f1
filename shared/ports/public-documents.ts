/** Why a public document could not be read. */
export type DocumentFetchFailure = 'unreachable' | 'timeout' | 'status' | 'redirect' | 'too_large' | 'not_allowed';

/** A document could not be read; `kind` says why, the message is safe to log (no body). */
export class DocumentFetchError extends Error {
  constructor(
    readonly kind: DocumentFetchFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DocumentFetchError';
  }
}

/** The bounds of one read, set by the caller (what it is prepared to wait for and to hold). */
export interface DocumentFetchLimits {
  /** The whole read, connection to last byte. */
  timeoutMs: number;
  /** A body longer than this is not read past it: the read fails with `too_large`. */
  maxBytes: number;
}

/**
 * Reads a public document over HTTP(S): an OpenID issuer's discovery document and its key set
 * (JWKS). One GET, no credentials, no cookies, no redirect followed: 200 answers its body as
 * text; anything else throws {@link DocumentFetchError}. The caller states which addresses it
 * reads (https, loopback http in local mode); the HTTP adapter holds every read to the outbound
 * guard's rules besides (shared/net/outbound-guard.ts: in production, a host whose addresses are
 * all public), and a read it refuses fails with `not_allowed`, unsent.
 */
export interface PublicDocumentFetch {
  get(url: string, limits: DocumentFetchLimits): Promise<string>;
}
