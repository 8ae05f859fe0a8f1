import type { HttpRequest } from '@azure/functions';
import type { RequestContext } from '../app/function-contract';
import type { DoorFailure, DoorVerdict, PresentedCredentials } from '../shared/auth/api-key-door';
import type { KeyIdentity } from '../shared/domain';
import { ApiError } from '../shared/errors';
import { clientAddress } from '../shared/http/client-address';
import { KEY_PREFIX } from '../shared/keys/compound-key';
import { FEDERATED_TOKEN_PREFIX } from '../shared/keys/federated-token';

/**
 * What both doors read from a request's headers (API keys and portal tokens), and how an API
 * key the door refused is answered. Neither door imports the other; both import this.
 */

export const API_KEY_HEADER = 'x-api-key';
/** The header the SDKs send the component in (its name comes from the Functions host's key header). */
export const COMPONENT_HEADER = 'x-functions-key';
const REALM = 'veriproof';

/** The token of an `Authorization: Bearer` header; '' for a Bearer header without one. */
export function bearerToken(request: HttpRequest): string | undefined {
  const authorization = request.headers.get('authorization');
  if (authorization === null) return undefined;
  const trimmed = authorization.trim();
  if (!/^Bearer\b/i.test(trimmed)) return undefined;
  const match = /^Bearer[ \t]+(\S+)$/i.exec(trimmed);
  return match ? match[1]! : '';
}

/**
 * Where a request carries an API key (or a federated access token, which the same door decides),
 * if it carries one: `X-API-Key`, or a Bearer token that looks like a compound key or a token.
 */
export function apiKeyCredential(request: HttpRequest): string | undefined {
  const header = request.headers.get(API_KEY_HEADER);
  if (header !== null && header.trim() !== '') return header.trim();
  const bearer = bearerToken(request);
  return bearer?.startsWith(KEY_PREFIX) || bearer?.startsWith(FEDERATED_TOKEN_PREFIX) ? bearer : undefined;
}

/**
 * What a request presents to the API-key door. The client's address is read from
 * X-Forwarded-For only when the door asks for it (a key with an IP allowlist, a failed
 * authentication): a warm key without an allowlist never needs it.
 */
class RequestCredentials implements PresentedCredentials {
  readonly apiKey: string | undefined;
  readonly bearerKey: string | undefined;
  readonly component: string | undefined;
  #address: string | null | undefined = null;

  constructor(
    private readonly request: HttpRequest,
    private readonly proxyHops: number,
  ) {
    const headers = request.headers;
    this.apiKey = headers.get(API_KEY_HEADER)?.trim() || undefined;
    this.bearerKey = this.apiKey === undefined ? bearerToken(request) : undefined;
    this.component = headers.get(COMPONENT_HEADER)?.trim() || undefined;
  }

  get address(): string | undefined {
    if (this.#address === null) this.#address = clientAddress(this.request, this.proxyHops);
    return this.#address;
  }
}

/** What the request presents to the API-key door; `proxyHops`: the proxies that append to X-Forwarded-For. */
export function presentedCredentials(request: HttpRequest, proxyHops = 1): PresentedCredentials {
  return new RequestCredentials(request, proxyHops);
}

const challenge = (withError: boolean) => (withError ? `Bearer realm="${REALM}", error="invalid_token"` : `Bearer realm="${REALM}"`);

const DETAIL: Record<DoorFailure, string> = {
  api_key_missing: 'Send your API key in the X-API-Key header, or as Authorization: Bearer <compound key>.',
  api_key_malformed: 'The API key is not in the expected format, or its checksum does not match (a typo?).',
  // One answer for unknown, revoked and mismatched keys alike: no oracle.
  api_key_invalid: 'The API key is not valid.',
  // Its own code (people debugging need to know), naming no key.
  api_key_expired: 'The API key has expired: switch to its replacement, or ask your admin for a new key.',
  component_invalid: "The key's component is not the customer's current one (nor a previous one still in its grace period).",
  component_required: 'This customer requires the key component: send the whole key, or the component in x-functions-key.',
  ip_not_allowed: "This key's IP allowlist does not include the address this request came from.",
};

/** What a federated token's refusals say instead, where a key's would mislead (its code is the same). */
const TOKEN_DETAIL: Partial<Record<DoorFailure, string>> = {
  api_key_expired: 'The access token has expired: exchange a new identity token for another (POST /v1/oauth/token).',
};

/** The problem the door's refusal answers with (401s with a `WWW-Authenticate` challenge). */
export function doorProblem(code: DoorFailure, credential?: 'federated'): ApiError {
  const detail = (credential === 'federated' ? TOKEN_DETAIL[code] : undefined) ?? DETAIL[code];
  // The key is good, the place is not: a 403, without an authentication challenge.
  if (code === 'ip_not_allowed') return new ApiError(code, detail);
  return new ApiError(code, detail, { headers: { 'WWW-Authenticate': challenge(code !== 'api_key_missing') } });
}

/**
 * The identity behind the API key a request presents, or the problem that says why there is
 * none. Authentication itself is the door's (shared/auth/api-key-door.ts); this only reads the
 * headers, counts the decision (metrics; usage for a key refused for its address) and maps a
 * refusal to its problem: 401, or 403 `ip_not_allowed`. A key decided from memory (a warm key)
 * is answered at once, not through a promise; one that needed a read, through one.
 */
export function authenticateApiKey(request: HttpRequest, ctx: Pick<RequestContext, 'services'>): KeyIdentity | Promise<KeyIdentity> {
  const metrics = ctx.services.telemetry.metrics;
  // Decisions from memory are counted, and one in 64 timed (a histogram record costs more than
  // the decision): the clock is read before the decision only for that one.
  const timed = metrics.timesNextHit();
  const started = timed ? performance.now() : 0;
  const check = ctx.services.door.check(presentedCredentials(request, ctx.services.useCases.config.trustedProxyHops));
  if (check instanceof Promise) {
    // A read is timed from when the door asked for it (its synchronous part, microseconds, aside).
    const asked = timed ? started : performance.now();
    return check.then((verdict) => {
      metrics.authRead(performance.now() - asked);
      return admitted(verdict, ctx);
    });
  }
  if (metrics.authHit()) metrics.authHitTime(performance.now() - started);
  return admitted(check, ctx);
}

/** The identity of an admitted verdict; a refusal is counted and thrown as its problem. */
function admitted(verdict: DoorVerdict, ctx: Pick<RequestContext, 'services'>): KeyIdentity {
  const metrics = ctx.services.telemetry.metrics;
  if (!verdict.ok) {
    // The customer, when known: the key's (refused for its address) or a revoked key's (a fleet still using it).
    const customer = verdict.identity ?? (verdict.revokedCustomer ? { customerSlug: verdict.revokedCustomer, plan: 'unknown' } : undefined);
    metrics.auth(verdict.code, customer);
    // Refused for its address: counted in the key's usage, as a rate-limited request is.
    if (verdict.identity) ctx.services.usageRecorder.record(verdict.identity, 'ipRefused');
    throw doorProblem(verdict.code, verdict.credential);
  }
  return verdict.identity;
}
