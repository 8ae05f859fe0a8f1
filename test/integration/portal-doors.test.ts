import { SignJWT } from 'jose';
import type { HttpFunctionDefinition } from '../../app/function-contract';
import { routeCodes } from '../../functions/openapi-document';
import { functionDefinitions } from '../../functions/registry';
import type { ErrorCode } from '../../shared/errors';
import type { ServiceContext } from '../../app/context';
import { problemOf, serveApp } from '../support/http';
import { op, portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { customerWithKey, testServices } from '../support/services';

/**
 * The portal doors' failure table, like the API-key door's: every `customer` and `staff` route
 * of the registry, called with no token, a bad signature, an expired token, the wrong role,
 * another customer's token and an ingest key, answers the documented problem, and every code it
 * answers is one its OpenAPI description lists.
 */
const portalRoutes = functionDefinitions.filter(
  (d): d is HttpFunctionDefinition => d.kind === 'http' && (d.auth === 'customer' || d.auth === 'staff'),
);

interface Fixtures {
  slug: string;
  keyId: string;
  requestId: string;
  adminToken: string;
  staffToken: string;
  otherAdminToken: string;
  expiredToken: string;
  ingestKey: string;
}

interface FailureCase {
  name: string;
  headers: (f: Fixtures, route: HttpFunctionDefinition) => Promise<Record<string, string>>;
  /** The answer on a customer route and on a staff route. */
  expect: { customer: ErrorCode; staff: ErrorCode };
  /** Only routes that name a resource of the customer (another customer's token reaches its own data elsewhere). */
  onlyNamedResources?: boolean;
}

const CASES: FailureCase[] = [
  { name: 'no token', headers: async () => ({}), expect: { customer: 'unauthenticated', staff: 'unauthenticated' } },
  {
    name: 'a token signed with another secret',
    headers: async (f) => ({
      authorization: `Bearer ${await new SignJWT({ roles: ['CustomerAdmin', 'Staff'], customer: f.slug })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('mallory')
        .setIssuer('https://portal.test/issuer')
        .setAudience('veriproof-keys-test')
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode('another-secret-of-at-least-thirty-two-characters'))}`,
    }),
    expect: { customer: 'unauthenticated', staff: 'unauthenticated' },
  },
  {
    name: 'an expired token',
    headers: async (f) => ({ authorization: `Bearer ${f.expiredToken}` }),
    expect: { customer: 'unauthenticated', staff: 'unauthenticated' },
  },
  {
    // A staff token on a customer route, an admin token on a staff route.
    name: 'the wrong role',
    headers: async (f, route) => ({ authorization: `Bearer ${route.auth === 'staff' ? f.adminToken : f.staffToken}` }),
    expect: { customer: 'forbidden', staff: 'forbidden' },
  },
  {
    name: "another customer's admin",
    headers: async (f) => ({ authorization: `Bearer ${f.otherAdminToken}` }),
    expect: { customer: 'not_found', staff: 'forbidden' },
    onlyNamedResources: true,
  },
  {
    name: 'an ingest key',
    headers: async (f) => ({ 'x-api-key': f.ingestKey }),
    expect: { customer: 'forbidden', staff: 'unauthenticated' },
  },
];

describe('portal doors: the failure table on every customer and staff route', () => {
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  let fixtures: Fixtures;

  beforeAll(async () => {
    services = testServices();
    app = await serveApp(services);
    const { customer, key, keyId } = await customerWithKey(services);
    const other = await customerWithKey(services);
    const request = await services.useCases.requests.submit(customer.slug, { action: 'rotate-tenant-key', params: {} }, op());
    const issued = await services.useCases.keys.issue(customer.slug, { label: 'spare', application: 'a' }, op());
    trackSecret(issued.key);
    fixtures = {
      slug: customer.slug,
      keyId,
      requestId: request.request.id,
      adminToken: await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'] }),
      staffToken: await portalToken(services, { roles: ['Staff'] }),
      otherAdminToken: await portalToken(services, { customer: other.customer.slug, roles: ['CustomerAdmin'] }),
      ingestKey: key,
      expiredToken: await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin', 'Staff'] }, -120),
    };
  });
  afterAll(async () => {
    await app.close();
    await services.dispose();
  });

  /** A path naming the customer's own resources: its slug, a key of it, a request of it. */
  const pathOf = (route: HttpFunctionDefinition) =>
    `/${route.route.replace(/\{(\w+)\}/g, (_m, name: string) => ({ slug: fixtures.slug, keyId: fixtures.keyId, id: fixtures.requestId, action: 'issue-key' })[name] ?? name)}`;

  for (const failure of CASES) {
    it(`answers ${failure.name} with the documented problem on every route`, async () => {
      const seen: string[] = [];
      for (const route of portalRoutes) {
        const named = /\{(keyId|id)\}/.test(route.route);
        if (failure.onlyNamedResources && route.auth === 'customer' && !named) continue;
        const method = route.methods[0]!;
        const response = await app.fetch(pathOf(route), {
          method,
          headers: { ...(await failure.headers(fixtures, route)), ...(method === 'GET' ? {} : { 'content-type': 'application/json' }) },
          // A body every route's schema takes (issue, roll, key access), so the door and the owner decide.
          ...(method === 'GET' ? {} : { body: JSON.stringify({ label: 'x', application: 'y', overlapHours: 1, allowedIps: [] }) }),
        });
        const expected = route.auth === 'staff' ? failure.expect.staff : failure.expect.customer;
        const problem = await problemOf(response);
        expect({ route: route.name, code: problem.code }).toEqual({ route: route.name, code: expected });
        expect({ route: route.name, documented: routeCodes(route).includes(problem.code as ErrorCode) }).toEqual({
          route: route.name,
          documented: true,
        });
        seen.push(route.name);
      }
      expect(seen.length).toBeGreaterThan(failure.onlyNamedResources ? 4 : 15);
    });
  }
});
