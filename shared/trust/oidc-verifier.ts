import { compactVerify, errors as joseErrors } from 'jose';
import type { Clock } from '../clock';
import type { TrustPolicy } from '../domain';
import type { Logger } from '../logging';
import type { PublicDocumentFetch } from '../ports/public-documents';
import { IssuerKeyCache, isSignatureAlgorithm, type IssuerKeyBounds, type SignatureAlgorithm } from './issuer-keys';
import { subjectMatches } from './subject-pattern';

/** The clock skew allowed on `exp`, `nbf` and `iat`, each way. */
export const CLOCK_SKEW_SECONDS = 60;
/** A token issued longer ago than this (its `iat`, plus the skew) is refused whatever its `exp`. */
export const MAX_TOKEN_AGE_SECONDS = 24 * 60 * 60;
/** A subject token longer than this is refused unread (Entra's, the largest in practice, are a few KB). */
export const MAX_TOKEN_LENGTH = 16 * 1024;

/** Why a subject token was refused: for the audit log only (the exchange answers one `invalid_grant` for all). */
export type SubjectTokenFailureReason =
  /** Not a compact JWS of a JSON header and a JSON object payload, too long, or with a `crit` header. */
  | 'malformed'
  /** `alg` is not RS256, PS256, ES256 or EdDSA (`none` and HMAC included). */
  | 'unsupported_algorithm'
  /** No active policy of the customer names the token's `iss`: nothing was fetched. */
  | 'untrusted_issuer'
  /** The issuer's discovery document or key set could not be read (unreachable, failing, malformed, naming another issuer). */
  | 'issuer_unavailable'
  /**
   * The issuer or its `jwks_uri` is at an address never read, so nothing was sent: http outside
   * local mode, or a host that resolves to an address that is not public (loopback, private,
   * link-local and the cloud metadata address, ...: the outbound guard, shared/net/outbound-guard.ts).
   */
  | 'issuer_not_allowed'
  /** The issuer's key set holds no key of the token's `kid`, even read again (within its cooldown). */
  | 'unknown_key'
  /** The key the token names is not one its `alg` may use. */
  | 'key_mismatch'
  | 'bad_signature'
  /** `exp`, `iat` (numbers) or `sub` (a string) is missing, or a claim has the wrong type. */
  | 'missing_claim'
  | 'expired'
  | 'not_yet_valid'
  /** `iat` is in the future beyond the skew. */
  | 'issued_in_future'
  /** `iat` is older than the maximum token age. */
  | 'too_old'
  | 'audience_mismatch'
  | 'subject_mismatch'
  | 'claim_mismatch';

/** What a verified token says about its workload. */
export interface VerifiedSubjectToken {
  issuer: string;
  subject: string;
  /** `aud` as a list (a single string is a list of one). */
  audiences: string[];
  /** Seconds since the epoch. */
  issuedAt: number;
  expiresAt: number;
  notBefore?: number;
  /** `jti`, when a string. */
  tokenId?: string;
  algorithm: SignatureAlgorithm;
  keyId?: string;
  /** Every claim of the token, as signed. */
  claims: Readonly<Record<string, unknown>>;
}

export type SubjectTokenVerdict =
  | { ok: true; policy: TrustPolicy; token: VerifiedSubjectToken }
  | {
      ok: false;
      reason: SubjectTokenFailureReason;
      /** A short explanation for the audit log: never the token, a signature or a key. */
      detail: string;
      /** The token's `iss` (as it reads; not proven unless the signature was checked), cut to 256 printable characters. */
      issuer?: string;
      /** The token's `sub`, only once its signature holds. */
      subject?: string;
      /** The policy that came nearest (for audience, subject and claim mismatches). */
      policyId?: string;
    };

type Failure = Extract<SubjectTokenVerdict, { ok: false }>;

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** Text from a token, made safe to store: printable characters only, cut short. */
const printable = (text: string, max = 256): string => text.replace(/[^\x20-\x7e]/g, '?').slice(0, max);

const own = (claims: Record<string, unknown>, name: string): unknown => (Object.hasOwn(claims, name) ? claims[name] : undefined);

const isTime = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

