import { json } from '../shared/http/responses';
import { whoamiView } from '../shared/schemas/views';
import type { HttpFunctionDefinition } from '../app/function-contract';

/**
 * `GET /v1/whoami` (API key or federated access token): who the presented credential resolves to.
 * No secret, no hash. A federated token acts as its trust policy: the policy's id and label are
 * the key's, and `trustPolicy` names it.
 */
export const whoami: HttpFunctionDefinition = {
  kind: 'http',
  name: 'whoami',
  route: 'v1/whoami',
  methods: ['GET'],
  auth: 'apiKey',
  summary:
    'The customer and key the presented API key resolves to; for a federated access token (`key.type` `federated`), the trust policy it was minted under.',
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
      ...(identity.keyType === 'federated' ? { trustPolicy: { id: identity.keyId, label: identity.keyLabel } } : {}),
    }),
};
