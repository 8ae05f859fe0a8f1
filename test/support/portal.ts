import { signLocalPortalToken, type PortalRole } from '../../shared/auth/portal-tokens';
import type { Actor } from '../../shared/domain';
import type { Operation } from '../../shared/services/key-service';
import type { ServiceContext } from '../../shared/services/context';

/** Portal token settings of the test run (the HS256 path; production uses a JWKS). */
export const TEST_PORTAL_ENV = {
  PORTAL_JWT_SECRET: 'test-portal-secret-0123456789abcdef0123456789',
  PORTAL_JWT_ISSUER: 'https://portal.test/issuer',
  PORTAL_JWT_AUDIENCE: 'veriproof-keys-test',
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
  return signLocalPortalToken(services.config.portal, { sub: claims.sub ?? 'user-1', name: claims.name ?? 'Ada Admin', ...claims }, ttlSeconds);
}
