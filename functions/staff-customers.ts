import { z } from 'zod';
import { json } from '../shared/http/responses';
import { createCustomerSchema, customerParams, updateCustomerSchema } from '../shared/schemas/keys';
import { customerView } from '../shared/schemas/views';
import { toCustomerBody } from '../shared/schemas/view-mappers';
import { httpFunction, type HttpFunctionDefinition } from '../app/function-contract';

/** `POST /v1/staff/customers`: a new customer, born with its master component. */
export const staffCustomersCreate = httpFunction({
  kind: 'http',
  name: 'staff-customers-create',
  route: 'v1/staff/customers',
  methods: ['POST'],
  auth: 'staff',
  summary: 'Create a customer (and its master component).',
  input: { body: createCustomerSchema },
  docs: {
    responses: {
      201: {
        description: 'The customer',
        schema: customerView,
        links: Object.fromEntries(
          (
            [
              'staff-customers-get',
              'staff-customers-update',
              'staff-tenant-key-get',
              'staff-tenant-key-rotate',
              'staff-tenant-key-end-grace',
            ] as const
          ).map((operation) => [operation.replace('staff-', ''), { operation, parameters: { slug: '$response.body#/slug' } }]),
        ),
      },
    },
    errors: ['customer_exists'],
    tags: ['Staff'],
  },
  handler: async (_request, { services, input }) => {
    const customer = await services.staff.createCustomer(input.body);
    return json(201, toCustomerBody(customer, services.keys.keyLimit(customer)), { location: `/v1/staff/customers/${customer.slug}` });
  },
});

/** `GET /v1/staff/customers`: every customer, by slug (the staff screens pick one from it). */
export const staffCustomersList: HttpFunctionDefinition = {
  kind: 'http',
  name: 'staff-customers-list',
  route: 'v1/staff/customers',
  methods: ['GET'],
  auth: 'staff',
  summary: 'Every customer with its plan, key cap and active key count, by slug.',
  docs: { responses: { 200: { description: 'The customers', schema: z.object({ customers: z.array(customerView) }) } }, tags: ['Staff'] },
  handler: async (_request, { services }) => {
    const customers = await services.staff.listCustomers();
    return json(200, { customers: customers.map((customer) => toCustomerBody(customer, services.keys.keyLimit(customer))) });
  },
};

/** `GET /v1/staff/customers/{slug}`: a customer with its plan and key cap. */
export const staffCustomersGet = httpFunction({
  kind: 'http',
  name: 'staff-customers-get',
  route: 'v1/staff/customers/{slug}',
  methods: ['GET'],
  auth: 'staff',
  summary: 'A customer with its plan, key cap and active key count.',
  input: { params: customerParams },
  docs: { responses: { 200: { description: 'The customer', schema: customerView } }, errors: ['not_found'], tags: ['Staff'] },
  handler: async (_request, { services, input }) => {
    const customer = await services.staff.getCustomer(input.params.slug);
    return json(200, toCustomerBody(customer, services.keys.keyLimit(customer)));
  },
});

/** `PATCH /v1/staff/customers/{slug}`: change a customer's plan or key cap override. */
export const staffCustomersUpdate = httpFunction({
  kind: 'http',
  name: 'staff-customers-update',
  route: 'v1/staff/customers/{slug}',
  methods: ['PATCH'],
  auth: 'staff',
  summary: "Change a customer's plan, or override its key cap (null returns to the plan's cap).",
  input: { params: customerParams, body: updateCustomerSchema },
  docs: {
    responses: { 200: { description: 'The customer after the change', schema: customerView } },
    errors: ['not_found'],
    tags: ['Staff'],
  },
  handler: async (_request, { services, actor, requestId, input }) => {
    const customer = await services.staff.updateCustomer(input.params.slug, input.body, { actor, requestId });
    return json(200, toCustomerBody(customer, services.keys.keyLimit(customer)));
  },
});
