import { json } from '../shared/http/responses';
import { customerKeyParams, updateKeySchema } from '../shared/schemas/keys';
import { keyView } from '../shared/schemas/views';
import { toKeyBody } from '../shared/schemas/view-mappers';
import { httpFunction } from '../app/function-contract';

/** `PATCH /v1/staff/customers/{slug}/keys/{keyId}`: a key's own rate limit. */
export const staffKeysUpdate = httpFunction({
  kind: 'http',
  name: 'staff-keys-update',
  route: 'v1/staff/customers/{slug}/keys/{keyId}',
  methods: ['PATCH'],
  auth: 'staff',
  summary: "Set a key's own rate limit, or return it to its plan's with null. Applies on every instance within a second.",
  input: { params: customerKeyParams, body: updateKeySchema },
  docs: {
    responses: { 200: { description: 'The key', schema: keyView } },
    errors: ['not_found'],
    tags: ['Staff'],
  },
  handler: async (_request, { services, actor, requestId, input }) => {
    const key = await services.keys.setRateLimit(input.params.slug, input.params.keyId, input.body.rateLimit ?? undefined, {
      actor,
      requestId,
    });
    return json(200, toKeyBody(key, { stale: services.usage.isStale(key), rotationDue: services.keys.isRotationDue(key) }));
  },
});
