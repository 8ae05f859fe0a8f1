import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { AnonymousHandler, ApiKeyHandler, RequestContext } from '../functions/definitions';
import { ApiError } from '../shared/errors';
import { hashSecret, parsePresentedKey } from '../shared/keys/compound-key';

export const API_KEY_HEADER = 'x-api-key';
const REALM = 'veriproof';

/** The `WWW-Authenticate` challenge of each authentication failure (RFC 6750 style). */
const challenge = (withError: boolean) =>
  withError ? `Bearer realm="${REALM}", error="invalid_token"` : `Bearer realm="${REALM}"`;

const unauthorized = (code: 'api_key_missing' | 'api_key_malformed' | 'api_key_invalid', detail: string) =>
  new ApiError(code, detail, { headers: { 'WWW-Authenticate': challenge(code !== 'api_key_missing') } });

const MISSING = () =>
  unauthorized('api_key_missing', 'Send your API key in the X-API-Key header, or as Authorization: Bearer <compound key>.');
const MALFORMED = () => unauthorized('api_key_malformed', 'The API key is not in the expected format.');
/** One answer for unknown, revoked and mismatched keys alike: no oracle. */
const INVALID = () => unauthorized('api_key_invalid', 'The API key is not valid.');

export interface ApiKeyOptions {
  /** Where the key may come from; both by default. */
  sources?: Array<'x-api-key' | 'bearer'>;
}

/**
 * The ApiKeyMiddleware: the only place ingest authentication happens.
 *
 * 1. Read `X-API-Key` (the secret segment or the whole compound key), else
 *    `Authorization: Bearer <compound key>`; neither -> 401 `api_key_missing`.
 * 2. Parse with the strict grammar; unparseable -> 401 `api_key_malformed`, no storage call.
 * 3. Hash the secret and resolve it with one point read (or the bounded cache); unknown or
 *    inactive, or a compound key naming another customer -> 401 `api_key_invalid`.
 * 4. Hand the handler the resolved identity. Storage down -> 503 (from the error boundary).
 */
export function withApiKey(options: ApiKeyOptions = {}) {
  const sources = new Set(options.sources ?? ['x-api-key', 'bearer']);
  if (sources.size === 0) throw new Error('withApiKey: at least one key source is needed');

  return (handler: ApiKeyHandler): AnonymousHandler =>
    async function apiKeyMiddleware(request: HttpRequest, ctx: RequestContext): Promise<HttpResponseInit> {
      const presented = readPresentedKey(request, sources);
      const secretHash = hashSecret(presented.secret);
      const identity = await ctx.services.authenticator.authenticate(secretHash);
      if (!identity) throw INVALID();
      if (presented.form === 'compound' && presented.slug !== identity.customerSlug) throw INVALID();
      return handler(request, { ...ctx, identity });
    };
}

function readPresentedKey(request: HttpRequest, sources: Set<string>) {
  const headerKey = sources.has('x-api-key') ? request.headers.get(API_KEY_HEADER) : null;
  if (headerKey !== null && headerKey.trim() !== '') {
    const parsed = parsePresentedKey(headerKey.trim(), true);
    if (!parsed.ok) throw MALFORMED();
    return parsed.value;
  }
  const authorization = sources.has('bearer') ? request.headers.get('authorization') : null;
  if (authorization !== null) {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (match) {
      const parsed = parsePresentedKey(match[1]!, false);
      if (!parsed.ok) throw MALFORMED();
      return parsed.value;
    }
    if (/^Bearer\b/i.test(authorization.trim())) throw MALFORMED();
  }
  throw MISSING();
}
