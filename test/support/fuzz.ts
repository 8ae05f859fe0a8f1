import fc from 'fast-check';
import { request } from 'node:http';
import { isErrorCode } from '../../shared/errors';
import type { HttpFunctionDefinition } from '../../app/function-contract';
import { encodeSpans, recordSpans } from './otel';

/** What a fuzz case may send as a credential (the fixtures of a real customer, or junk). */
export interface Credentials {
  ingestKey: string;
  managementKey: string;
  adminToken: string;
  staffToken: string;
  /** Correctly signed portal tokens with hostile headers. */
  craftedTokens: string[];
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends a request with Node's raw client: duplicate and odd headers go out as given. */
export function rawRequest(
  base: string,
  method: string,
  path: string,
  headers: Array<[string, string]>,
  body?: Buffer,
): Promise<RawResponse> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: url.pathname + url.search,
        // The URL's host unless the case sends its own Host.
        headers: [
          ...(headers.some(([name]) => name.toLowerCase() === 'host') ? [] : [['host', url.host]]),
          ...headers,
        ].flat() as unknown as Record<string, string>,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

const validProtobuf = encodeSpans(recordSpans((t) => t.startSpan('fuzz', { attributes: { 'session.id': 'fuzz' } }).end())).protobuf;

/** Header values Node's client will send: printable Latin-1, tabs, long runs, but no CR/LF. */
const headerValue = fc
  .oneof(
    fc.string({ maxLength: 64 }),
    fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 200 }),
    fc.integer({ min: 1, max: 8192 }).map((n) => 'x'.repeat(n)),
    fc.constantFrom('Bearer', 'Bearer ', 'Basic abc', 'vp_cust_', 'vp_cust_a.b.c', '\t', ''),
  )
  // Header values cannot carry control characters: the generator leaves them out (others test them).
  // eslint-disable-next-line no-control-regex
  .map((v) => v.replace(/[\r\n\u0000-\u0008\u000a-\u001f\u007f]/g, ''));

const body = fc.oneof(
  fc.constant(undefined),
  fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
  fc.jsonValue({ maxDepth: 6 }).map((v) => Buffer.from(JSON.stringify(v))),
  fc.nat(validProtobuf.length).map((n) => Buffer.from(validProtobuf.slice(0, n))), // truncated protobuf
  fc.integer({ min: 1, max: 5000 }).map((d) => Buffer.from(`${'['.repeat(d)}${']'.repeat(d)}`)), // deep JSON
  fc
    .record({
      label: fc.anything(),
      application: fc.anything(),
      keyId: fc.anything(),
      slug: fc.anything(),
      plan: fc.anything(),
      rateLimit: fc.anything(),
    })
    .map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  // A token exchange's form, its values anything (the token endpoint's parameters, repeated or not).
  fc
    .array(
      fc.tuple(
        fc.constantFrom(
          'grant_type',
          'subject_token',
          'subject_token_type',
          'audience',
          'resource',
          'actor_token',
          'requested_token_type',
          'scope',
        ),
        fc.oneof(
          fc.string({ maxLength: 60 }),
          fc.constantFrom(
            'urn:ietf:params:oauth:grant-type:token-exchange',
            'urn:ietf:params:oauth:token-type:jwt',
            'urn:ietf:params:oauth:token-type:id_token',
            'acme',
            'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
            'vp_fed_acme.',
          ),
        ),
      ),
      { maxLength: 8 },
    )
    .map((pairs) => Buffer.from(new URLSearchParams(pairs).toString())),
);

const contentType = fc.constantFrom(
  undefined,
  'application/json',
  'application/x-protobuf',
  'text/plain',
  'application/json; charset=latin1',
  'multipart/form-data',
  'application/x-www-form-urlencoded',
  '*/*',
);

const credential = (c: Credentials) =>
  fc.constantFrom<Array<[string, string]>>(
    [],
    [['x-api-key', c.ingestKey]],
    [['x-api-key', c.managementKey]],
    [['authorization', `Bearer ${c.adminToken}`]],
    [['authorization', `Bearer ${c.staffToken}`]],
    [
      ['x-api-key', c.ingestKey],
      ['x-api-key', c.managementKey],
    ],
    [
      ['authorization', `Bearer ${c.adminToken}`],
      ['authorization', `Bearer ${c.staffToken}`],
    ],
    ...c.craftedTokens.map((token): Array<[string, string]> => [['authorization', `Bearer ${token}`]]),
  );

