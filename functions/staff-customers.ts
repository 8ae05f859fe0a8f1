import { z } from 'zod';
import { readJsonBody } from '../shared/http/body';
import { json } from '../shared/http/responses';
import { createCustomerSchema, updateCustomerSchema } from '../shared/schemas/keys';
import { customerView } from '../shared/schemas/views';
import type { HttpFunctionDefinition } from './definitions';

/** `POST /v1/staff/customers`: a new customer, born with its master component. */
export const staffCustomersCreate: HttpFunctionDefinition = {
  kind: 'http',
  name: 'staff-customers-create',
  route: 'v1/staff/customers',
  methods: ['POST'],
  auth: 'staff',
  summary: 'Create a customer (and its master component).',
  docs: { body: createCustomerSchema, responses: { 201: { description: 'The customer', schema: customerView } }, errors: ['validation_failed', 'customer_exists'], tags: ['Staff'] },
  handler: async (request, { services }) => {
    const customer = await services.staff.createCustomer(await readJsonBody(request));
    return json(201, customer, { location: `/v1/staff/customers/${customer.slug}` });
  },
};

/** `GET /v1/staff/customers`: every customer, by slug (the staff screens pick one from it). */
export const staffCustomersList: HttpFunctionDefinition = {
  kind: 'http',
  name: 'staff-customers-list',
  route: 'v1/staff/customers',
  methods: ['GET'],
  auth: 'staff',
  summary: 'Every customer with its plan, key cap and active key count, by slug.',
  docs: { responses: { 200: { description: 'The customers', schema: z.object({ customers: z.array(customerView) }) } }, tags: ['Staff'] },
  handler: async (_request, { services }) => json(200, { customers: await services.staff.listCustomers() }),
};

/** `GET /v1/staff/customers/{slug}`: a customer with its plan and key cap. */
export const staffCustomersGet: HttpFunctionDefinition = {
  kind: 'http',
  name: 'staff-customers-get',
  route: 'v1/staff/customers/{slug}',
  methods: ['GET'],
  auth: 'staff',
  summary: 'A customer with its plan, key cap and active key count.',
  docs: { params: z.object({ slug: z.string() }), responses: { 200: { description: 'The customer', schema: customerView } }, errors: ['not_found'], tags: ['Staff'] },
  handler: async (request, { services }) => json(200, await services.staff.getCustomer(request.params.slug ?? '')),
};

/** `PATCH /v1/staff/customers/{slug}`: change a customer's plan or key cap override. */
export const staffCustomersUpdate: HttpFunctionDefinition = {
  kind: 'http',
  name: 'staff-customers-update',
  route: 'v1/staff/customers/{slug}',
  methods: ['PATCH'],
  auth: 'staff',
  summary: "Change a customer's plan, or override its key cap (null returns to the plan's cap).",
  docs: {
    params: z.object({ slug: z.string() }),
    body: updateCustomerSchema,
    responses: { 200: { description: 'The customer after the change', schema: customerView } },
    errors: ['validation_failed', 'not_found'],
    tags: ['Staff'],
  },
  handler: async (request, { services, actor, requestId }) =>
    json(200, await services.staff.updateCustomer(request.params.slug ?? '', await readJsonBody(request), { actor, requestId })),
};
