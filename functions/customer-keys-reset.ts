import { json } from '../shared/http/responses';
import { resetView } from '../shared/schemas/views';
import { toKeyBody } from '../shared/schemas/view-mappers';
import type { HttpFunctionDefinition } from '../app/function-contract';

/** `POST /v1/customer-keys/reset`: replace every active key in one call. */
export const customerKeysReset: HttpFunctionDefinition = {
  kind: 'http',
  name: 'customer-keys-reset',
  route: 'v1/customer-keys/reset',
  methods: ['POST'],
  auth: 'customer',
  summary: 'Replace every active key (same labels, applications, types); the old keys stop at once; the new values are returned once.',
  docs: {
    responses: { 200: { description: 'The replacement keys, each shown this once', schema: resetView } },
    errors: ['sandbox_read_only'],
    tags: ['Customer keys'],
  },
  handler: async (_request, { services, tenant, actor, requestId }) => {
    const result = await services.keys.reset(tenant, { actor, requestId });
    return json(200, { keys: result.keys.map((k) => ({ key: k.key, metadata: toKeyBody(k.metadata) })), replaced: result.replaced });
  },
};
