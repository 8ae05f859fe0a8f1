import { HttpRequest, HttpResponse, InvocationContext, type HttpResponseInit, type LogLevel } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bindHttpFunction, bindQueueFunction, bindTimerFunction } from '../functions/bind';
import type {
  FunctionDefinition,
  HttpFunctionDefinition,
  QueueFunctionDefinition,
  TimerFunctionDefinition,
} from '../app/function-contract';
import type { ServiceProvider } from '../middleware/error-boundary';
import { ApiError } from '../shared/errors';
import { baseHeaders, problem } from '../shared/http/responses';
import { redact } from '../shared/logging';
import { serveDiagnostics } from './diagnostics';
import { Router } from './router';
import { QueuePoller } from './queues';
import { TimerScheduler } from './timers';

/** Largest body of the local-only diagnostics routes (function bodies are read by their handlers). */
const DIAGNOSTICS_MAX_BODY_BYTES = 8 * 1024 * 1024;
/** Time for a whole request (headers and body) to arrive; a stalled client is cut off. */
const REQUEST_TIMEOUT_MS = 60_000;
const HEADERS_TIMEOUT_MS = 15_000;
/** Largest header section accepted, as on Azure's front ends. */
export const LOCAL_MAX_HEADER_BYTES = 16 * 1024;

export type LogSink = (level: LogLevel, functionName: string, message: string) => void;

const consoleSink: LogSink = (level, functionName, message) => {
  const line = `[${new Date().toISOString()}] ${functionName}: ${message}`;
  if (level === 'error' || level === 'critical') console.error(line);
  else if (level === 'warning') console.warn(line);
  else console.log(line);
};

export interface LocalHostOptions {
  definitions: readonly FunctionDefinition[];
  getServices: ServiceProvider;
  port: number;
  hostname?: string;
  log?: LogSink;
  /** Run timer functions on their schedules (default true). */
  timers?: boolean;
  /** Receive the service's queues for their functions (default: as `timers`). */
  queues?: boolean;
  /** Serve the local-only `/_local/...` routes of the benchmark and resilience suite. */
  diagnostics?: boolean;
}

export interface LocalHost {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/**
 * Serves the app's declared functions over plain Node HTTP, the way the Functions host would:
 * each Node request becomes a real `HttpRequest` and `InvocationContext`, the bound handler
 * (error boundary, auth, handler) runs, and its `HttpResponseInit` is written back. Timer
 * functions run on their NCRONTAB schedules.
 */
export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const log = options.log ?? consoleSink;
  const http = options.definitions.filter((d): d is HttpFunctionDefinition => d.kind === 'http');
  const timers = options.definitions.filter((d): d is TimerFunctionDefinition => d.kind === 'timer');
  const router = new Router(http);
  const handlers = new Map(http.map((d) => [d.name, bindHttpFunction(d, options.getServices)]));
  const timerHandlers = new Map(timers.map((d) => [d.name, bindTimerFunction(d, options.getServices)]));

  const queueFunctions = options.definitions.filter((d): d is QueueFunctionDefinition => d.kind === 'queue');
  const queueHandlers = new Map(queueFunctions.map((d) => [d.name, bindQueueFunction(d, options.getServices)]));
  const poller = new QueuePoller(
    queueFunctions,
    async (definition) => (await options.getServices()).queues[definition.queue],
    async (definition, message) => {
      const invocation = new InvocationContext({
        invocationId: randomUUID(),
        functionName: definition.name,
        logHandler: (level, ...args) => log(level, definition.name, args.map(String).join(' ')),
        options: { trigger: { type: 'queueTrigger', name: 'message', queueName: definition.queue, connection: 'AzureWebJobsStorage' } },
        triggerMetadata: { id: message.id, dequeueCount: message.dequeueCount },
      });
      await queueHandlers.get(definition.name)!(message.body, invocation);
    },
    (message) => log('warning', 'host', message),
  );

  const scheduler = new TimerScheduler(timers, async (definition, timer) => {
    const invocation = new InvocationContext({
      invocationId: randomUUID(),
      functionName: definition.name,
      logHandler: (level, ...args) => log(level, definition.name, args.map(String).join(' ')),
      options: { trigger: { type: 'timerTrigger', name: 'timer', schedule: definition.schedule } },
    });
    await timerHandlers.get(definition.name)!(timer, invocation);
  });

