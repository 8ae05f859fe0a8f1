import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { AnonymousHandler } from '../app/function-contract';
import { ApiError, DependencyUnavailableError, dependencyUnavailable } from '../shared/errors';
import { baseHeaders, problem } from '../shared/http/responses';
import { describeError, invocationLogger, type Logger } from '../shared/logging';
import { OtlpDecodeError } from '../shared/otlp/trace-request';
import type { ServiceContext } from '../app/context';

/** Hands out the process's services (built once per cold start). */
export type ServiceProvider = () => ServiceContext | Promise<ServiceContext>;

/**
 * The outermost middleware of every HTTP function: it gives the request an id, a logger and
 * the services, and is the one place where errors become HTTP. Three tiers:
 * 1. an {@link ApiError} answers with its catalogue code;
 * 2. a known error of ours or a library's maps to its code (an outage to 503, undecodable
 *    input to 400);
 * 3. anything else is logged with the request id and answered with a generic 500 that
 *    carries no message and no stack.
 */
export function withErrorBoundary(getServices: ServiceProvider, route?: string) {
  return (handler: AnonymousHandler): HttpHandler =>
    async function errorBoundary(request: HttpRequest, invocation: InvocationContext): Promise<HttpResponseInit> {
      const requestId = invocation.invocationId;
      const log = invocationLogger(invocation);
      const responseHeaders = baseHeaders(requestId);
      let services: ServiceContext;
      try {
        services = await getServices();
      } catch (error) {
        return withHeaders(errorResponse(error, requestId, log), responseHeaders);
      }
      // The request's span: its route (the template, never the path's values), its status, its id.
      const response = await services.tracing.request(services.tracing.requestSpan(request.method, route), requestId, async () => {
        try {
          return await handler(request, { services, invocation, requestId, log, responseHeaders });
        } catch (error) {
          return errorResponse(error, requestId, log);
        }
      });
      return withHeaders(response, responseHeaders);
    };
}

/** Maps any thrown value to a problem response (tiers 1 to 3 above). */
export function errorResponse(error: unknown, requestId: string, log: Logger): HttpResponseInit {
  const known = asApiError(error);
  if (known) {
    if (known.status >= 500) log.warn('request failed', { requestId, code: known.code, ...describeError(known.cause ?? error) });
    return problem(known, requestId);
  }
  log.error('unhandled error', { requestId, ...describeError(error) });
  return problem(new ApiError('internal_error', 'An unexpected error occurred. Quote the request id if you contact support.'), requestId);
}

/** Our error for anything the boundary knows how to answer (tiers 1 and 2), else `undefined`. */
export function asApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (error instanceof DependencyUnavailableError) return dependencyUnavailable(error.dependency, error, error.throttled);
  if (error instanceof OtlpDecodeError) return new ApiError('invalid_body', error.message);
  return undefined;
}

/** Adds headers the response does not set itself (names compared without case). */
export function withHeaders(response: HttpResponseInit, extra: Record<string, string>): HttpResponseInit {
  const own = response.headers;
  const headers: Record<string, string> = {};
  if (own instanceof Headers || Array.isArray(own)) {
    new Headers(own).forEach((value, name) => (headers[name] = value));
  } else if (own) {
    for (const name in own) headers[name.toLowerCase()] = String(own[name]);
  }
  for (const name in extra) {
    const lower = name.toLowerCase();
    if (!(lower in headers)) headers[lower] = extra[name]!;
  }
  return { ...response, headers };
}