/** A random request to a route: its method, a mangled path, odd headers, a hostile body. */
export function requestArbitrary(definitions: readonly HttpFunctionDefinition[], credentials: Credentials) {
  const byName = new Map(definitions.map((d) => [d.name, d]));
  return fc
    .record({
      route: fc.constantFrom(...byName.keys()),
      params: fc.array(
        fc.oneof(
          fc.string({ maxLength: 40 }),
          fc.constantFrom(
            'key_01ARZ3NDEKTSV4RRFFQ69G5FAV',
            'req_01ARZ3NDEKTSV4RRFFQ69G5FAV',
            'issue-key',
            'rotate-tenant-key',
            '..',
            '%2e%2e',
            'acme',
          ),
        ),
        { minLength: 4, maxLength: 4 },
      ),
      query: fc.array(
        fc.tuple(
          fc.constantFrom('force', 'limit', 'cursor', 'from', 'to', 'granularity', 'keyLabel', 'status'),
          fc.string({ maxLength: 80 }),
        ),
        { maxLength: 4 },
      ),
      headers: fc.array(
        fc.tuple(
          fc.constantFrom('x-custom', 'x-api-key', 'authorization', 'x-functions-key', 'x-veriproof-sandbox', 'content-encoding', 'accept'),
          headerValue,
        ),
        { maxLength: 4 },
      ),
      credential: credential(credentials),
      contentType,
      body,
    })
    .map(
      (c) =>
        Object.defineProperty(c, 'definition', { value: byName.get(c.route)!, enumerable: false }) as typeof c & {
          definition: HttpFunctionDefinition;
        },
    );
}

export function pathFor(definition: HttpFunctionDefinition, params: string[], query: Array<[string, string]>): string {
  let i = 0;
  const path = definition.route.replace(/\{\*?\w+(:[a-z]+)?\??\}/g, () => encodeURIComponent(params[i++] ?? 'x'));
  const search = new URLSearchParams(query).toString();
  return `/${path}${search ? `?${search}` : ''}`;
}

/**
 * Codes answered when a fuzzed path reaches no route at all (a parameter with a slash in it):
 * no route, or none for this method. What the host answers on every route is in routeCodes.
 */
export const UNROUTED_CODES: readonly string[] = ['not_found', 'method_not_allowed'];

/**
 * The invariants every answer keeps, whatever was sent. Returns what broke, or undefined. With
 * `documented`, a problem's code must be one the route documents (or one answered when the path reaches no route).
 * With `oauthErrors` (the token endpoint's), a 400 may instead be an RFC 6749 error of that list:
 * JSON `{ error, error_description }`, uncached.
 */
export function violation(
  response: RawResponse,
  secrets: string[],
  documented?: readonly string[],
  oauthErrors?: readonly string[],
): string | undefined {
  if (response.status >= 500 && response.status !== 503) return `status ${response.status}: ${response.body.slice(0, 300)}`;
  if (response.status === 400 && oauthErrors && String(response.headers['content-type']).startsWith('application/json')) {
    let error: { error?: unknown; error_description?: unknown };
    try {
      error = JSON.parse(response.body) as typeof error;
    } catch {
      return 'an OAuth error body that is not JSON';
    }
    if (typeof error.error !== 'string' || !oauthErrors.includes(error.error)) return `unknown OAuth error ${String(error.error)}`;
    if (typeof error.error_description !== 'string') return 'an OAuth error without its description';
    if (response.headers['cache-control'] !== 'no-store') return 'an OAuth error that may be cached';
  } else if (response.status >= 400) {
    if (response.headers['content-type'] !== 'application/problem+json') {
      return `status ${response.status} without problem+json (${String(response.headers['content-type'])})`;
    }
    {
      let problem: { code?: string; status?: number };
      try {
        problem = JSON.parse(response.body) as typeof problem;
      } catch {
        return 'an error body that is not JSON';
      }
      if (!problem.code || !isErrorCode(problem.code)) return `unknown error code ${String(problem.code)}`;
      if (problem.status !== response.status) return 'problem status differs from HTTP status';
      if (documented && !documented.includes(problem.code) && !UNROUTED_CODES.includes(problem.code))
        return `code ${problem.code} is not in the route's documented responses`;
    }
  }
  for (const secret of secrets) if (secret.length > 12 && response.body.includes(secret)) return 'a secret echoed back in the body';
  if (/\bat .+\.(js|ts):\d+/.test(response.body)) return 'a stack trace in the body';
  return undefined;
}
