import { SignJWT, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import type { Config } from '../config';
import { ApiError, DependencyUnavailableError } from '../errors';
import { isValidSlug } from '../keys/compound-key';
import { withoutInvisibles } from '../text/visible-text';

export const PORTAL_ROLES = ['CustomerAdmin', 'Staff'] as const;
export type PortalRole = (typeof PORTAL_ROLES)[number];

/** A signed-in portal user, as the token's claims describe them. */
export interface PortalUser {
  userId: string;
  name: string;
  /** The customer the user administers (CustomerAdmin tokens carry it). */
  customerSlug: string | undefined;
  roles: PortalRole[];
}

const claimsSchema = z.object({
  sub: z.string().min(1).max(256),
  name: z.string().max(256).optional(),
  customer: z.string().refine(isValidSlug).optional(),
  roles: z.array(z.string()).max(50).default([]),
});

/** Asymmetric algorithms accepted from the portal's JWKS; `none` and HMAC are never accepted there. */
const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];
const CLOCK_TOLERANCE_SECONDS = 30;

const unauthenticated = (detail: string) =>
  new ApiError('unauthenticated', detail, { headers: { 'WWW-Authenticate': 'Bearer realm="veriproof-portal", error="invalid_token"' } });

/**
 * Verifies portal session tokens: against the portal's JWKS in production (keys fetched and
 * cached by jose, refreshed on an unknown `kid`), or an HS256 shared secret locally. Issuer,
 * audience, expiry and not-before are all checked.
 */
export class PortalTokenVerifier {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  private readonly algorithms: string[];

  constructor(private readonly config: Config['portal']) {
    if (config.jwksUrl) {
      this.key = jwksOrOutage(createRemoteJWKSet(new URL(config.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 }));
      this.algorithms = JWKS_ALGORITHMS;
    } else if (config.sharedSecret) {
      this.key = new TextEncoder().encode(config.sharedSecret);
      this.algorithms = ['HS256'];
    } else {
      throw new Error('PortalTokenVerifier needs a JWKS URL or a shared secret');
    }
  }

  /** The user a token names; 401 `unauthenticated` for anything that is not a valid portal token. */
  async verify(token: string): Promise<PortalUser> {
    if (token.length > 8192 || token.split('.').length !== 3) throw unauthenticated('The bearer token is not a portal session token.');
    let payload: unknown;
    try {
      const verified = await jwtVerify(token, this.key as Uint8Array, {
        issuer: this.config.issuer,
        audience: this.config.audience,
        algorithms: this.algorithms,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'sub'],
      });
      payload = verified.payload;
    } catch (error) {
      // Decided by type, never by message text (a token's own header can put any words there).
      if (error instanceof DependencyUnavailableError) throw error; // the key set is unreachable: 503
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated('The portal session token has expired.');
      throw unauthenticated('The portal session token is not valid.');
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw unauthenticated('The portal session token lacks required claims.');
    return {
      userId: claims.data.sub,
      // The identity provider's name for the user, shown in the audit log: shown as it reads.
      name: withoutInvisibles(claims.data.name ?? claims.data.sub).trim() || claims.data.sub,
      customerSlug: claims.data.customer,
      roles: claims.data.roles.filter((r): r is PortalRole => (PORTAL_ROLES as readonly string[]).includes(r)),
    };
  }
}

/**
 * The remote key set, with its failures sorted: a token whose `kid` the set lacks (or matches
 * twice) is the token's problem (401); any other failure to produce a key (the JWKS unreachable,
 * slow, not JSON, not a key set) is the issuer's, reported as a dependency outage (503).
 */
function jwksOrOutage(keys: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await keys(header, token);
    } catch (error) {
      if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) throw error;
      throw new DependencyUnavailableError('portal JWKS', error);
    }
  };
}

export interface LocalTokenClaims {
  sub: string;
  name?: string;
  customer?: string;
  roles: PortalRole[];
}

/** Signs a portal token with the local HS256 secret (the admin CLI, tests, the local sign-in). */
export async function signLocalPortalToken(config: Config['portal'], claims: LocalTokenClaims, ttlSeconds = 3600): Promise<string> {
  if (!config.sharedSecret) throw new Error('Local portal tokens need PORTAL_JWT_SECRET (they are never issued in Azure).');
  const { sub, ...rest } = claims;
  return new SignJWT(rest)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuer(config.issuer)
    .setAudience(config.audience)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(new TextEncoder().encode(config.sharedSecret));
}
