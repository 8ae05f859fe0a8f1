import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { AnonymousHandler, ApiKeyHandler, RequestContext } from '../app/function-contract';
import type { CredentialType } from '../shared/domain';
import { ApiError } from '../shared/errors';
import { authenticateApiKey } from './credentials';
import { meterKeyRequest } from './rate-limit';

export interface ApiKeyOptions {
  /** Key types (and `federated`, for access tokens) this route accepts (all by default); another type is 403 `forbidden`. */
  keyTypes?: readonly CredentialType[];
}

/**
 * The ApiKeyMiddleware: wraps a handler so it runs only for a valid API key of an allowed
 * type, within the key's rate limit, and hands it the resolved identity. Handlers behind it
 * never authenticate again. Every response of an authenticated request carries the IETF
 * `RateLimit-Policy` and `RateLimit` fields; over the limit it is 429 `rate_limited` with
 * `Retry-After`. Usage is counted (in memory), accepted and rate-limited alike.
 */
export function withApiKey(options: ApiKeyOptions = {}) {
  const allowed = options.keyTypes ? new Set(options.keyTypes) : undefined;
  if (allowed && allowed.size === 0) throw new Error('withApiKey: at least one key type is needed');

  return (handler: ApiKeyHandler): AnonymousHandler =>
    async function apiKeyMiddleware(request: HttpRequest, ctx: RequestContext): Promise<HttpResponseInit> {
      const authenticated = authenticateApiKey(request, ctx);
      const identity = authenticated instanceof Promise ? await authenticated : authenticated;
      if (allowed && !allowed.has(identity.keyType)) {
        throw new ApiError(
          'forbidden',
          identity.keyType === 'federated'
            ? 'An access token cannot call this route.'
            : `A ${identity.keyType} key cannot call this route.`,
        );
      }
      meterKeyRequest(identity, ctx);
      return handler(request, { ...ctx, identity });
    };
}
