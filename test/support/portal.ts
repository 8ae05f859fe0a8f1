import { createHmac } from 'node:crypto';
import { signLocalPortalToken, type PortalRole } from '../../shared/auth/portal-tokens';
import type { Actor, Operation } from '../../shared/domain';
import type { ServiceContext } from '../../app/context';

/** Portal token settings of the test run (the HS256 path; production uses a JWKS). */
export const TEST_PORTAL_ENV = {
  VERIPROOF_LOCAL_MODE: 'true',
  PORTAL_JWT_SECRET: 'test-portal-secret-0123456789abcdef0123456789',
  PORTAL_JWT_ISSUER: 'https://portal.test/issuer',
  PORTAL_JWT_AUDIENCE: 'veriproof-keys-test',
};

/**
 * Portal rate limits far above what any test sends, for the test services (a manual clock never
 * refills a bucket); the tests of the limits themselves set their own.
 */
export const UNLIMITED_PORTAL_ENV = {
  PORTAL_RATE_LIMIT_USER_PER_SECOND: '1000000',
  PORTAL_RATE_LIMIT_USER_BURST: '10000000',
  PORTAL_RATE_LIMIT_CUSTOMER_PER_SECOND: '1000000',
  PORTAL_RATE_LIMIT_CUSTOMER_BURST: '10000000',
  // The token exchange's limits too (the tests of those limits set their own).
  TOKEN_EXCHANGE_RATE_LIMIT_ADDRESS_PER_SECOND: '1000000',
  TOKEN_EXCHANGE_RATE_LIMIT_ADDRESS_BURST: '10000000',
  TOKEN_EXCHANGE_RATE_LIMIT_CUSTOMER_PER_SECOND: '1000000',
  TOKEN_EXCHANGE_RATE_LIMIT_CUSTOMER_BURST: '10000000',
};

export const testActor: Actor = { type: 'user', id: 'test-user', name: 'Test User' };

/** An operation for service calls made directly by tests. */
export const op = (name = 'test'): Operation => ({ actor: { ...testActor, name }, requestId: `test-${name}` });

/** A portal token for the test services. */
export function portalToken(
  services: ServiceContext,
  claims: { customer?: string; roles: PortalRole[]; sub?: string; name?: string },
  ttlSeconds = 600,
): Promise<string> {
  return signLocalPortalToken(
    services.useCases.config.portal,
    { sub: claims.sub ?? 'user-1', name: claims.name ?? 'Ada Admin', ...claims },
    ttlSeconds,
  );
}

/**
 * Portal tokens signed with the right local secret but with hostile headers. `invalid` ones
 * (unknown critical extensions named with network words, an unencoded payload, an unknown
 * algorithm) must be refused with 401; `hints` carry remote-key hints (`jku`, `x5u`, a `kid`
 * path) that must be ignored, never followed. None may ever produce a 5xx.
 */
export function craftedPortalTokens(
  services: ServiceContext,
  claims: { customer?: string; roles: PortalRole[] },
): { invalid: string[]; hints: string[] } {
  const { sharedSecret, issuer, audience } = services.useCases.config.portal;
  const payload = { sub: 'crafted', iss: issuer, aud: audience, exp: Math.floor(Date.now() / 1000) + 3600, ...claims };
  const sign = (header: Record<string, unknown>) => {
    const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    return `${input}.${createHmac('sha256', sharedSecret ?? '')
      .update(input)
      .digest('base64url')}`;
  };
  return {
    invalid: [
      { alg: 'HS256', crit: ['network fetch ECONNREFUSED timeout'], 'network fetch ECONNREFUSED timeout': true },
      { alg: 'HS256', crit: ['b64'], b64: false },
      { alg: 'HS256', crit: 'fetch' },
      { alg: 'HS999' },
    ].map(sign),
    hints: [
      { alg: 'HS256', jku: 'http://169.254.169.254/keys', kid: '../../etc/passwd' },
      { alg: 'HS256', x5u: 'http://127.0.0.1:1/cert', x5c: ['not-a-cert'] },
    ].map(sign),
  };
}
