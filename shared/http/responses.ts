import type { HttpResponseInit } from '@azure/functions';
import { ERROR_CATALOGUE, type ApiError } from '../errors';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Headers every response of the API carries (lower-case names). */
export function baseHeaders(requestId: string): Record<string, string> {
  return { 'x-request-id': requestId, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } };
}

/** An RFC 9457 problem document for an {@link ApiError}. */
export function problem(error: ApiError, requestId: string): HttpResponseInit {
  return {
    status: error.status,
    headers: { ...error.headers, 'content-type': PROBLEM_CONTENT_TYPE },
    jsonBody: {
      ...error.extensions,
      type: `urn:veriproof:problem:${error.code}`,
      title: ERROR_CATALOGUE[error.code].title,
      status: error.status,
      detail: error.detail,
      code: error.code,
      requestId,
    },
  };
}

/**
 * An RFC 6749 §5.2 error of the token endpoint: 400, `{ error, error_description }` as JSON, not
 * cached (Cache-Control: no-store is on every response; Pragma: no-cache as the RFC asks too).
 */
export function oauthError(failure: { error: string; description: string }): HttpResponseInit {
  return json(400, { error: failure.error, error_description: failure.description }, { pragma: 'no-cache' });
}
