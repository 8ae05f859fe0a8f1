/**
 * Keyless ingest: an identity token from the workload's platform, exchanged for a short-lived
 * ingest token.
 *
 * The exchange is RFC 8693 at `{endpoint}/v1/oauth/token`: a form with
 * `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`, the identity token as
 * `subject_token` (`subject_token_type=urn:ietf:params:oauth:token-type:jwt`) and the customer's
 * slug as `audience`; the answer is `{ access_token, issued_token_type, token_type: "Bearer",
 * expires_in }`, or RFC 6749's `{ error, error_description }` with status 400.
 *
 * {@link FederatedCredential} exchanges lazily (at the first export), keeps the ingest token and
 * exchanges again ahead of its expiry: after 80 % of its lifetime or 60 s before it ends, whichever
 * comes first (never before half of it). Concurrent exports share one exchange. When the service
 * refuses the ingest token (401), `forget` drops it so the next call exchanges again.
 *
 * Neither the identity token nor the ingest token is ever logged, thrown or put into an error's
 * message: errors name the customer, the status and the RFC 6749 error code.
 */

import { bearerToken, type ParsedKey } from './api-key';

export const TOKEN_PATH = '/v1/oauth/token';
export const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const SUBJECT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const USER_AGENT = 'veriproof-sdk-typescript/0.1.0';

/** What the SDK passes to an identity-token provider. */
export interface IdentityTokenContext {
  /** The customer's slug (the exchange's audience); the GitHub Actions provider asks for it as the token's audience. */
  customer: string;
}

/**
 * Returns an identity token (a JWT) from the workload's platform, sync or async. Called only to
 * exchange it (at the first export, then ahead of each ingest token's expiry).
 */
export type IdentityTokenProvider = (context?: IdentityTokenContext) => string | Promise<string>;

/** A ready identity-token provider could not get a token (its message says why, never a token). */
export class IdentityTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentityTokenError';
  }
}

/**
 * The SDK has no ingest token: the identity-token provider failed, or the service refused the
 * exchange. The message names the customer, the HTTP status and the RFC 6749 `error` code; it
 * never contains the identity token or an ingest token.
 */
export class TokenExchangeError extends Error {
  constructor(
    message: string,
    /** The token endpoint's HTTP status, when it answered. */
    readonly status?: number,
    /** RFC 6749's `error` code (`invalid_grant`, `invalid_target`, ...), when the service sent one. */
    readonly error?: string,
    /** Milliseconds until the SDK exchanges again (the service refused this identity token); undefined: at the next export. */
    readonly retryInMillis?: number,
  ) {
    super(message);
    this.name = 'TokenExchangeError';
  }

  /** A copy with the time left until the next exchange. */
  again(retryInMillis: number | undefined): TokenExchangeError {
    return new TokenExchangeError(this.message, this.status, this.error, retryInMillis);
  }
}

// An ingest token travels in a header: printable ASCII without spaces, of a sane length.
const ACCESS_TOKEN = /^[\x21-\x7e]{1,4096}$/;
const ERROR_CODE = /^[a-z_]{1,40}$/;
const MAX_ANSWER = 64 * 1024;
/** A refresh that failed while the token still serves is tried again after at most this long. */
const REFRESH_RETRY_MILLIS = 30_000;
/** A token is not sent in its last seconds (an export may take that long to arrive). */
const END_MARGIN_MILLIS = 10_000;

/**
 * Milliseconds after an exchange at which the next one is due: 80 % of the lifetime or 60 s before
 * its end, whichever is earlier, but not before half of it (for very short tokens).
 */
export function refreshAfterMillis(expiresInSeconds: number): number {
  const lifetime = expiresInSeconds * 1000;
  return Math.max(Math.min(lifetime * 0.8, lifetime - 60_000), lifetime / 2);
}

export interface FederatedCredentialOptions {
  /** `{endpoint}/v1/oauth/token`. */
  tokenUrl: string;
  customer: string;
  identityTokenProvider: IdentityTokenProvider;
  /** Bound on one exchange. */
  timeoutMillis: number;
  /** How long an identity token the service refused (4xx) is not exchanged again. */
  pauseMillis: number;
  /** Milliseconds, monotonic enough; default `Date.now`. */
  now?: () => number;
}

interface Held {
  key: ParsedKey;
  refreshAt: number;
  usableUntil: number;
}

/**
 * The ingest token for one customer, exchanged from the identity token the provider returns.
 * `key()` answers it (exchanging only when there is none, or a refresh is due) and rejects with a
 * {@link TokenExchangeError} when there is none to give. One exchange at a time: concurrent calls
 * share it, or keep using a token that still serves.
 */
export class FederatedCredential {
  private held: Held | undefined;
  private flight: Promise<ParsedKey> | undefined;
  private refused: { until: number; error: TokenExchangeError } | undefined;
  private readonly now: () => number;

  constructor(private readonly options: FederatedCredentialOptions) {
    this.now = options.now ?? Date.now;
  }

  get customer(): string {
    return this.options.customer;
  }

  key(): Promise<ParsedKey> {
    const now = this.now();
    const held = this.held;
    if (held && now < held.refreshAt) return Promise.resolve(held.key);
    const serving = held !== undefined && now < held.usableUntil;
    if (this.flight) return serving ? Promise.resolve(held.key) : this.flight; // a refresh under way; this token still serves
    if (this.refused && now < this.refused.until) {
      if (serving) return Promise.resolve(held.key);
      return Promise.reject(this.refused.error.again(this.refused.until - now));
    }
    const flight = this.lead();
    this.flight = flight;
    const clear = () => {
      if (this.flight === flight) this.flight = undefined;
    };
    flight.then(clear, clear);
    return flight;
  }

