import { json } from '../shared/http/responses';
import { updateKeySettingsSchema } from '../shared/schemas/secret-scanning';
import { keySettingsView } from '../shared/schemas/views';
import { httpFunction, type HttpFunctionDefinition } from '../app/function-contract';

/** `GET /v1/customer-keys/settings`: the customer's key settings (its leaked-key policy). */
export const customerKeysSettingsGet: HttpFunctionDefinition = {
  kind: 'http',
  name: 'customer-keys-settings-get',
  route: 'v1/customer-keys/settings',
  methods: ['GET'],
  auth: 'customer',
  summary: "The customer's key settings: what happens to a key of theirs found in public (the leaked-key policy).",
  docs: { responses: { 200: { description: 'The settings', schema: keySettingsView } }, tags: ['Customer keys'] },
  handler: async (_request, { services, tenant }) => {
    const customer = await services.customers.require(tenant);
    return json(200, { customer: customer.slug, leakedKeyPolicy: customer.leakedKeyPolicy });
  },
};

/** `PATCH /v1/customer-keys/settings`: a portal admin chooses the leaked-key policy. */
export const customerKeysSettingsUpdate = httpFunction({
  kind: 'http',
  name: 'customer-keys-settings-update',
  route: 'v1/customer-keys/settings',
  methods: ['PATCH'],
  auth: 'customer',
  summary:
    'Choose what happens to a key found in public: revoke (at once; the default) or notify (it keeps working, marked exposed). Portal admins only.',
  input: { body: updateKeySettingsSchema },
  docs: {
    responses: { 200: { description: 'The settings as they now are', schema: keySettingsView } },
    errors: ['sandbox_read_only'],
    tags: ['Customer keys'],
  },
  handler: async (_request, { services, tenant, actor, requestId, input }) => {
    const policy = await services.leaks.setPolicy(tenant, input.body.leakedKeyPolicy, { actor, requestId });
    return json(200, { customer: tenant, leakedKeyPolicy: policy });
  },
});