  // Routing never depends on Host, so a request without one is answered like any other.
  const server = createServer({ maxHeaderSize: LOCAL_MAX_HEADER_BYTES, requireHostHeader: false }, (req, res) => {
    void serve(req, res).catch((error: unknown) => {
      log('error', 'host', `request failed in the local host: ${redact(String(error))}`);
      if (!res.headersSent) writeResponse(res, hostProblem(new ApiError('internal_error'), randomUUID()));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  // Requests Node's parser refuses (bad header bytes, oversized header sections) get a problem
  // document too, as every other error does; Azure's front end answers these in production.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const requestId = randomUUID();
    const init = hostProblem(
      tooLarge
        ? new ApiError('header_too_large', `The header section may be at most ${LOCAL_MAX_HEADER_BYTES} bytes.`)
        : new ApiError('bad_request', 'The request could not be parsed as HTTP.'),
      requestId,
    );
    const body = JSON.stringify(init.jsonBody);
    const headers = Object.entries({
      ...(init.headers as Record<string, string>),
      'content-length': String(Buffer.byteLength(body)),
      connection: 'close',
    })
      .map(([n, v]) => `${n}: ${v}`)
      .join('\r\n');
    socket.end(`HTTP/1.1 ${init.status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n${headers}\r\n\r\n${body}`);
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const invocationId = randomUUID();
    const url = requestUrl(req);
    // A developer's host answers to loopback names only: a page whose DNS name was rebound to
    // 127.0.0.1 sends its own name in Host, and gets nothing from here.
    if (!loopbackHost(req.headers.host)) {
      req.resume();
      return writeResponse(
        res,
        hostProblem(new ApiError('misdirected_request', 'This local host answers only to localhost, 127.0.0.1 and [::1].'), invocationId),
        true,
      );
    }
    if (options.diagnostics && url.pathname.startsWith('/_local/')) {
      const body = await readBody(req, DIAGNOSTICS_MAX_BODY_BYTES);
      if (body !== 'too_large' && (await serveDiagnostics(url.pathname, req.method ?? 'GET', body, req, res, options.getServices))) return;
    }
    const match = router.match(req.method ?? 'GET', url.pathname);
    if (match.kind === 'notFound') {
      req.resume();
      return writeResponse(res, hostProblem(new ApiError('not_found', 'No function serves this path.'), invocationId));
    }
    if (match.kind === 'methodNotAllowed') {
      req.resume();
      return writeResponse(
        res,
        hostProblem(
          new ApiError('method_not_allowed', `Use ${match.allow.join(', ')} on this path.`, { headers: { Allow: match.allow.join(', ') } }),
          invocationId,
        ),
      );
    }
    // The body is handed over as a stream, as the Functions host does with HTTP streams on: the
    // door runs on the headers alone, and only a handler reads the body, with its route's bound.
    let request: HttpRequest;
    try {
      const method = req.method ?? 'GET';
      const withBody = method !== 'GET' && method !== 'HEAD';
      if (!withBody) req.resume();
      const native = new Request(url.toString(), {
        method,
        headers: forwardedHeaders(req),
        ...(withBody ? { body: req, duplex: 'half' } : {}),
      });
      request = new HttpRequest({ nativeRequest: native, params: match.params } as ConstructorParameters<typeof HttpRequest>[0]);
    } catch {
      req.resume();
      return writeResponse(res, hostProblem(new ApiError('invalid_body', 'The request could not be read.'), invocationId));
    }
    const definition = match.definition;
    const invocation = new InvocationContext({
      invocationId,
      functionName: definition.name,
      logHandler: (level, ...args) => log(level, definition.name, args.map(String).join(' ')),
      options: {
        trigger: { type: 'httpTrigger', name: 'request', route: definition.route, methods: definition.methods, authLevel: 'anonymous' },
      },
    });
    const result = await handlers.get(definition.name)!(request, invocation);
    // A body nobody read (the door refused the request, or the route takes none) is not read
    // now either: the connection closes after the answer, so an unauthenticated upload costs
    // at most what sits in the socket's buffers.
    const unread = !req.complete;
    await writeHandlerResponse(res, result, unread);
    if (unread) res.once('finish', () => req.destroy());
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.hostname ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  if (options.timers !== false) scheduler.start();
  if ((options.queues ?? options.timers) !== false) poller.start();
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://localhost:${port}`,
    port,
    server,
    async close() {
      await scheduler.stop();
      await poller.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}

/** Whether a Host header names this machine's loopback (any port); a request without one passes. */
export function loopbackHost(host: string | undefined): boolean {
  if (host === undefined || host === '') return true;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost') || name === '[::1]' || /^127(\.\d{1,3}){3}$/.test(name);
}

function requestUrl(req: IncomingMessage): URL {
  const path = req.url ?? '/';
  try {
    return new URL(path, `http://${req.headers.host ?? 'localhost'}`);
  } catch {
    try {
      return new URL(path, 'http://localhost');
    } catch {
      return new URL('http://localhost/');
    }
  }
}

/**
 * The headers a function sees behind a front end: the request's own, with the client's address
 * appended to `X-Forwarded-For` as Azure's front ends append it (shared/http/client-address.ts).
 */
function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  const headers = collectHeaders(req);
  const address = req.socket.remoteAddress;
  if (address) headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${address}` : address;
  return headers;
}

/** Every header, duplicates joined with ", " (Node keeps only the first of some, such as Authorization). */
function collectHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (values) headers[name] = values.join(', ');
  }
  return headers;
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | 'too_large'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return Promise.resolve('too_large');
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) over = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? 'too_large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function hostProblem(error: ApiError, requestId: string): HttpResponseInit {
  const response = problem(error, requestId);
  return { ...response, headers: { ...baseHeaders(requestId), ...(response.headers as Record<string, string>) } };
}

async function writeHandlerResponse(res: ServerResponse, result: HttpResponseInit | HttpResponse, close: boolean): Promise<void> {
  const direct = result instanceof HttpResponse ? undefined : plainResponse(result);
  if (direct) return writeBody(res, direct.status, close ? { ...direct.headers, connection: 'close' } : direct.headers, direct.body);
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  if (close) headers.connection = 'close';
  writeBody(res, response.status, headers, body);
}

/**
 * An `HttpResponseInit` with a JSON, text or byte body and plain headers, as every function of
 * this app returns, written as the Functions host would write it but without building a fetch
 * `Response` to read it back. Anything else (streams, cookies, `HttpResponse` objects) takes
 * the general path.
 */
function plainResponse(init: HttpResponseInit): { status: number; headers: Record<string, string>; body: Buffer } | undefined {
  if (init.cookies?.length || (init.headers && (init.headers instanceof Headers || Array.isArray(init.headers)))) return undefined;
  const headers: Record<string, string> = {};
  const own = init.headers as Record<string, unknown> | undefined;
  for (const name in own) headers[name.toLowerCase()] = String(own[name]);
  let body: Buffer;
  if (init.jsonBody !== undefined) {
    body = Buffer.from(JSON.stringify(init.jsonBody));
    headers['content-type'] ??= 'application/json';
  } else if (init.body === undefined || init.body === null) {
    body = Buffer.alloc(0);
  } else if (typeof init.body === 'string') {
    body = Buffer.from(init.body);
    headers['content-type'] ??= 'text/plain;charset=UTF-8';
  } else if (init.body instanceof Uint8Array) {
    body = Buffer.from(init.body.buffer, init.body.byteOffset, init.body.byteLength);
  } else {
    return undefined;
  }
  return { status: init.status ?? 200, headers, body };
}

/** Writes a response; `headers` is the caller's own object (the content length is added to it). */
function writeBody(res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer): void {
  if (status === 204 || status === 304) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  headers['content-length'] = String(body.length);
  res.writeHead(status, headers);
  res.end(body);
}

function writeResponse(res: ServerResponse, init: HttpResponseInit, close = false): void {
  const body = Buffer.from(JSON.stringify(init.jsonBody ?? {}));
  res.writeHead(init.status ?? 200, {
    ...(init.headers as Record<string, string>),
    'content-length': String(body.length),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(body);
}
