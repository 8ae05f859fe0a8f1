import { functionDefinitions } from '../../functions/registry';
import type { FunctionDefinition } from '../../shared/function-contract';
import { startLocalHost, type LocalHost } from '../../local/host';
import type { ServiceContext } from '../../shared/services/context';

export interface ServeAppOptions {
  definitions?: readonly FunctionDefinition[];
  /**
   * Run the timer functions on their schedules (default true, as `npm start` does). They run on
   * wall-clock minutes (key expiry at second 0, revocation completion at second 30, three of
   * them at start), whatever clock the services have: a test that counts storage operations,
   * or moves its clock past an expiry and expects no timer to have acted, turns them off.
   */
  timers?: boolean;
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
    log: (level, fn, message) => console.log(`[${level}] ${fn}: ${message}`),
  });
  return { ...host, fetch: (path, init) => fetch(`${host.url}${path}`, init) };
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
