import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { AnonymousHandler, ApiKeyHandler, RequestContext } from '../functions/definitions';
import type { KeyIdentity, KeyType } from '../shared/domain';
import { ApiError } from '../shared/errors';
import type { Decision, KeyLimits } from '../shared/rate-limit/shared-token-bucket';
import { clientAddress } from '../shared/http/client-address';
import { KEY_PREFIX, hashSecret, parsePresentedKey, type PresentedKey } from '../shared/keys/compound-key';
import type { ServiceContext } from '../shared/services/context';

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
const TOO_MANY_FAILURES = (retryAfterSeconds: number) =>
  new ApiError('rate_limited', `Too many failed authentications from this address. Retry after ${retryAfterSeconds} s.`, {
    headers: { 'Retry-After': String(retryAfterSeconds) },
    extensions: { retryAfterSeconds },
  });
const COMPONENT_INVALID = () =>
  new ApiError('component_invalid', "The key's component is not the customer's current one (nor a previous one still in its grace period).", {
    headers: { 'WWW-Authenticate': challenge(true) },
  });
const COMPONENT_REQUIRED = () =>
  new ApiError('component_required', 'This customer requires the key component: send the whole key, or the component in x-functions-key.', {
    headers: { 'WWW-Authenticate': challenge(true) },
  });

/** The header the SDK sends the component in (its name comes from the Functions host's key header). */
export const COMPONENT_HEADER = 'x-functions-key';

/** Where a request carries an API key, if it carries one: `X-API-Key`, or a Bearer token that looks like a compound key. */
export function apiKeyCredential(request: HttpRequest): string | undefined {
  const header = request.headers.get(API_KEY_HEADER);
  if (header !== null && header.trim() !== '') return header.trim();
  const bearer = bearerToken(request);
  return bearer?.startsWith(KEY_PREFIX) ? bearer : undefined;
}

/** The token of an `Authorization: Bearer` header; '' for a Bearer header without one. */
export function bearerToken(request: HttpRequest): string | undefined {
  const authorization = request.headers.get('authorization');
  if (authorization === null) return undefined;
  if (!/^Bearer\b/i.test(authorization.trim())) return undefined;
  const match = /^Bearer[ \t]+(\S+)$/i.exec(authorization.trim());
  return match ? match[1]! : '';
}

function readPresentedKey(request: HttpRequest): PresentedKey {
  const header = request.headers.get(API_KEY_HEADER);
  if (header !== null && header.trim() !== '') {
    const parsed = parsePresentedKey(header.trim(), true);
    if (!parsed.ok) throw MALFORMED();
    return parsed.value;
  }
  const bearer = bearerToken(request);
  if (bearer !== undefined) {
    const parsed = parsePresentedKey(bearer, false);
    if (!parsed.ok) throw MALFORMED();
    return parsed.value;
  }
  throw MISSING();
}

/**
 * Resolves the API key a request presents to the identity of an active key, or throws the
 * 401 that says why not. The one implementation of API-key authentication.
 *
 * 1. Read `X-API-Key` (the secret segment or the whole compound key), else
 *    `Authorization: Bearer <compound key>`; neither -> 401 `api_key_missing`.
 * 2. Parse with the strict grammar; unparseable -> 401 `api_key_malformed`, no storage call.
 * 3. Hash the secret and resolve it with one point read (or the bounded cache); unknown or
 *    inactive, or a compound key naming another customer -> 401 `api_key_invalid`.
 * 4. If a component is presented (the whole key, or `x-functions-key`), it must be the
 *    customer's current component or the previous one in its grace period, compared in
 *    constant time -> else 401 `component_invalid`. Without one, a customer that requires it
 *    answers 401 `component_required`.
 * Storage or Key Vault down -> DependencyUnavailableError (the error boundary answers 503).
 */
