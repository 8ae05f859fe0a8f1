/**
 * The one closed catalogue of error codes this service answers with.
 *
 * Every error a client can see is an {@link ApiError} carrying one of these codes; the
 * error boundary (middleware/error-boundary.ts) is the only place that turns it into an
 * RFC 9457 `application/problem+json` response. Adding a code means adding its status and
 * title here, and the compiler refuses a code without them.
 */
export const ERROR_CATALOGUE = {
  api_key_missing: { status: 401, title: 'API key missing' },
  api_key_malformed: { status: 401, title: 'API key malformed' },
  api_key_invalid: { status: 401, title: 'API key invalid' },
  api_key_expired: { status: 401, title: 'API key expired' },
  component_invalid: { status: 401, title: 'Key component invalid' },
  component_required: { status: 401, title: 'Key component required' },
  unauthenticated: { status: 401, title: 'Authentication required' },
  signature_invalid: { status: 401, title: 'Signature invalid' },
  forbidden: { status: 403, title: 'Forbidden' },
  sandbox_read_only: { status: 403, title: 'Sandbox is read-only' },
  ip_not_allowed: { status: 403, title: 'Address not allowed for this key' },
  bad_request: { status: 400, title: 'Request is not valid HTTP' },
  invalid_body: { status: 400, title: 'Request body cannot be read' },
  validation_failed: { status: 400, title: 'Request failed validation' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  misdirected_request: { status: 421, title: 'Misdirected request' },
  conflict: { status: 409, title: 'Conflict' },
  customer_exists: { status: 409, title: 'Customer already exists' },
  label_taken: { status: 409, title: 'Label already in use' },
  key_limit_reached: { status: 409, title: 'Key limit reached' },
  trust_policy_limit_reached: { status: 409, title: 'Trust policy limit reached' },
  webhook_endpoint_limit_reached: { status: 409, title: 'Webhook endpoint limit reached' },
  last_active_key: { status: 409, title: 'Last active key' },
  key_rolling_out: { status: 409, title: 'Key already rolling out' },
  key_expired: { status: 409, title: 'Key expired' },
  request_not_pending: { status: 409, title: 'Request is not pending' },
  action_unavailable: { status: 409, title: 'Action cannot be executed yet' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  too_many_spans: { status: 413, title: 'Too many spans in one request' },
  too_many_sessions: { status: 413, title: 'Too many sessions in one request' },
  too_many_values: { status: 413, title: 'Too many values in one request' },
  too_many_matches: { status: 413, title: 'Too many matches in one report' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  header_too_large: { status: 431, title: 'Request header fields too large' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal_error: { status: 500, title: 'Internal error' },
  dependency_unavailable: { status: 503, title: 'Dependency unavailable' },
  server_busy: { status: 503, title: 'Instance busy' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** Statuses by code, as an exhaustive table (a missing code is a compile error). */
export const STATUS_BY_CODE: Record<ErrorCode, number> = Object.fromEntries(
  Object.entries(ERROR_CATALOGUE).map(([code, entry]) => [code, entry.status]),
) as Record<ErrorCode, number>;

export function isErrorCode(value: string): value is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CATALOGUE, value);
}

export interface ApiErrorOptions {
  /** Extra response headers (`Retry-After`, `WWW-Authenticate`, `Allow`). */
  headers?: Record<string, string>;
  /** Extension members added to the problem body (never secrets). */
  extensions?: Record<string, unknown>;
  /** The underlying cause, logged server side, never sent to the client. */
  cause?: unknown;
}

/** The single error class of the service: a catalogue code plus a client-safe detail. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string;
  readonly headers: Record<string, string>;
  readonly extensions: Record<string, unknown>;

  constructor(code: ErrorCode, detail?: string, options: ApiErrorOptions = {}) {
    super(detail ?? ERROR_CATALOGUE[code].title, { cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.detail = detail ?? ERROR_CATALOGUE[code].title;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}

/** Seconds a client should wait before retrying after a dependency outage. */
export const DEPENDENCY_RETRY_AFTER_SECONDS = 5;
/** Seconds after the dependency throttled us (busy, not down): load passes in about that time. */
export const THROTTLED_RETRY_AFTER_SECONDS = 2;

/**
 * A dependency (Table Storage, Key Vault) could not be reached or answered with a server
 * error. Ports throw this so that every caller maps it the same way: 503 with `Retry-After`.
 */
export class DependencyUnavailableError extends Error {
  readonly dependency: string;
  /** The dependency answered "too busy" (throttling) until our time bound ran out, rather than failing. */
  readonly throttled: boolean;
  constructor(dependency: string, cause?: unknown, options: { throttled?: boolean } = {}) {
    super(`${dependency} is ${options.throttled ? 'throttling our requests' : 'unavailable'}`, { cause });
    this.name = 'DependencyUnavailableError';
    this.dependency = dependency;
    this.throttled = options.throttled ?? false;
  }
}

export function dependencyUnavailable(dependency: string, cause?: unknown, throttled = false): ApiError {
  return new ApiError(
    'dependency_unavailable',
    throttled
      ? `A service this request depends on (${dependency}) is busy. Retry after the time in Retry-After.`
      : `A service this request depends on (${dependency}) is unavailable. Retry later.`,
    { headers: { 'Retry-After': String(throttled ? THROTTLED_RETRY_AFTER_SECONDS : DEPENDENCY_RETRY_AFTER_SECONDS) }, cause },
  );
}
