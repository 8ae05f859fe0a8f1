import { json } from '../shared/http/responses';
import { webhookEndpointIdParams } from '../shared/schemas/webhook-endpoints';
import { webhookDeliveriesQuery, webhookDeliveryParams } from '../shared/schemas/webhook-deliveries';
import { toWebhookDeliveryBody } from '../shared/schemas/view-mappers';
import { webhookDeliveryPageView, webhookDeliveryView } from '../shared/schemas/views';
import { httpFunction, type QueueFunctionDefinition, type RouteLink, type TimerFunctionDefinition } from '../app/function-contract';

/**
 * The delivery side of webhooks: an endpoint's test event, its deliveries and a manual retry
 * (customer routes, like the endpoint routes of functions/webhook-endpoints.ts); the worker that
 * receives the `webhook-deliveries` queue; and the sweeper that turns audit events into deliveries.
 */

const TAGS = ['Webhooks'];

const deliveryLinks = (id: string, deliveryId: string): Record<string, RouteLink> => ({
  retry: { operation: 'webhook-deliveries-retry', parameters: { id, deliveryId }, description: 'Try the delivery again now' },
  list: { operation: 'webhook-deliveries-list', parameters: { id }, description: "The endpoint's deliveries" },
});

/** `POST /v1/webhook-endpoints/{id}/test`: a `webhook.test` event, delivered like any other (one attempt). */
export const webhookEndpointsTest = httpFunction({
  kind: 'http',
  name: 'webhook-endpoints-test',
  route: 'v1/webhook-endpoints/{id}/test',
  methods: ['POST'],
  auth: 'customer',
  summary:
    'Send a `webhook.test` event to the endpoint, signed like every delivery: the answer is the delivery, pending; its attempt shows in the deliveries a moment later.',
  input: { params: webhookEndpointIdParams },
  docs: {
    responses: {
      202: {
        description: 'The test delivery, queued',
        schema: webhookDeliveryView,
        links: deliveryLinks('$request.path.id', '$response.body#/id'),
      },
    },
    errors: ['conflict', 'sandbox_read_only'],
    tags: TAGS,
  },
  handler: async (_request, { services, tenant, input: { params } }) =>
    json(202, toWebhookDeliveryBody(await services.webhookDeliveries.sendTest(tenant, params.id))),
});

/** `GET /v1/webhook-endpoints/{id}/deliveries`: recent deliveries with their attempts. */
export const webhookDeliveriesList = httpFunction({
  kind: 'http',
  name: 'webhook-deliveries-list',
  route: 'v1/webhook-endpoints/{id}/deliveries',
  methods: ['GET'],
  auth: 'customer',
  summary: "The endpoint's deliveries, newest event first, paged, each with its attempts: status, duration, response code.",
  input: { params: webhookEndpointIdParams, query: webhookDeliveriesQuery },
  docs: { responses: { 200: { description: 'A page of deliveries', schema: webhookDeliveryPageView } }, tags: TAGS },
  handler: async (_request, { services, tenant, input: { params, query } }) => {
    const page = await services.webhookDeliveries.list(tenant, params.id, {
      limit: query.limit,
      ...(query.cursor ? { cursor: query.cursor } : {}),
    });
    return json(200, { deliveries: page.items.map(toWebhookDeliveryBody), cursor: page.cursor ?? null });
  },
});

/** `POST /v1/webhook-endpoints/{id}/deliveries/{deliveryId}/retry`. */
export const webhookDeliveriesRetry = httpFunction({
  kind: 'http',
  name: 'webhook-deliveries-retry',
  route: 'v1/webhook-endpoints/{id}/deliveries/{deliveryId}/retry',
  methods: ['POST'],
  auth: 'customer',
  summary:
    'Try a delivery again now: the same body under the same `webhook-id`. A delivered or failed one gets one more attempt; a pending one is tried now and keeps its schedule.',
  input: { params: webhookDeliveryParams },
  docs: {
    responses: { 202: { description: 'The delivery, pending', schema: webhookDeliveryView } },
    errors: ['conflict', 'sandbox_read_only'],
    tags: TAGS,
  },
  handler: async (_request, { services, tenant, input: { params } }) =>
    json(202, toWebhookDeliveryBody(await services.webhookDeliveries.retry(tenant, params.id, params.deliveryId))),
});

/**
 * The `webhook-deliveries` queue: each message is one attempt of one delivery. It returns once the
 * attempt is recorded (and the next one queued), and only then is the message deleted; a failure
 * of ours (storage) throws, and the message comes back.
 */
export const webhookDeliveriesQueue: QueueFunctionDefinition = {
  kind: 'queue',
  name: 'webhook-deliveries-queue',
  queue: 'webhookDeliveries',
  summary: 'Makes one attempt of a webhook delivery: signed, sent through the outbound guard, recorded; the next one queued on failure.',
  handler: async (message, { services }) => {
    await services.webhookDeliveries.handle(message);
  },
};

/**
 * Every minute, and at start: every customer with webhook endpoints has its audit log read past its
 * checkpoint, so an event whose fast path a crash (or a frozen instance) skipped is delivered.
 */
export const webhookDispatchSweep: TimerFunctionDefinition = {
  kind: 'timer',
  name: 'webhook-dispatch',
  schedule: '30 * * * * *',
  runOnStartup: true,
  summary: 'Turns audit events into webhook deliveries for every customer with endpoints (what the fast path missed).',
  handler: async (_timer, { services, log }) => {
    const result = await services.webhookDispatch.sweep();
    if (result.created > 0 || result.failed > 0) log.info('webhook dispatch sweep', result);
  },
};