export async function authenticateApiKey(request: HttpRequest, services: ServiceContext): Promise<KeyIdentity> {
  const presented = readPresentedKey(request);
  const component = presentedComponent(request, presented);
  const secretHash = hashSecret(presented.secret);
  const address = clientAddress(request);
  // Cache hits are decided without awaiting anything; misses go to storage (and Key Vault),
  // unless this address has failed too often lately.
  let known = services.authenticator.cached(secretHash);
  if (known === undefined) {
    const wait = services.failedAuth.retryAfterSeconds(address);
    if (wait > 0) throw TOO_MANY_FAILURES(wait);
    known = await services.authenticator.authenticate(secretHash);
  }
  let identity: KeyIdentity;
  try {
    identity = checkSlug(known, presented);
  } catch (error) {
    services.failedAuth.recordFailure(address);
    throw error;
  }
  let verdict = services.tenantKeys.verifyCached(identity, component) ?? (await services.tenantKeys.verify(identity, component));
  if (verdict === 'mismatch' && services.tenantKeys.mayRefreshAfterMismatch(identity.customerSlug)) {
    // The cached state may predate a rotation: read the key once more, then decide.
    services.authenticator.evict(secretHash);
    identity = checkSlug(await services.authenticator.authenticate(secretHash), presented);
    verdict = await services.tenantKeys.verify(identity, component);
  }
  if (verdict === 'mismatch') throw COMPONENT_INVALID();
  if (verdict === 'required') throw COMPONENT_REQUIRED();
  return identity;
}

/** An active key, presented under its own customer's slug (if the presented key names one). */
function checkSlug(identity: KeyIdentity | null | undefined, presented: PresentedKey): KeyIdentity {
  if (!identity) throw INVALID();
  if (presented.form === 'compound' && presented.slug !== identity.customerSlug) throw INVALID();
  return identity;
}

/** The component a request presents: the whole key's middle segment, or `x-functions-key`. */
function presentedComponent(request: HttpRequest, presented: PresentedKey): string | undefined {
  const header = request.headers.get(COMPONENT_HEADER)?.trim() || undefined;
  if (presented.form === 'compound') {
    if (header !== undefined && header !== presented.component) throw COMPONENT_INVALID();
    return presented.component;
  }
  return header;
}

/** The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers) for a per-key token bucket. */
export function rateLimitHeaders(decision: Decision & { limits: KeyLimits }): Record<string, string> {
  const window = Math.max(1, Math.ceil(decision.limits.burst / decision.limits.rate));
  return {
    'RateLimit-Policy': `"per-key";q=${decision.limits.burst};w=${window}`,
    RateLimit: `"per-key";r=${decision.remaining};t=${decision.resetSeconds}`,
  };
}

export interface ApiKeyOptions {
  /** Key types this route accepts (all by default); another type is 403 `forbidden`. */
  keyTypes?: readonly KeyType[];
}

/**
 * The ApiKeyMiddleware: wraps a handler so it runs only for a valid API key of an allowed
 * type, within the key's rate limit, and hands it the resolved identity. Handlers behind it
 * never authenticate again. Every response of an authenticated request carries the IETF
 * `RateLimit-Policy` and `RateLimit` fields; over the limit it is 429 `rate_limited` with
 * `Retry-After`. Usage is counted here (in memory), accepted and rate-limited alike.
 */
export function withApiKey(options: ApiKeyOptions = {}) {
  const allowed = options.keyTypes ? new Set(options.keyTypes) : undefined;
  if (allowed && allowed.size === 0) throw new Error('withApiKey: at least one key type is needed');

  return (handler: ApiKeyHandler): AnonymousHandler =>
    async function apiKeyMiddleware(request: HttpRequest, ctx: RequestContext): Promise<HttpResponseInit> {
      const identity = await authenticateApiKey(request, ctx.services);
      if (allowed && !allowed.has(identity.keyType)) {
        throw new ApiError('forbidden', `A ${identity.keyType} key cannot call this route.`);
      }
      const decision = ctx.services.rateLimiter.decide(identity);
      ctx.services.usageRecorder.record(identity, decision.allowed ? 'accepted' : 'rateLimited');
      // On the response whatever it turns out to be, errors included.
      Object.assign(ctx.responseHeaders, rateLimitHeaders(decision));
      if (!decision.allowed) {
        throw new ApiError('rate_limited', `This key may send ${decision.limits.rate} requests per second (bursts of ${decision.limits.burst}). Retry after ${decision.retryAfterSeconds} s.`, {
          headers: { 'Retry-After': String(decision.retryAfterSeconds) },
          extensions: { retryAfterSeconds: decision.retryAfterSeconds },
        });
      }
      return handler(request, { ...ctx, identity });
    };
}
