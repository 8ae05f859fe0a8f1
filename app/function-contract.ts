import type { HttpMethod, HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';
import type { ZodType } from 'zod';
import type { PortalUser } from '../shared/auth/portal-tokens';
import type { Actor, CredentialType, KeyIdentity } from '../shared/domain';
import type { ErrorCode } from '../shared/errors';
import type { FormParameters, OAuthErrorCode } from '../shared/oauth/token-request';
import type { Logger } from '../shared/logging';
import type { QueueName } from '../shared/adapters/queue/queue-names';
import type { ServiceContext, UseCases } from './context';

/**
 * What a request carries through the doors: the whole service context (a door needs its
 * authenticator, limiter and usage counter). A handler gets the use cases only: {@link HandlerContext}.
 */
export interface RequestContext {
  services: ServiceContext;
  invocation: InvocationContext;
  requestId: string;
  log: Logger;
  /**
   * Headers a middleware wants on the response, whatever it turns out to be (success or
   * problem): the error boundary adds them once, after the handler.
   */
  responseHeaders: Record<string, string>;
}

/** What handlers behind the ApiKeyMiddleware receive: the caller is already known. */
export interface ApiKeyContext extends RequestContext {
  identity: KeyIdentity;
}

/**
 * What customer routes receive: the tenant whose keys they act on (the token's customer, the
 * management key's customer, or the shared sandbox in sandbox mode) and who is acting.
 */
export interface CustomerContext extends RequestContext {
  tenant: string;
  actor: Actor;
  /** True when the portal asked for the shared sandbox tenant (reads only). */
  sandbox: boolean;
  principal: { kind: 'user'; user: PortalUser } | { kind: 'key'; identity: KeyIdentity };
}

/** What staff routes receive: the signed-in staff user. */
export interface StaffContext extends RequestContext {
  user: PortalUser;
  actor: Actor;
}

/**
 * What the secret-scanning route receives: a report whose signature checked out, as the raw
 * bytes that were signed (the door read them, within its bound).
 */
export interface SignedReportContext extends RequestContext {
  report: { body: Uint8Array; keyId: string };
}

/**
 * What the token endpoint receives: a request its door admitted (within the exchange's limits),
 * and the parameters of its form body, read within the bound.
 */
export interface TokenExchangeContext extends RequestContext {
  form: FormParameters;
}

export type AnonymousHandler = (request: HttpRequest, ctx: RequestContext) => Promise<HttpResponseInit>;
export type ApiKeyHandler = (request: HttpRequest, ctx: ApiKeyContext) => Promise<HttpResponseInit>;
export type CustomerHandler = (request: HttpRequest, ctx: CustomerContext) => Promise<HttpResponseInit>;
export type StaffHandler = (request: HttpRequest, ctx: StaffContext) => Promise<HttpResponseInit>;
export type SignedReportHandler = (request: HttpRequest, ctx: SignedReportContext) => Promise<HttpResponseInit>;
export type TokenExchangeHandler = (request: HttpRequest, ctx: TokenExchangeContext) => Promise<HttpResponseInit>;
/** A handler behind any door, before its input is parsed. */
export type DoorHandler = AnonymousHandler | ApiKeyHandler | CustomerHandler | StaffHandler | SignedReportHandler | TokenExchangeHandler;

/**
 * What a route takes, declared once: the binding parses `params`, `query` and `body` with these
 * schemas after the door and before the handler (a path that names nothing is 404, a bad query or
 * body 400 `validation_failed`), hands the handler the typed result as `ctx.input`, and the
 * OpenAPI document describes the very same schemas.
 */
export interface RouteInputSchemas<P, Q, B> {
  params?: ZodType<P>;
  query?: ZodType<Q>;
  /**
   * A JSON body (read after the door, within the JSON bound), or one schema per value of a path
   * parameter (`by`), documented as one of them. Routes with other bodies read their own.
   */
  body?: ZodType<B> | BodyByParam<B>;
}

/** A body whose schema a path parameter chooses (a value with none names nothing: 404). */
export interface BodyByParam<B> {
  by: string;
  schemas: Record<string, ZodType<B>>;
}

/** The parsed input a handler receives. */
export interface RouteInput<P = unknown, Q = unknown, B = unknown> {
  params: P;
  query: Q;
  body: B;
}

/**
 * An OpenAPI link: which other operation a response's values can call next, and how its
 * parameters are taken from the response (`$response.body#/id`). Clients and fuzzers follow them.
 */
export interface RouteLink {
  /** The `name` of the function that the link leads to (its operationId). */
  operation: string;
  parameters: Record<string, string>;
  description?: string;
}

/** How a route's answers are described in the OpenAPI document, besides its input. */
export interface RouteDocs {
  /** Successful responses by status. */
  responses: Record<
    number,
    {
      description: string;
      schema?: ZodType;
      contentType?: string;
      /** Further media types of the same answer, as OpenAPI Media Type Objects (say, protobuf). */
      alsoAs?: Record<string, Record<string, unknown>>;
      links?: Record<string, RouteLink>;
    }
  >;
  /**
   * The request body of a route that reads its own (not a JSON object `input.body` parses), as
   * an OpenAPI Request Body Object: for example the OTLP payloads of `/v1/traces`.
   */
  requestBody?: Record<string, unknown>;
  /** The catalogue codes this route's handler can answer with; its door's and its input's are added. */
  errors?: ErrorCode[];
  /**
   * The RFC 6749 §5.2 errors (400, `{ error, error_description }` as JSON, not problem+json) of an
   * OAuth endpoint: its 400 response documents them (the token endpoint alone answers them).
   */
  oauthErrors?: readonly OAuthErrorCode[];
  tags?: string[];
}

interface HttpFunctionBase<P, Q, B> {
  kind: 'http';
  /** Function name as the Functions host shows it. */
  name: string;
  /** Route without a leading slash (host.json sets `routePrefix` to ""), e.g. `v1/whoami`. */
  route: string;
  methods: HttpMethod[];
  summary: string;
  input?: RouteInputSchemas<P, Q, B>;
  docs?: RouteDocs;
}

/**
 * What a handler receives: what its door established (the caller, the tenant, the actor), the
 * use cases in place of the whole service context, and its parsed input.
 */
export type HandlerContext<C extends RequestContext, P = unknown, Q = unknown, B = unknown> = Omit<C, 'services'> & {
  services: UseCases;
  input: RouteInput<P, Q, B>;
};
type Handler<C extends RequestContext, P, Q, B> = (request: HttpRequest, ctx: HandlerContext<C, P, Q, B>) => Promise<HttpResponseInit>;

/**
 * One HTTP function, declared as data. `auth` names the door it sits behind (functions/doors.ts);
 * the binding (functions/bind.ts) applies that door and parses the declared input, so a handler
 * can forget neither.
 */
// `any` by default so that the registry can list routes of every input type together: a handler
// of typed input is not assignable to one of `unknown` input (parameters are contravariant).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type HttpFunctionDefinition<P = any, Q = any, B = any> =
  | (HttpFunctionBase<P, Q, B> & { auth: 'anonymous'; handler: Handler<RequestContext, P, Q, B> })
  | (HttpFunctionBase<P, Q, B> & { auth: 'local'; handler: Handler<RequestContext, P, Q, B> })
  | (HttpFunctionBase<P, Q, B> & { auth: 'apiKey'; keyTypes?: readonly CredentialType[]; handler: Handler<ApiKeyContext, P, Q, B> })
  | (HttpFunctionBase<P, Q, B> & { auth: 'customer'; handler: Handler<CustomerContext, P, Q, B> })
  | (HttpFunctionBase<P, Q, B> & { auth: 'staff'; handler: Handler<StaffContext, P, Q, B> })
  | (HttpFunctionBase<P, Q, B> & { auth: 'githubSignature'; handler: Handler<SignedReportContext, P, Q, B> })
  | (HttpFunctionBase<P, Q, B> & { auth: 'tokenExchange'; handler: Handler<TokenExchangeContext, P, Q, B> });

/** The doors a route can sit behind. */
export type DoorName = HttpFunctionDefinition['auth'];

/**
 * Declares an HTTP function, inferring its input types from its schemas: `ctx.input.params`,
 * `.query` and `.body` are typed by what `input` declares.
 */
export function httpFunction<P = Record<string, never>, Q = Record<string, never>, B = undefined>(
  definition: HttpFunctionDefinition<P, Q, B>,
): HttpFunctionDefinition {
  return definition as HttpFunctionDefinition;
}

/** Credentials that may call ingest routes: ingest keys and federated access tokens (management keys manage, they do not ingest). */
export const INGEST_KEY_TYPES: readonly CredentialType[] = ['primary', 'secondary', 'federated'];

/** What a timer receives: the use cases (a timer calls service methods, never a port). */
export interface TimerContext {
  services: UseCases;
  invocation: InvocationContext;
  log: Logger;
}

export interface TimerFunctionDefinition {
  kind: 'timer';
  name: string;
  /** NCRONTAB with seconds: `{second} {minute} {hour} {day} {month} {day-of-week}`. */
  schedule: string;
  runOnStartup?: boolean;
  summary: string;
  handler: (timer: Timer, ctx: TimerContext) => Promise<void>;
}

/** What a queue-triggered function receives besides the message: the use cases, as a timer does. */
export type QueueContext = TimerContext;

/**
 * A function triggered by a queue of the service's (shared/adapters/queue/queue-names.ts): in Azure
 * the Functions host's queue trigger, locally the local host's poller. The message is deleted once
 * the handler returns; a handler that throws lets it come back (after its visibility timeout).
 */
export interface QueueFunctionDefinition {
  kind: 'queue';
  name: string;
  /** The queue it receives, by the service's name for it (the configured prefix is applied). */
  queue: QueueName;
  summary: string;
  /** `message`: the text the queue holds, or the object the queue trigger parsed from its JSON. */
  handler: (message: unknown, ctx: QueueContext) => Promise<void>;
}

export type FunctionDefinition = HttpFunctionDefinition | TimerFunctionDefinition | QueueFunctionDefinition;
