import type { HttpMethod, HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';
import type { ZodType } from 'zod';
import type { PortalUser } from '../shared/auth/portal-tokens';
import type { Actor, KeyIdentity, KeyType } from '../shared/domain';
import type { ErrorCode } from '../shared/errors';
import type { Logger } from '../shared/logging';
import type { ServiceContext } from '../shared/services/context';

/** What every handler receives besides the request. */
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

export type AnonymousHandler = (request: HttpRequest, ctx: RequestContext) => Promise<HttpResponseInit>;
export type ApiKeyHandler = (request: HttpRequest, ctx: ApiKeyContext) => Promise<HttpResponseInit>;
export type CustomerHandler = (request: HttpRequest, ctx: CustomerContext) => Promise<HttpResponseInit>;
export type StaffHandler = (request: HttpRequest, ctx: StaffContext) => Promise<HttpResponseInit>;

/** How a route is described in the OpenAPI document: the same zod schemas the handler parses with. */
export interface RouteDocs {
  params?: ZodType;
  query?: ZodType;
  body?: ZodType;
  /** Successful responses by status. */
  responses: Record<number, { description: string; schema?: ZodType; contentType?: string }>;
  /** The catalogue codes this route can answer with, besides its door's. */
  errors?: ErrorCode[];
  tags?: string[];
}

interface HttpFunctionBase {
  kind: 'http';
  /** Function name as the Functions host shows it. */
  name: string;
  /** Route without a leading slash (host.json sets `routePrefix` to ""), e.g. `v1/whoami`. */
  route: string;
  methods: HttpMethod[];
  summary: string;
  docs?: RouteDocs;
}

/**
 * One HTTP function, declared as data. `auth` says which door it sits behind; the binding
 * (functions/bind.ts) applies that door, so a handler cannot forget it.
 */
export type HttpFunctionDefinition =
  | (HttpFunctionBase & { auth: 'anonymous'; handler: AnonymousHandler })
  | (HttpFunctionBase & { auth: 'apiKey'; keyTypes?: readonly KeyType[]; handler: ApiKeyHandler })
  | (HttpFunctionBase & { auth: 'customer'; handler: CustomerHandler })
  | (HttpFunctionBase & { auth: 'staff'; handler: StaffHandler });

/** Key types that may call ingest routes; management keys manage, they do not ingest. */
export const INGEST_KEY_TYPES: readonly KeyType[] = ['primary', 'secondary'];

export interface TimerContext {
  services: ServiceContext;
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

export type FunctionDefinition = HttpFunctionDefinition | TimerFunctionDefinition;
