import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { AnonymousHandler, RequestContext } from '../app/function-contract';
import { ApiError } from '../shared/errors';

/**
 * The door of local-only routes (the local sign-in): they exist only in local mode with the
 * local signing secret; everywhere else they answer exactly like a route that is not there. A
 * request with a body must send it as JSON, so a form on another origin cannot use them.
 */
export function withLocalMode() {
  return (handler: AnonymousHandler): AnonymousHandler =>
    async function localModeMiddleware(request: HttpRequest, ctx: RequestContext): Promise<HttpResponseInit> {
      if (!ctx.services.useCases.config.portal.sharedSecret || ctx.services.useCases.config.runtime !== 'local') {
        throw new ApiError('not_found', 'No such route.');
      }
      const withBody = request.method !== 'GET' && request.method !== 'HEAD';
      if (withBody && (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase() !== 'application/json') {
        throw new ApiError('unsupported_media_type', 'Send this as application/json.');
      }
      return handler(request, ctx);
    };
}
