import { z } from 'zod';
import { queryObject } from '../shared/http/body';
import { revokeQuerySchema } from '../shared/schemas/keys';
import { parseInput } from '../shared/validation';
import type { HttpFunctionDefinition } from './definitions';

/** `DELETE /v1/customer-keys/{keyId}`: revoke at once, for good; idempotent. */
export const customerKeysRevoke: HttpFunctionDefinition = {
  kind: 'http',
  name: 'customer-keys-revoke',
  route: 'v1/customer-keys/{keyId}',
  methods: ['DELETE'],
  auth: 'customer',
  summary: 'Revoke a key. The last active key needs ?force=true (revoking it stops every integration).',
  docs: {
    params: z.object({ keyId: z.string() }),
    query: revokeQuerySchema,
    responses: { 204: { description: 'Revoked (or already revoked)' } },
    errors: ['not_found', 'last_active_key', 'sandbox_read_only'],
    tags: ['Customer keys'],
  },
  handler: async (request, { services, tenant, actor, requestId }) => {
    const { force } = parseInput(revokeQuerySchema, queryObject(request), 'query');
    await services.keys.revoke(tenant, request.params.keyId ?? '', { actor, requestId }, { force });
    return { status: 204 };
  },
};
