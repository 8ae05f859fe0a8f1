import { readJsonBody } from '../shared/http/body';
import { json } from '../shared/http/responses';
import { issueKeySchema } from '../shared/schemas/keys';
import { issuedKeyView, toKeyBody } from '../shared/schemas/views';
import type { HttpFunctionDefinition } from './definitions';

/** `POST /v1/customer-keys/issue`: a new key, returned whole this one time. */
export const customerKeysIssue: HttpFunctionDefinition = {
  kind: 'http',
  name: 'customer-keys-issue',
  route: 'v1/customer-keys/issue',
  methods: ['POST'],
  auth: 'customer',
  summary: 'Issue a key; the full compound key is in this response and nowhere else, ever.',
  docs: {
    body: issueKeySchema,
    responses: { 201: { description: 'The new key and its metadata', schema: issuedKeyView } },
    errors: ['validation_failed', 'label_taken', 'key_limit_reached', 'sandbox_read_only'],
    tags: ['Customer keys'],
  },
  handler: async (request, { services, tenant, actor, requestId }) => {
    const issued = await services.keys.issue(tenant, await readJsonBody(request), { actor, requestId });
    return json(201, { key: issued.key, metadata: toKeyBody(issued.metadata) });
  },
};
