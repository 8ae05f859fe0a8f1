import { json } from '../shared/http/responses';
import { whoamiView } from '../shared/schemas/views';
import type { HttpFunctionDefinition } from '../app/function-contract';

/** `GET /v1/whoami` (API key): who the presented key resolves to. No secret, no hash. */
export const whoami: HttpFunctionDefinition = {
  kind: 'http',
  name: 'whoami',
  route: 'v1/whoami',
  methods: ['GET'],
  auth: 'apiKey',
  summary: 'The customer and key the presented API key resolves to.',
  docs: { responses: { 200: { description: 'The identity behind the key', schema: whoamiView } }, tags: ['Ingest'] },
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
