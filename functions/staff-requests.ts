import { json } from '../shared/http/responses';
import { executeRequestSchema, rejectRequestSchema, requestIdParams, staffRequestsQuerySchema } from '../shared/schemas/keys';
import { keyRequestOutcomeView, keyRequestView, staffQueueView } from '../shared/schemas/views';
import { toRequestBody } from '../shared/schemas/view-mappers';
import { httpFunction } from '../app/function-contract';

/** `GET /v1/staff/customer-keys/requests?status=pending`: the queue across customers. */
export const staffRequestsList = httpFunction({
  kind: 'http',
  name: 'staff-requests-list',
  route: 'v1/staff/customer-keys/requests',
  methods: ['GET'],
  auth: 'staff',
  summary: 'Key requests of every customer in one status (pending by default), oldest first.',
  input: { query: staffRequestsQuerySchema },
  docs: { responses: { 200: { description: 'The queue', schema: staffQueueView } }, tags: ['Staff'] },
  handler: async (_request, { services, input }) => {
    const requests = await services.requests.queue(input.query.status);
    return json(200, { requests: requests.map(({ customerSlug, ...r }) => ({ ...r, customer: customerSlug })) });
  },
});

/** `POST /v1/staff/customer-keys/requests/{id}/execute`. */
export const staffRequestsExecute = httpFunction({
  kind: 'http',
  name: 'staff-requests-execute',
  route: 'v1/staff/customer-keys/requests/{id}/execute',
  methods: ['POST'],
  auth: 'staff',
  summary: 'Execute a pending key request (rotate-tenant-key runs the tenant-key rotation; gracePeriodHours 0 rotates with no grace).',
  input: { params: requestIdParams, body: executeRequestSchema },
  docs: {
    responses: { 200: { description: 'The executed request', schema: keyRequestOutcomeView } },
    errors: ['not_found', 'request_not_pending', 'action_unavailable'],
    tags: ['Staff'],
  },
  handler: async (_request, { services, actor, requestId, input }) => {
    const outcome = await services.requests.executeById(input.params.id, input.body, { actor, requestId });
    return json(200, { request: toRequestBody(outcome.request) });
  },
});

/** `POST /v1/staff/customer-keys/requests/{id}/reject`. */
export const staffRequestsReject = httpFunction({
  kind: 'http',
  name: 'staff-requests-reject',
  route: 'v1/staff/customer-keys/requests/{id}/reject',
  methods: ['POST'],
  auth: 'staff',
  summary: 'Reject a pending key request, with an optional reason the customer sees.',
  input: { params: requestIdParams, body: rejectRequestSchema },
  docs: {
    responses: { 200: { description: 'The rejected request', schema: keyRequestView } },
    errors: ['not_found', 'request_not_pending'],
    tags: ['Staff'],
  },
  handler: async (_request, { services, actor, requestId, input }) =>
    json(200, toRequestBody(await services.requests.rejectById(input.params.id, input.body, { actor, requestId }))),
});
