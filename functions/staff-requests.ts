import { z } from 'zod';
import { queryObject, readJsonBody } from '../shared/http/body';
import { json } from '../shared/http/responses';
import { executeRequestSchema, rejectRequestSchema, staffRequestsQuerySchema } from '../shared/schemas/keys';
import { keyRequestOutcomeView, keyRequestView, staffQueueView, toRequestBody } from '../shared/schemas/views';
import { parseInput } from '../shared/validation';
import type { HttpFunctionDefinition } from './definitions';

/** `GET /v1/staff/customer-keys/requests?status=pending`: the queue across customers. */
export const staffRequestsList: HttpFunctionDefinition = {
  kind: 'http',
  name: 'staff-requests-list',
  route: 'v1/staff/customer-keys/requests',
  methods: ['GET'],
  auth: 'staff',
  summary: 'Key requests of every customer in one status (pending by default), oldest first.',
  docs: { query: staffRequestsQuerySchema, responses: { 200: { description: 'The queue', schema: staffQueueView } }, tags: ['Staff'] },
  handler: async (request, { services }) => {
    const { status } = parseInput(staffRequestsQuerySchema, queryObject(request), 'query');
    const requests = await services.requests.queue(status);
    return json(200, { requests: requests.map(({ customerSlug, ...r }) => ({ ...r, customer: customerSlug })) });
  },
};

/** `POST /v1/staff/customer-keys/requests/{id}/execute`. */
export const staffRequestsExecute: HttpFunctionDefinition = {
  kind: 'http',
  name: 'staff-requests-execute',
  route: 'v1/staff/customer-keys/requests/{id}/execute',
  methods: ['POST'],
  auth: 'staff',
  summary: 'Execute a pending key request (rotate-tenant-key runs the tenant-key rotation; gracePeriodHours 0 rotates with no grace).',
  docs: {
    params: z.object({ id: z.string() }),
    body: executeRequestSchema,
    responses: { 200: { description: 'The executed request', schema: keyRequestOutcomeView } },
    errors: ['not_found', 'request_not_pending', 'action_unavailable'],
    tags: ['Staff'],
  },
  handler: async (request, { services, actor, requestId }) => {
    const outcome = await services.requests.executeById(request.params.id ?? '', await readJsonBody(request), { actor, requestId });
    return json(200, { request: toRequestBody(outcome.request) });
  },
};

/** `POST /v1/staff/customer-keys/requests/{id}/reject`. */
export const staffRequestsReject: HttpFunctionDefinition = {
  kind: 'http',
  name: 'staff-requests-reject',
  route: 'v1/staff/customer-keys/requests/{id}/reject',
  methods: ['POST'],
  auth: 'staff',
  summary: 'Reject a pending key request, with an optional reason the customer sees.',
  docs: {
    params: z.object({ id: z.string() }),
    body: rejectRequestSchema,
    responses: { 200: { description: 'The rejected request', schema: keyRequestView } },
    errors: ['not_found', 'request_not_pending'],
    tags: ['Staff'],
  },
  handler: async (request, { services, actor, requestId }) =>
    json(200, toRequestBody(await services.requests.rejectById(request.params.id ?? '', await readJsonBody(request), { actor, requestId }))),
};
