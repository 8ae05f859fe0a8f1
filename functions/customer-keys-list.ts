import { type z } from 'zod';
import { json } from '../shared/http/responses';
import { keyListView } from '../shared/schemas/views';
import { toKeyBody } from '../shared/schemas/view-mappers';
import type { HttpFunctionDefinition } from '../app/function-contract';

/** `GET /v1/customer-keys`: every key of the caller's customer, masked. */
export const customerKeysList: HttpFunctionDefinition = {
  kind: 'http',
  name: 'customer-keys-list',
  route: 'v1/customer-keys',
  methods: ['GET'],
  auth: 'customer',
  summary: "Every key of the caller's customer, masked (never a hash, never a secret).",
  docs: { responses: { 200: { description: 'The keys, oldest first', schema: keyListView } }, tags: ['Customer keys'] },
  handler: async (_request, { services, tenant, sandbox }) => {
    // The keys first: listing retires keys past their expiry, so the count read after it is what authenticates.
    const keys = await services.keys.list(tenant);
    const customer = await services.customers.require(tenant);
    const body: z.infer<typeof keyListView> = {
      customer: customer.slug,
      sandbox,
      // The count the cap is held to: every active key, a key rolling out too.
      activeKeyCount: customer.activeKeyCount,
      keyLimit: services.keys.keyLimit(customer),
      keys: keys.map((k) => toKeyBody(k, { stale: services.usage.isStale(k), rotationDue: services.keys.isRotationDue(k) })),
    };
    return json(200, body);
  },
};
