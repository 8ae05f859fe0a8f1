import type { HttpHandler, HttpRequest, InvocationContext, Timer } from '@azure/functions';
import { withErrorBoundary, type ServiceProvider } from '../middleware/error-boundary';
import { ApiError } from '../shared/errors';
import { queryObject, readJsonBody } from '../shared/http/body';
import { describeError, invocationLogger } from '../shared/logging';
import { parseInput } from '../shared/validation';
import type { ZodType } from 'zod';
import type {
  AnonymousHandler,
  BodyByParam,
  HandlerContext,
  HttpFunctionDefinition,
  QueueFunctionDefinition,
  RequestContext,
  RouteInput,
  TimerFunctionDefinition,
} from '../app/function-contract';
import { DOORS } from './doors';

/**
 * Turns a declared HTTP function into the handler the Functions host (or the local host)
 * calls: the error boundary outside, then the door its `auth` names, then its declared input
 * parsed (after the door, so no body is read for a caller the door refused), then the handler.
 */
export function bindHttpFunction(definition: HttpFunctionDefinition, getServices: ServiceProvider): HttpHandler {
  const handler = definition.handler as (request: HttpRequest, ctx: HandlerContext<RequestContext>) => ReturnType<AnonymousHandler>;
  // The handler is handed the use cases alone: storage, ports and the doors' machinery stay here.
  const withInput: AnonymousHandler = async (request, ctx) =>
    handler(request, { ...ctx, services: ctx.services.useCases, input: await readInput(definition, request) });
  return withErrorBoundary(getServices, definition.route)(DOORS[definition.auth].wrap(definition, withInput));
}

/** The route's declared input, parsed: params (404 when they name nothing), query and JSON body (400). */
export async function readInput(definition: HttpFunctionDefinition, request: HttpRequest): Promise<RouteInput> {
  const schemas = definition.input ?? {};
  let params: unknown = { ...request.params };
  if (schemas.params) {
    const parsed = schemas.params.safeParse(request.params);
    if (!parsed.success) throw new ApiError('not_found', 'Nothing here has that name.');
    params = parsed.data;
  }
  const query: unknown = schemas.query ? parseInput(schemas.query, queryObject(request), 'query') : {};
  let body: unknown;
  if (schemas.body && request.method !== 'GET' && request.method !== 'HEAD') {
    let schema: ZodType | BodyByParam<unknown> = schemas.body;
    if ('by' in schema) {
      const value = String((params as Record<string, unknown>)[schema.by]);
      const chosen = Object.prototype.hasOwnProperty.call(schema.schemas, value) ? schema.schemas[value] : undefined;
      // A value with no body schema names no action: like any path parameter naming nothing, 404.
      if (!chosen) throw new ApiError('not_found', 'Nothing here has that name.');
      schema = chosen;
    }
    // No body at all reads as `{}` (so a body of optional fields may be left out); `null` is a value.
    const sent = await readJsonBody(request);
    body = parseInput(schema, sent === undefined ? {} : sent, 'body');
  }
  return { params, query, body };
}

/**
 * Turns a declared queue function into its host handler (the queue trigger's, or the local
 * poller's); failures are logged and rethrown, so the message is not deleted and comes back.
 */
export function bindQueueFunction(definition: QueueFunctionDefinition, getServices: ServiceProvider) {
  return async function queueHandler(message: unknown, invocation: InvocationContext): Promise<void> {
    const log = invocationLogger(invocation);
    try {
      await definition.handler(message, { services: (await getServices()).useCases, invocation, log });
    } catch (error) {
      log.error('queue function failed', { function: definition.name, ...describeError(error) });
      throw error;
    }
  };
}

/** Turns a declared timer function into its host handler; failures are logged and rethrown. */
export function bindTimerFunction(definition: TimerFunctionDefinition, getServices: ServiceProvider) {
  return async function timerHandler(timer: Timer, invocation: InvocationContext): Promise<void> {
    const log = invocationLogger(invocation);
    try {
      await definition.handler(timer, { services: (await getServices()).useCases, invocation, log });
    } catch (error) {
      log.error('timer function failed', { function: definition.name, ...describeError(error) });
      throw error;
    }
  };
}
