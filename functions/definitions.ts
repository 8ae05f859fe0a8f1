import type { HttpMethod, HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';
import type { KeyIdentity } from '../shared/domain';
import type { Logger } from '../shared/logging';
import type { ServiceContext } from '../shared/services/context';

/** What every handler receives besides the request. */
export interface RequestContext {
  services: ServiceContext;
  invocation: InvocationContext;
  requestId: string;
  log: Logger;
}

/** What handlers behind the ApiKeyMiddleware receive: the caller is already known. */
export interface ApiKeyContext extends RequestContext {
  identity: KeyIdentity;
}

export type AnonymousHandler = (request: HttpRequest, ctx: RequestContext) => Promise<HttpResponseInit>;
export type ApiKeyHandler = (request: HttpRequest, ctx: ApiKeyContext) => Promise<HttpResponseInit>;

interface HttpFunctionBase {
  kind: 'http';
  /** Function name as the Functions host shows it. */
  name: string;
  /** Route without a leading slash (host.json sets `routePrefix` to ""), e.g. `v1/whoami`. */
  route: string;
  methods: HttpMethod[];
  summary: string;
}

/**
 * One HTTP function, declared as data. `auth` says which door it sits behind; the binding
 * (functions/bind.ts) applies that door, so a handler cannot forget it.
 */
export type HttpFunctionDefinition =
  | (HttpFunctionBase & { auth: 'anonymous'; handler: AnonymousHandler })
  | (HttpFunctionBase & { auth: 'apiKey'; handler: ApiKeyHandler });

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
