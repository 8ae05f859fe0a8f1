import { json } from '../shared/http/responses';
import { keyIdParams, patchKeySchema } from '../shared/schemas/keys';
import { keyView } from '../shared/schemas/views';
import { toKeyBody } from '../shared/schemas/view-mappers';
import { httpFunction } from '../app/function-contract';

/** `PATCH /v1/customer-keys/{keyId}`: set or clear an active key's expiry and IP allowlist. */
export const customerKeysUpdate = httpFunction({
  kind: 'http',
  name: 'customer-keys-update',
  route: 'v1/customer-keys/{keyId}',
  methods: ['PATCH'],
  auth: 'customer',
  summary:
    "Set or clear (null) an active key's expiry (at most a year ahead; any UTC offset, kept in UTC) and IP allowlist. A management key may only narrow a management key's (an earlier expiry, an allowlist within the current one). Every instance applies the change within about a second.",
  input: { params: keyIdParams, body: patchKeySchema },
  docs: {
    responses: { 200: { description: 'The key as it now is', schema: keyView } },
    errors: ['not_found', 'conflict', 'key_expired', 'key_rolling_out', 'forbidden', 'sandbox_read_only'],
    tags: ['Customer keys'],
  },
  handler: async (_request, { services, tenant, actor, requestId, input }) => {
    const key = await services.keys.updateAccess(tenant, input.params.keyId, input.body, { actor, requestId });
    return json(200, toKeyBody(key, { stale: services.usage.isStale(key), rotationDue: services.keys.isRotationDue(key) }));
  },
});
