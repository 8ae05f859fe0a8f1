import type { z } from 'zod';
import { json } from '../shared/http/responses';
import { createWebhookEndpointSchema, patchWebhookEndpointSchema, webhookEndpointIdParams } from '../shared/schemas/webhook-endpoints';
import { toWebhookEndpointBody } from '../shared/schemas/view-mappers';
import { webhookEndpointListView, webhookEndpointView, webhookEndpointWithSecretView } from '../shared/schemas/views';
import { httpFunction, type RouteLink } from '../app/function-contract';

/**
 * Webhook endpoints: where a customer's key events are POSTed, signed with a secret shown once
 * (Standard Webhooks). Managed like keys and trust policies: a portal token with CustomerAdmin, or
 * a management key. The delivery routes under an endpoint (`/test`, `/deliveries`) are the
 * delivery side's (functions/webhook-deliveries.ts).
 */

const TAGS = ['Webhooks'];

/** What an endpoint's id leads to next. */
const endpointLinks = (id: string): Record<string, RouteLink> => ({
  get: { operation: 'webhook-endpoints-get', parameters: { id }, description: 'Read the endpoint' },
  update: { operation: 'webhook-endpoints-update', parameters: { id }, description: 'Change the endpoint' },
  rotateSecret: { operation: 'webhook-endpoints-rotate-secret', parameters: { id }, description: 'Rotate its signing secret' },
  delete: { operation: 'webhook-endpoints-delete', parameters: { id }, description: 'Delete the endpoint' },
});

/** `POST /v1/webhook-endpoints`: a new endpoint and its signing secret, shown once. */
export const webhookEndpointsCreate = httpFunction({
  kind: 'http',
  name: 'webhook-endpoints-create',
  route: 'v1/webhook-endpoints',
  methods: ['POST'],
  auth: 'customer',
  summary:
    'Receive key events at an https URL: the event types to send (or `["*"]`), and an optional description. The answer holds the signing secret, shown this once; the plan caps how many endpoints a customer holds.',
  input: { body: createWebhookEndpointSchema },
  docs: {
    responses: {
      201: {
        description: 'The new endpoint, with its signing secret',
        schema: webhookEndpointWithSecretView,
        links: endpointLinks('$response.body#/id'),
      },
    },
    errors: ['webhook_endpoint_limit_reached', 'sandbox_read_only'],
    tags: TAGS,
  },
  handler: async (_request, { services, tenant, actor, requestId, input }) => {
    const { endpoint, secret } = await services.webhookEndpoints.create(tenant, input.body, { actor, requestId });
    return json(201, { ...toWebhookEndpointBody(endpoint), secret });
  },
});

/** `GET /v1/webhook-endpoints`: the customer's endpoints, with the cap. */
export const webhookEndpointsList = httpFunction({
  kind: 'http',
  name: 'webhook-endpoints-list',
  route: 'v1/webhook-endpoints',
  methods: ['GET'],
  auth: 'customer',
  summary: "Every webhook endpoint of the caller's customer (disabled ones too), oldest first, with how many its plan allows.",
  docs: { responses: { 200: { description: 'The endpoints, oldest first', schema: webhookEndpointListView } }, tags: TAGS },
  handler: async (_request, { services, tenant, sandbox }) => {
    const endpoints = await services.webhookEndpoints.list(tenant);
    const customer = await services.customers.require(tenant);
    const body: z.infer<typeof webhookEndpointListView> = {
      customer: customer.slug,
      sandbox,
      webhookEndpointCount: endpoints.length,
      webhookEndpointLimit: services.webhookEndpoints.limit(customer),
      webhookEndpoints: endpoints.map(toWebhookEndpointBody),
    };
    return json(200, body);
  },
});

/** `GET /v1/webhook-endpoints/{id}`. */
export const webhookEndpointsGet = httpFunction({
  kind: 'http',
  name: 'webhook-endpoints-get',
  route: 'v1/webhook-endpoints/{id}',
  methods: ['GET'],
  auth: 'customer',
  summary: "One webhook endpoint of the caller's customer (another customer's, or a deleted one, is 404). Never its secret.",
  input: { params: webhookEndpointIdParams },
  docs: { responses: { 200: { description: 'The endpoint', schema: webhookEndpointView } }, errors: ['not_found'], tags: TAGS },
  handler: async (_request, { services, tenant, input }) =>
    json(200, toWebhookEndpointBody(await services.webhookEndpoints.get(tenant, input.params.id))),
});

/** `PATCH /v1/webhook-endpoints/{id}`. */
export const webhookEndpointsUpdate = httpFunction({
  kind: 'http',
  name: 'webhook-endpoints-update',
  route: 'v1/webhook-endpoints/{id}',
  methods: ['PATCH'],
  auth: 'customer',
  summary:
    'Change the URL, the event types or the description (`null` clears it); `"enabled": true` re-enables a disabled endpoint, `false` disables it. A patch that changes nothing writes nothing.',
  input: { params: webhookEndpointIdParams, body: patchWebhookEndpointSchema },
  docs: {
    responses: { 200: { description: 'The endpoint as it now is', schema: webhookEndpointView } },
    errors: ['not_found', 'sandbox_read_only'],
    tags: TAGS,
  },
  handler: async (_request, { services, tenant, actor, requestId, input }) => {
    const endpoint = await services.webhookEndpoints.update(tenant, input.params.id, input.body, { actor, requestId });
    return json(200, toWebhookEndpointBody(endpoint));
  },
});

/** `DELETE /v1/webhook-endpoints/{id}`: idempotent. */
export const webhookEndpointsDelete = httpFunction({
  kind: 'http',
  name: 'webhook-endpoints-delete',
  route: 'v1/webhook-endpoints/{id}',
  methods: ['DELETE'],
  auth: 'customer',
  summary: 'Delete a webhook endpoint: nothing more is sent to it, and its place under the cap is free. Idempotent.',
  input: { params: webhookEndpointIdParams },
  docs: {
    responses: { 204: { description: 'Deleted (or deleted before)' } },
    errors: ['not_found', 'sandbox_read_only'],
    tags: TAGS,
  },
  handler: async (_request, { services, tenant, actor, requestId, input }) => {
    await services.webhookEndpoints.delete(tenant, input.params.id, { actor, requestId });
    return { status: 204 };
  },
});

/** `POST /v1/webhook-endpoints/{id}/rotate-secret`. */
export const webhookEndpointsRotateSecret = httpFunction({
  kind: 'http',
  name: 'webhook-endpoints-rotate-secret',
  route: 'v1/webhook-endpoints/{id}/rotate-secret',
  methods: ['POST'],
  auth: 'customer',
  summary:
    'A new signing secret, shown this once. The previous one keeps signing for 24 hours (each delivery then carries two signatures), so the receiver can switch without missing one.',
  input: { params: webhookEndpointIdParams },
  docs: {
    responses: { 200: { description: 'The endpoint, with its new signing secret', schema: webhookEndpointWithSecretView } },
    errors: ['not_found', 'sandbox_read_only'],
    tags: TAGS,
  },
  handler: async (_request, { services, tenant, actor, requestId, input }) => {
    const { endpoint, secret } = await services.webhookEndpoints.rotateSecret(tenant, input.params.id, { actor, requestId });
    return json(200, { ...toWebhookEndpointBody(endpoint), secret });
  },
});
