import fc from 'fast-check';
import type { HttpFunctionDefinition } from '../../app/function-contract';
import { routeCodes } from '../../functions/openapi-document';
import { functionDefinitions } from '../../functions/registry';
import type { ServiceContext } from '../../app/context';
import { pathFor, rawRequest, requestArbitrary, violation, type Credentials } from '../support/fuzz';
import { serveApp } from '../support/http';
import { craftedPortalTokens, op, portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { customerWithKey, testServices } from '../support/services';

/** How many random requests per run: a quick pass in `npm test`, a long one in `npm run test:resilience`. */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 300);

describe('fuzzing every HTTP route (fast-check, real Azurite)', () => {
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  let credentials: Credentials;

  beforeAll(async () => {
    services = testServices({ PLANS: '{"pro":{"requestsPerSecond":100000,"burst":100000,"keyLimit":1000}}' });
    await services.revocations.poll();
    app = await serveApp(services);
    const { customer, key } = await customerWithKey(services);
    const management = await services.useCases.keys.issue(
      customer.slug,
      { label: 'fuzz-bot', application: 'fuzz', type: 'management' },
      op(),
    );
    trackSecret(management.key);
    credentials = {
      ingestKey: key,
      managementKey: management.key,
      adminToken: await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'] }),
      staffToken: await portalToken(services, { roles: ['Staff'] }),
      craftedTokens: [
        craftedPortalTokens(services, { customer: customer.slug, roles: ['CustomerAdmin'] }),
        craftedPortalTokens(services, { roles: ['Staff'] }),
      ].flatMap((t) => [...t.invalid, ...t.hints]),
    };
  });
  afterAll(async () => {
    await app.close();
    await services.dispose();
  });

  it('answers correctly signed tokens with hostile headers on every portal route with 401, never a 5xx', async () => {
    const routes = functionDefinitions.filter(
      (d): d is HttpFunctionDefinition => d.kind === 'http' && (d.auth === 'customer' || d.auth === 'staff'),
    );
    const customer = (await services.useCases.customers.list())[0]!;
    const crafted = craftedPortalTokens(services, { customer: customer.slug, roles: ['CustomerAdmin'] });
    const call = (route: HttpFunctionDefinition, token: string) =>
      rawRequest(app.url, route.methods[0]!, pathFor(route, ['key_01ARZ3NDEKTSV4RRFFQ69G5FAV', customer.slug, 'issue-key', 'x'], []), [
        ['authorization', `Bearer ${token}`],
      ]);
    for (const route of routes) {
      for (const token of crafted.invalid) {
        const response = await call(route, token);
        expect({ route: route.name, status: response.status, code: (JSON.parse(response.body) as { code?: string }).code }).toEqual({
          route: route.name,
          status: 401,
          code: 'unauthenticated',
        });
      }
      // Remote key hints are ignored: the token stands or falls by the configured key alone.
      for (const token of crafted.hints)
        expect({ route: route.name, status: (await call(route, token)).status < 500 }).toEqual({ route: route.name, status: true });
    }
  });

  it(`keeps its invariants over ${FUZZ_RUNS} random requests: no 5xx, problem+json on every error, no secret echoed, no crash`, async () => {
    const routes = functionDefinitions.filter((d): d is HttpFunctionDefinition => d.kind === 'http');
    const secrets = [
      credentials.ingestKey,
      credentials.managementKey,
      credentials.adminToken,
      credentials.staffToken,
      ...[credentials.ingestKey, credentials.managementKey].map((k) => k.split('.').at(-1)!),
    ];
    let unhandled: unknown;
    const onUnhandled = (reason: unknown) => (unhandled = reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await fc.assert(
        fc.asyncProperty(requestArbitrary(routes, credentials), async (c) => {
          const method = c.definition.methods[0]!;
          const headers: Array<[string, string]> = [...c.credential, ...c.headers];
          if (c.contentType) headers.push(['content-type', c.contentType]);
          const withBody = method !== 'GET' && method !== 'DELETE' ? c.body : undefined;
          const response = await rawRequest(app.url, method, pathFor(c.definition, c.params, c.query), headers, withBody);
          const broken = violation(response, secrets, routeCodes(c.definition), c.definition.docs?.oauthErrors);
          if (broken) throw new Error(`${method} /${c.definition.route}: ${broken}`);
        }),
        { numRuns: FUZZ_RUNS },
      );
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toBeUndefined();
    // The host still answers after all that, storage included.
    await services.useCases.health.probeAll();
    expect((await app.fetch('/v1/health')).status).toBe(200);
  }, 300_000);
});
