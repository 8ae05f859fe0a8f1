import { z } from 'zod';
import { PORTAL_ROLES, signLocalPortalToken } from '../shared/auth/portal-tokens';
import { json } from '../shared/http/responses';
import { shown, slugView, timestamp } from '../shared/schemas/examples';
import { slugSchema, text } from '../shared/schemas/keys';
import { httpFunction } from '../app/function-contract';

/** Local tokens last a working day; production tokens come from the portal's identity provider. */
const LOCAL_TOKEN_TTL_SECONDS = 8 * 3600;

/** A CustomerAdmin signs in for a customer; Staff for none (a customer sent along is ignored). */
const signInSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('CustomerAdmin'), customer: slugSchema, name: text(100, 'Local user').default('Local user') }),
  z.object({ role: z.literal('Staff'), customer: slugSchema.optional(), name: text(100, 'Local user').default('Local user') }),
]);

/**
 * `GET|POST /v1/local/sign-in` (local only): the customers to pick from, and a portal token
 * for a chosen customer and role, so the portal page can be used without an identity provider.
 */
export const localSignIn = httpFunction({
  kind: 'http',
  name: 'local-sign-in',
  route: 'v1/local/sign-in',
  methods: ['GET', 'POST'],
  auth: 'local',
  summary: 'Local only (PORTAL_JWT_SECRET set, never in Azure): customers to sign in as, and a portal token for one.',
  input: { body: signInSchema },
  docs: {
    responses: {
      200: {
        description: 'GET: the customers; POST: a token',
        schema: z.union([
          z.object({
            customers: z.array(z.object({ slug: slugView, name: shown('Acme Corporation'), plan: shown('pro') })),
            roles: z.array(z.enum(PORTAL_ROLES)),
          }),
          z.object({ token: shown('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJsb2NhbCJ9.c2lnbmF0dXJl'), expiresAt: timestamp }),
        ]),
      },
    },
    errors: ['not_found'],
    tags: ['Local'],
  },
  handler: async (request, { services, input }) => {
    if (request.method === 'GET') {
      const customers = (await services.customers.list()).map(({ slug, name, plan }) => ({ slug, name, plan }));
      return json(200, { customers, roles: PORTAL_ROLES });
    }
    const body = input.body;
    const customer = body.role === 'CustomerAdmin' ? (await services.customers.require(body.customer)).slug : undefined;
    const token = await signLocalPortalToken(
      services.config.portal,
      {
        sub: `local:${body.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`,
        name: body.name,
        roles: [body.role],
        ...(customer ? { customer } : {}),
      },
      LOCAL_TOKEN_TTL_SECONDS,
    );
    // The token's own clock (jose signs with the wall clock), so both say the same instant.
    const expiresAt = new Date(Date.now() + LOCAL_TOKEN_TTL_SECONDS * 1000).toISOString();
    return json(200, { token, expiresAt });
  },
});