function decodeJson(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** What a SubjectTokenVerifier is built from. */
export interface SubjectTokenVerifierDeps {
  /** Reads issuers' discovery documents and key sets (bounded in time and size). */
  fetch: PublicDocumentFetch;
  clock: Clock;
  log: Logger;
  /** Local mode: an issuer (and its `jwks_uri`) may be http on a loopback host. */
  localMode: boolean;
  bounds?: Partial<IssuerKeyBounds>;
}

/**
 * Verifies a workload's identity token (the subject token of an RFC 8693 exchange) and finds the
 * customer's trust policy it satisfies. In order, and nothing fetched before the issuer is one a
 * policy names:
 * 1. the header and payload are read without being trusted: a compact JWS, `alg` one of RS256,
 *    PS256, ES256, EdDSA (never `none` or HMAC), no `crit`;
 * 2. the policies whose `issuer` is the token's `iss` exactly are the candidates (none: refused);
 * 3. the issuer's key of the token's `kid` (see {@link IssuerKeyCache}) must be one the `alg` may
 *    use, and the signature must hold;
 * 4. `exp` and `iat` are required, `nbf` honoured, each with {@link CLOCK_SKEW_SECONDS} of skew
 *    by the injected clock, and `iat` no older than {@link MAX_TOKEN_AGE_SECONDS};
 * 5. the first candidate, in the order given, whose `audience` is the `aud` (or one of them),
 *    whose subject pattern matches `sub`, and whose every claim the token holds as the same string.
 */
export class SubjectTokenVerifier {
  readonly keys: IssuerKeyCache;
  private readonly clock: Clock;

  constructor(deps: SubjectTokenVerifierDeps) {
    this.clock = deps.clock;
    this.keys = new IssuerKeyCache(deps.fetch, deps.clock, {
      localMode: deps.localMode,
      log: deps.log,
      ...(deps.bounds ? { bounds: deps.bounds } : {}),
    });
  }

  /** The first of `policies` (the customer's active ones, in their listed order) the token satisfies, or why none. */
  async verify(token: string, policies: readonly TrustPolicy[]): Promise<SubjectTokenVerdict> {
    if (token.length > MAX_TOKEN_LENGTH) return fail('malformed', `longer than ${MAX_TOKEN_LENGTH} characters`);
    const segments = token.split('.');
    if (segments.length !== 3 || !SEGMENT.test(segments[0]!) || !SEGMENT.test(segments[1]!) || !/^[A-Za-z0-9_-]*$/.test(segments[2]!)) {
      return fail('malformed', 'not a compact JWS');
    }
    const header = decodeJson(segments[0]!);
    const unverified = decodeJson(segments[1]!);
    if (!isObject(header) || !isObject(unverified)) return fail('malformed', 'header or payload is not a JSON object');
    const alg = own(header, 'alg');
    if (!isSignatureAlgorithm(alg)) return fail('unsupported_algorithm', `alg ${printable(String(alg), 32)}`);
    if (segments[2] === '') return fail('malformed', 'no signature');
    if (own(header, 'crit') !== undefined) return fail('malformed', 'crit header');
    const kid = own(header, 'kid');
    if (kid !== undefined && (typeof kid !== 'string' || kid.length > 256)) return fail('malformed', 'kid is not a short string');
    const issuer = own(unverified, 'iss');
    if (typeof issuer !== 'string') return fail('missing_claim', 'iss');
    const seen = { issuer: printable(issuer) };

    const candidates = policies.filter((policy) => policy.status === 'active' && policy.issuer === issuer);
    if (candidates.length === 0) return fail('untrusted_issuer', 'no policy names this issuer', seen);

    const lookup = await this.keys.keyFor(issuer, { alg, ...(kid !== undefined ? { kid } : {}) });
    if (lookup.status === 'unavailable') return fail('issuer_unavailable', lookup.detail, seen);
    if (lookup.status === 'refused') return fail('issuer_not_allowed', lookup.detail, seen);
    if (lookup.status !== 'found') {
      return fail(lookup.status, kid === undefined ? lookup.detail : `${lookup.detail} (kid ${printable(kid, 64)})`, seen);
    }
    let payload: unknown;
    try {
      const verified = await compactVerify(token, lookup.key, { algorithms: [alg] });
      payload = JSON.parse(new TextDecoder().decode(verified.payload));
    } catch (error) {
      if (error instanceof joseErrors.JWSSignatureVerificationFailed)
        return fail('bad_signature', `signature does not hold (${alg})`, seen);
      if (error instanceof joseErrors.JOSEError || error instanceof SyntaxError) return fail('malformed', 'not a valid JWS', seen);
      // What the platform refuses about the key itself (an RSA modulus under 2048 bits).
      return fail('key_mismatch', error instanceof Error ? printable(error.message, 120) : 'key refused', seen);
    }
    if (!isObject(payload)) return fail('malformed', 'payload is not a JSON object', seen);

    const verified = this.readClaims(payload, issuer, alg, lookup.keyId);
    if ('ok' in verified) return { ...verified, ...seen };
    const proven = { ...seen, subject: printable(verified.subject) };
    const timing = this.timeProblem(verified);
    if (timing) return { ...timing, ...proven };
    return matchPolicy(candidates, verified, proven);
  }

  private readClaims(
    claims: Record<string, unknown>,
    issuer: string,
    algorithm: SignatureAlgorithm,
    keyId: string | undefined,
  ): VerifiedSubjectToken | Failure {
    const subject = own(claims, 'sub');
    const exp = own(claims, 'exp');
    const iat = own(claims, 'iat');
    const nbf = own(claims, 'nbf');
    const aud = own(claims, 'aud');
    const jti = own(claims, 'jti');
    if (typeof subject !== 'string') return fail('missing_claim', 'sub is not a string');
    if (!isTime(exp)) return fail('missing_claim', 'exp is not a number');
    if (!isTime(iat)) return fail('missing_claim', 'iat is not a number');
    if (nbf !== undefined && !isTime(nbf)) return fail('missing_claim', 'nbf is not a number');
    const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
    return {
      issuer,
      subject,
      audiences,
      issuedAt: iat,
      expiresAt: exp,
      ...(nbf !== undefined ? { notBefore: nbf } : {}),
      ...(typeof jti === 'string' ? { tokenId: jti } : {}),
      algorithm,
      ...(keyId !== undefined ? { keyId } : {}),
      claims,
    };
  }

  private timeProblem(token: VerifiedSubjectToken): Failure | undefined {
    const now = this.clock.millis() / 1000;
    if (now >= token.expiresAt + CLOCK_SKEW_SECONDS) return fail('expired', `exp ${token.expiresAt}, now ${Math.floor(now)}`);
    if (token.notBefore !== undefined && now + CLOCK_SKEW_SECONDS < token.notBefore) {
      return fail('not_yet_valid', `nbf ${token.notBefore}, now ${Math.floor(now)}`);
    }
    if (now + CLOCK_SKEW_SECONDS < token.issuedAt) return fail('issued_in_future', `iat ${token.issuedAt}, now ${Math.floor(now)}`);
    if (now - token.issuedAt > MAX_TOKEN_AGE_SECONDS + CLOCK_SKEW_SECONDS) {
      return fail('too_old', `iat ${token.issuedAt} is more than ${MAX_TOKEN_AGE_SECONDS} s ago`);
    }
    return undefined;
  }
}

/** How far a policy got: the audience, then the subject, then its claims. */
const STAGES = { audience_mismatch: 1, subject_mismatch: 2, claim_mismatch: 3 } as const;

function matchPolicy(
  candidates: readonly TrustPolicy[],
  token: VerifiedSubjectToken,
  seen: { issuer: string; subject: string },
): SubjectTokenVerdict {
  let nearest: Failure | undefined;
  for (const policy of candidates) {
    const miss = policyMiss(policy, token);
    if (!miss) return { ok: true, policy, token };
    if (!nearest || STAGES[miss.reason] > STAGES[nearest.reason as keyof typeof STAGES]) {
      nearest = { ok: false, ...miss, ...seen, policyId: policy.id };
    }
  }
  return nearest!;
}

function policyMiss(
  policy: TrustPolicy,
  token: VerifiedSubjectToken,
): { reason: 'audience_mismatch' | 'subject_mismatch' | 'claim_mismatch'; detail: string } | undefined {
  if (!token.audiences.includes(policy.audience)) return { reason: 'audience_mismatch', detail: 'aud does not hold the policy audience' };
  if (!subjectMatches(policy.subject, token.subject))
    return { reason: 'subject_mismatch', detail: 'sub does not match the policy subject' };
  for (const [name, value] of Object.entries(policy.claims)) {
    const held = own(token.claims, name);
    // Exact string equality: a number, boolean, array or object never matches, whatever it prints as.
    if (typeof held !== 'string' || held !== value) return { reason: 'claim_mismatch', detail: `claim ${name}` };
  }
  return undefined;
}

function fail(reason: SubjectTokenFailureReason, detail: string, seen: { issuer?: string } = {}): Failure {
  return { ok: false, reason, detail, ...seen };
}
