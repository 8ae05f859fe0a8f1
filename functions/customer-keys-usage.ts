import { json } from '../shared/http/responses';
import { keyIdParams, usageQuerySchema } from '../shared/schemas/keys';
import { customerUsageView, keyUsageView } from '../shared/schemas/views';
import { toCustomerUsageBody, toKeyUsageBody } from '../shared/schemas/view-mappers';
import { httpFunction, type HttpFunctionDefinition } from '../app/function-contract';

/** `GET /v1/customer-keys/{keyId}/usage?from=&to=&granularity=hour|day`: one key's requests over time. */
export const customerKeyUsage = httpFunction({
  kind: 'http',
  name: 'customer-key-usage',
  route: 'v1/customer-keys/{keyId}/usage',
  methods: ['GET'],
  auth: 'customer',
  summary: 'Requests of one key per hour or per day (accepted and rate-limited), 30 days by default, at most 40.',
  input: { params: keyIdParams, query: usageQuerySchema },
  docs: {
    responses: { 200: { description: 'The usage series', schema: keyUsageView } },
    errors: ['not_found'],
    tags: ['Usage'],
  },
  handler: async (_request, { services, tenant, input }) =>
    json(200, toKeyUsageBody(await services.usage.keyUsage(tenant, input.params.keyId, input.query))),
});

/** `GET /v1/customer-keys/usage`: every key of the customer over the last 30 days, in one call. */
export const customerKeysUsage: HttpFunctionDefinition = {
  kind: 'http',
  name: 'customer-keys-usage',
  route: 'v1/customer-keys/usage',
  methods: ['GET'],
  auth: 'customer',
  summary: 'Every key of the customer over the last 30 days: totals and a daily series per key, for a usage page.',
  docs: { responses: { 200: { description: 'Usage per key', schema: customerUsageView } }, tags: ['Usage'] },
  handler: async (_request, { services, tenant }) => json(200, toCustomerUsageBody(await services.usage.customerUsage(tenant))),
};
