import type { IncomingMessage, ServerResponse } from 'node:http';
import { functionDefinitions } from '../../functions/registry';
import type { FunctionDefinition } from '../../app/function-contract';
import { startLocalHost, type LocalHost } from '../../local/host';
import type { ManualClock } from '../../shared/clock';
import type { ServiceContext } from '../../app/context';

export interface ServeAppOptions {
  definitions?: readonly FunctionDefinition[];
  /**
   * Run the timer functions on their schedules (default true, as `npm start` does). They run on
   * wall-clock minutes (key expiry at second 0, revocation completion at second 30, three of
   * them at start), whatever clock the services have: a test that counts storage operations,
   * or moves its clock past an expiry and expects no timer to have acted, turns them off.
   */
  timers?: boolean;
  /** Receive the service's queues for their functions (webhook deliveries); default: as `timers`. */
  queues?: boolean;
}

/** The app's functions served in-process on a free port, against the given services. */
export async function serveApp(
  services: ServiceContext,
  options: ServeAppOptions = {},
): Promise<LocalHost & { fetch: (path: string, init?: RequestInit) => Promise<Response> }> {
  const host = await startLocalHost({
    definitions: options.definitions ?? functionDefinitions,
    getServices: () => services,
    port: 0,
    timers: options.timers ?? true,
    queues: options.queues ?? options.timers ?? true,
    log: (level, fn, message) => console.log(`[${level}] ${fn}: ${message}`),
  });
  return { ...host, fetch: (path, init) => fetch(`${host.url}${path}`, init) };
}

/**
 * The statuses `app` answers on `path`, in order, as they are sent. Each 429 also moves `clock` on
 * by `retryAfterMs` (what the key's Retry-After says): the time a client that waits as told lets
 * pass before it retries. The rate limiter of services on a clock that otherwise stands still
 * then sees that time pass, and exactly that, whatever the machine's speed.
 */
export function answersMovingClockOn429(app: LocalHost, path: string, clock: ManualClock, retryAfterMs: number): number[] {
  const statuses: number[] = [];
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (new URL(req.url ?? '/', 'http://local').pathname !== path) return;
    res.once('finish', () => {
      statuses.push(res.statusCode);
      if (res.statusCode === 429) clock.advance(retryAfterMs);
    });
  });
  return statuses;
}

/** Reads a problem+json body and checks its shape. */
export async function problemOf(
  response: Response,
): Promise<{ code: string; status: number; detail: string; requestId: string; title: string; type: string }> {
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const body = (await response.json()) as { code: string; status: number; detail: string; requestId: string; title: string; type: string };
  expect(body.status).toBe(response.status);
  expect(body.requestId).toBe(response.headers.get('x-request-id'));
  expect(typeof body.title).toBe('string');
  expect(body.type).toBe(`urn:veriproof:problem:${body.code}`);
  return body;
}

/** What a test sends with {@link caller}: a portal token or an API key, a body (a string as is, else JSON), headers. */
export interface Call {
  token?: string;
  key?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** An answer's JSON body, read freely by tests (a shape mismatch fails their assertions). */
export type AnswerBody = Record<string, any>;

/** Calls a served app as a client would: `Authorization: Bearer` for a token, `X-API-Key` for a key, JSON bodies. */
export function caller(app: { fetch: (path: string, init?: RequestInit) => Promise<Response> }) {
  return async function call(method: string, path: string, options: Call = {}) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.key) headers['x-api-key'] = options.key;
    if (options.body !== undefined) headers['content-type'] ??= 'application/json';
    const response = await app.fetch(path, {
      method,
      headers,
      ...(options.body !== undefined ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) } : {}),
    });
    const text = await response.text();
    const body = text ? (JSON.parse(text) as AnswerBody) : undefined;
    return { status: response.status, headers: response.headers, body, text };
  };
}
