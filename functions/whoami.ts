import { json } from '../shared/http/responses';
import type { HttpFunctionDefinition } from './definitions';

/** `GET /v1/whoami` (API key): who the presented key resolves to. No secret, no hash. */
export const whoami: HttpFunctionDefinition = {
  kind: 'http',
  name: 'whoami',
  route: 'v1/whoami',
  methods: ['GET'],
  auth: 'apiKey',
  summary: 'The customer and key the presented API key resolves to.',
  handler: async (_request, { identity }) =>
    json(200, {
      customer: { id: identity.customerId, slug: identity.customerSlug, plan: identity.plan },
      key: {
        id: identity.keyId,
        label: identity.keyLabel,
        application: identity.application,
        environment: identity.environment,
        type: identity.keyType,
      },
    }),
};