  /** The service refused `rejected` (401): drop it, so the next `key()` exchanges again. */
  forget(rejected: ParsedKey): void {
    if (this.held && sameKey(this.held.key, rejected)) this.held = undefined;
  }

  private async lead(): Promise<ParsedKey> {
    const started = this.now();
    let answer: { accessToken: string; expiresIn: number };
    try {
      answer = await this.exchange();
    } catch (caught) {
      let error = caught instanceof TokenExchangeError ? caught : new TokenExchangeError('The token exchange failed unexpectedly.');
      const now = this.now();
      if (error.status !== undefined && error.status >= 400 && error.status < 500 && error.status !== 429) {
        // The service refused this identity token: asking again at every export would only fill
        // the customer's audit log. It is exchanged again after the pause.
        error = error.again(this.options.pauseMillis);
        this.refused = { until: now + this.options.pauseMillis, error };
      }
      const held = this.held;
      if (held && now < held.usableUntil) {
        // A refresh failed, but the token still serves: keep it, try again soon.
        this.held = { ...held, refreshAt: now + Math.min(REFRESH_RETRY_MILLIS, (held.usableUntil - now) / 2) };
        return held.key;
      }
      throw error;
    }
    const lifetime = answer.expiresIn * 1000;
    const key = bearerToken(answer.accessToken, this.options.customer);
    this.held = {
      key,
      refreshAt: started + refreshAfterMillis(answer.expiresIn),
      usableUntil: started + lifetime - Math.min(END_MARGIN_MILLIS, lifetime / 4),
    };
    this.refused = undefined;
    return key;
  }

  /** One exchange: the provider's identity token for an ingest token and its lifetime in seconds. */
  private async exchange(): Promise<{ accessToken: string; expiresIn: number }> {
    const { customer } = this.options;
    const who = `customer ${customer}`;
    let identityToken: unknown;
    try {
      identityToken = await this.options.identityTokenProvider({ customer });
    } catch (error) {
      if (error instanceof IdentityTokenError) throw new TokenExchangeError(`No identity token for ${who}: ${error.message}`);
      throw new TokenExchangeError(`The identityTokenProvider failed (${errorName(error)}).`);
    }
    if (typeof identityToken !== 'string' || identityToken.trim() === '') {
      const what = typeof identityToken === 'string' ? 'an empty string' : identityToken === null ? 'null' : typeof identityToken;
      throw new TokenExchangeError(`The identityTokenProvider returned no token (a non-empty string is needed; it returned ${what}).`);
    }
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.options.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': USER_AGENT },
        body: new URLSearchParams({
          grant_type: GRANT_TYPE,
          subject_token: identityToken.trim(),
          subject_token_type: SUBJECT_TOKEN_TYPE,
          audience: customer,
        }).toString(),
        redirect: 'manual', // the identity token goes to the token endpoint and nowhere else
        signal: AbortSignal.timeout(this.options.timeoutMillis),
      });
      text = await response.text();
    } catch (error) {
      throw new TokenExchangeError(`The token exchange for ${who} could not reach the service (${errorName(error)}).`);
    }
    const body = parseJson(text);
    if (response.status !== 200) {
      const code = typeof body?.error === 'string' && ERROR_CODE.test(body.error) ? body.error : undefined;
      throw new TokenExchangeError(
        `The token exchange for ${who} failed (${response.status}${code ? ` ${code}` : ''}): ${why(response.status, code, customer)}.`,
        response.status,
        code,
      );
    }
    const accessToken = body?.access_token;
    const tokenType = body?.token_type;
    const expiresIn = body?.expires_in;
    if (
      typeof accessToken !== 'string' ||
      !ACCESS_TOKEN.test(accessToken) ||
      typeof tokenType !== 'string' ||
      tokenType.toLowerCase() !== 'bearer' ||
      typeof expiresIn !== 'number' ||
      !(expiresIn > 0 && expiresIn <= 86_400)
    ) {
      throw new TokenExchangeError(
        `The token exchange for ${who} failed: the service's answer is not a bearer token with its lifetime (is the endpoint a Veriproof service?).`,
        response.status,
      );
    }
    return { accessToken, expiresIn };
  }
}

/** An error's `name` (`TypeError`, `TimeoutError`, ...): never its message, which may hold anything. Realm-safe (no instanceof). */
export function errorName(error: unknown): string {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' && /^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name) ? name : typeof error === 'object' ? 'error' : typeof error;
}

function sameKey(a: ParsedKey, b: ParsedKey): boolean {
  return JSON.stringify(a.headers) === JSON.stringify(b.headers);
}

function parseJson(text: string): Record<string, unknown> | undefined {
  if (text.length > MAX_ANSWER) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** What a refused exchange means, in the words of the error. */
function why(status: number, code: string | undefined, customer: string): string {
  switch (code) {
    case 'invalid_grant':
      return `no trust policy of ${customer} accepts this identity token; check the policy's issuer, audience, subject and claims against the token (the customer's audit log has the reason)`;
    case 'invalid_target':
      return `the service has no customer ${customer}; check the customer option (the customer's slug)`;
    case 'invalid_request':
    case 'unsupported_grant_type':
      return 'the service did not take the request; this SDK may be older or newer than the service';
  }
  if (status === 429) return 'too many exchanges; the next export tries again';
  if (status >= 500) return 'the service is unavailable; the next export tries again';
  return 'the service refused the exchange';
}
