import { isValidSlug } from '../keys/compound-key';

/**
 * The token endpoint's request, as RFC 8693 (token exchange) and RFC 6749 (its form and its
 * errors) define it: an `application/x-www-form-urlencoded` body of parameters, each sent once.
 * Pure: what is wrong with a request is a value (an RFC 6749 §5.2 error), never an exception.
 */

export const GRANT_TYPE_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
export const TOKEN_TYPE_ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
/** The subject token types taken: a JWT, or an OpenID Connect ID token (a JWT too). */
export const SUBJECT_TOKEN_TYPES = [TOKEN_TYPE_JWT, TOKEN_TYPE_ID_TOKEN] as const;
export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

/** The RFC 6749 §5.2 error codes the endpoint answers with (400, `{ error, error_description }`). */
export const OAUTH_ERRORS = ['invalid_request', 'unsupported_grant_type', 'invalid_grant', 'invalid_target'] as const;
export type OAuthErrorCode = (typeof OAUTH_ERRORS)[number];

export interface OAuthError {
  ok: false;
  error: OAuthErrorCode;
  /** A fixed text that says what to fix: never an echo of what was sent, never why a grant was refused. */
  description: string;
}

/** The one description of every refused grant (why goes to the customer's audit log). */
export const INVALID_GRANT_DESCRIPTION = 'The subject token is not accepted for this audience.';

/** A form's parameters, each with every value it was sent with (in order). */
export type FormParameters = ReadonlyMap<string, readonly string[]>;

const error = (code: OAuthErrorCode, description: string): OAuthError => ({ ok: false, error: code, description });

/**
 * The parameters of a form body. Only `application/x-www-form-urlencoded` (any parameters after
 * it, such as a charset, aside) of valid UTF-8 is a form; anything else is `invalid_request`.
 */
export function parseForm(body: Uint8Array, contentType: string | null): { ok: true; params: FormParameters } | OAuthError {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== FORM_CONTENT_TYPE) return error('invalid_request', `Send the request as ${FORM_CONTENT_TYPE} (RFC 8693).`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return error('invalid_request', 'The request body is not valid UTF-8.');
  }
  const params = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(text)) {
    const values = params.get(name);
    if (values) values.push(value);
    else params.set(name, [value]);
  }
  return { ok: true, params };
}

/** Parameters the endpoint reads: sent more than once, each is `invalid_request` (RFC 6749 §3.2), `audience` aside. */
const READ_ONCE = [
  'grant_type',
  'subject_token',
  'subject_token_type',
  'requested_token_type',
  'actor_token',
  'actor_token_type',
  'resource',
  'scope',
] as const;

/** A request the exchange can take: the identity token and the customer it is presented for. */
export interface TokenExchangeRequest {
  subjectToken: string;
  /** The customer's slug. */
  audience: string;
}

/**
 * The exchange's request from a form's parameters, or the RFC 6749 §5.2 error that says what is
 * wrong with it, checked in this order: a parameter sent twice, then `grant_type`
 * (`unsupported_grant_type` for another grant), `subject_token`, `subject_token_type` (a JWT or an
 * ID token), no `actor_token` (no delegation), `requested_token_type` (an access token, if named),
 * then the target: no `resource`, and `audience` one customer slug (`invalid_target` otherwise).
 * Other parameters (`scope` among them) are ignored.
 */
export function parseTokenExchangeRequest(params: FormParameters): { ok: true; request: TokenExchangeRequest } | OAuthError {
  for (const name of READ_ONCE) {
    if ((params.get(name)?.length ?? 0) > 1) return error('invalid_request', `The parameter ${name} is sent more than once.`);
  }
  const one = (name: string): string | undefined => params.get(name)?.[0];
  const grantType = one('grant_type');
  if (!grantType) return error('invalid_request', `grant_type is required: ${GRANT_TYPE_TOKEN_EXCHANGE}.`);
  if (grantType !== GRANT_TYPE_TOKEN_EXCHANGE) return error('unsupported_grant_type', `Only ${GRANT_TYPE_TOKEN_EXCHANGE} is supported.`);
  const subjectToken = one('subject_token');
  if (!subjectToken) return error('invalid_request', "subject_token is required: the workload's identity token (a JWT).");
  const subjectTokenType = one('subject_token_type');
  if (!subjectTokenType || !(SUBJECT_TOKEN_TYPES as readonly string[]).includes(subjectTokenType)) {
    return error('invalid_request', `subject_token_type must be ${TOKEN_TYPE_JWT} or ${TOKEN_TYPE_ID_TOKEN}.`);
  }
  if (params.has('actor_token') || params.has('actor_token_type')) {
    return error('invalid_request', 'Delegation (actor_token) is not supported.');
  }
  const requested = one('requested_token_type');
  if (requested !== undefined && requested !== TOKEN_TYPE_ACCESS_TOKEN) {
    return error('invalid_request', `requested_token_type may only be ${TOKEN_TYPE_ACCESS_TOKEN}.`);
  }
  if (params.has('resource')) return error('invalid_target', "resource is not supported: name the customer's slug in audience.");
  const audiences = params.get('audience') ?? [];
  if (audiences.length === 0 || audiences[0] === '') return error('invalid_request', "audience is required: the customer's slug.");
  if (audiences.length > 1 || !isValidSlug(audiences[0]!)) return error('invalid_target', "audience must be one customer's slug.");
  return { ok: true, request: { subjectToken, audience: audiences[0]! } };
}

/**
 * The customer a form names, when it names one well-formed slug as its audience (whether that
 * customer exists or not): what the per-customer limit of the exchange is drawn from, before
 * anything is read or verified.
 */
export function audienceOf(params: FormParameters): string | undefined {
  const audiences = params.get('audience');
  return audiences?.length === 1 && isValidSlug(audiences[0]!) ? audiences[0] : undefined;
}
