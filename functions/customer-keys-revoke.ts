import { keyIdParams, revokeQuerySchema } from '../shared/schemas/keys';
import { httpFunction } from '../app/function-contract';

/** `DELETE /v1/customer-keys/{keyId}`: revoke at once, for good; idempotent. */
export const customerKeysRevoke = httpFunction({
  kind: 'http',
  name: 'customer-keys-revoke',
  route: 'v1/customer-keys/{keyId}',
  methods: ['DELETE'],
  auth: 'customer',
  summary: 'Revoke a key. The last active key needs ?force=true (revoking it stops every integration).',
  input: { params: keyIdParams, query: revokeQuerySchema },
  docs: {
    responses: { 204: { description: 'Revoked (or already revoked)' } },
    errors: ['not_found', 'last_active_key', 'sandbox_read_only'],
    tags: ['Customer keys'],
  },
  handler: async (_request, { services, tenant, actor, requestId, input }) => {
    await services.keys.revoke(tenant, input.params.keyId, { actor, requestId }, { force: input.query.force });
    return { status: 204 };
  },
});
