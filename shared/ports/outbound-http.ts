/**
 * One HTTP request to an address someone else chose (an issuer's documents, a webhook endpoint),
 * made under the outbound guard's rules (shared/net/outbound-guard.ts). The bounds are the
 * caller's: what it is prepared to wait for and to hold.
 */
export interface OutboundRequest {
  url: string;
  method: 'GET' | 'POST';
  /** Sent as given; `host` is always the URL's (not replaceable), no cookie is ever added. */
  headers?: Readonly<Record<string, string>>;
  body?: string | Uint8Array;
  /** The whole exchange under one deadline: resolution, connection, request, the answer to its last byte read. */
  timeoutMs: number;
  /** The most of the answer's body read; past it the connection is closed and the answer marked `truncated`. */
  maxResponseBytes: number;
}

export interface OutboundResponse {
  /** The status as answered: a 3xx is an answer, never followed. */
  status: number;
  /** Header names in lower case; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** At most `maxResponseBytes` of the body. */
  body: Buffer;
  /** The body went on past `maxResponseBytes` (what is here is its start). */
  truncated: boolean;
  /** The address the connection went to (one of those the guard checked). */
  address: string;
}

/**
 * Why there is no answer: `not_allowed` (the guard refused the URL or an address its host resolves
 * to: nothing was sent), `unresolved` (the host does not resolve: nothing was sent), `unreachable`
 * (no connection, or it broke before the answer was read), `timeout` (no complete answer within
 * `timeoutMs`).
 */
export type OutboundFailure = 'not_allowed' | 'unresolved' | 'unreachable' | 'timeout';

export type OutboundResult =
  | { ok: true; response: OutboundResponse }
  | {
      ok: false;
      failure: OutboundFailure;
      /** Safe to log and to show the customer: the host and addresses, never the URL's path or query, a header or a body. */
      detail: string;
    };

/**
 * Sends requests to addresses the service does not control, safely: every request is admitted by
 * the outbound guard first (https only in production; the host resolved once and every address it
 * resolves to public), the connection is pinned to the checked addresses (no second resolution,
 * so a name cannot change its answer between the check and the connection), no redirect is
 * followed, the whole exchange is bounded in time and the answer's body in size. It never throws:
 * every outcome is a result (an answer of any status, or why there is none).
 */
export interface OutboundHttp {
  send(request: OutboundRequest): Promise<OutboundResult>;
}
