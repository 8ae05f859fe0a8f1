import { json } from '../shared/http/responses';
import { issueKeySchema } from '../shared/schemas/keys';
import { issuedKeyView } from '../shared/schemas/views';
import { toKeyBody } from '../shared/schemas/view-mappers';
import { httpFunction } from '../app/function-contract';

/** `POST /v1/customer-keys/issue`: a new key, returned whole this one time. */
export const customerKeysIssue = httpFunction({
  kind: 'http',
  name: 'customer-keys-issue',
  route: 'v1/customer-keys/issue',
  methods: ['POST'],
  auth: 'customer',
  summary: 'Issue a key; the full compound key is in this response and nowhere else, ever.',
  input: { body: issueKeySchema },
  docs: {
    responses: {
      201: {
        description: 'The new key and its metadata',
        schema: issuedKeyView,
        links: {
          revoke: {
            operation: 'customer-keys-revoke',
            parameters: { keyId: '$response.body#/metadata/id' },
            description: 'Revoke the new key',
          },
          usage: {
            operation: 'customer-key-usage',
            parameters: { keyId: '$response.body#/metadata/id' },
            description: "The new key's usage",
          },
        },
      },
    },
    errors: ['label_taken', 'key_limit_reached', 'sandbox_read_only'],
    tags: ['Customer keys'],
  },
  handler: async (_request, { services, tenant, actor, requestId, input }) => {
    const issued = await services.keys.issue(tenant, input.body, { actor, requestId });
    return json(201, { key: issued.key, metadata: toKeyBody(issued.metadata) });
  },
});
