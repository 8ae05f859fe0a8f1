import { json } from '../shared/http/responses';
import { keyIdParams, rollKeySchema } from '../shared/schemas/keys';
import { rolledKeyView } from '../shared/schemas/views';
import { toKeyBody } from '../shared/schemas/view-mappers';
import { httpFunction } from '../app/function-contract';

/** `POST /v1/customer-keys/{keyId}/roll`: a replacement key, with the old one working for an overlap. */
export const customerKeysRoll = httpFunction({
  kind: 'http',
  name: 'customer-keys-roll',
  route: 'v1/customer-keys/{keyId}/roll',
  methods: ['POST'],
  auth: 'customer',
  summary:
    'Roll a key: a new key with the same label, application, type and allowlist (shown once), while the old one keeps working for overlapHours (0 to 168) and then expires. Both count against the cap until the old one stops (an overlap needs a free place; 0 needs none).',
  input: { params: keyIdParams, body: rollKeySchema },
  docs: {
    responses: {
      201: {
        description: 'The new key (shown this once) and the old one, rolling out',
        schema: rolledKeyView,
        links: {
          revokeOld: {
            operation: 'customer-keys-revoke',
            parameters: { keyId: '$response.body#/old/id' },
            description: 'Stop the old key before its overlap ends',
          },
        },
      },
    },
    errors: ['not_found', 'conflict', 'key_expired', 'key_rolling_out', 'key_limit_reached', 'forbidden', 'sandbox_read_only'],
    tags: ['Customer keys'],
  },
  handler: async (_request, { services, tenant, actor, requestId, input }) => {
    const rolled = await services.keys.roll(tenant, input.params.keyId, input.body, { actor, requestId });
    return json(201, { key: rolled.key, metadata: toKeyBody(rolled.metadata), old: toKeyBody(rolled.old) });
  },
});
