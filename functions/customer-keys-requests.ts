import { z, type ZodType } from 'zod';
import { json } from '../shared/http/responses';
import { KEY_REQUEST_BODIES, keyRequestActionSchema, requestIdParams, type KeyRequestCommand } from '../shared/schemas/keys';
import { keyRequestOutcomeView, keyRequestView } from '../shared/schemas/views';
import { toKeyBody, toRequestBody } from '../shared/schemas/view-mappers';
import { httpFunction, type HttpFunctionDefinition, type RouteLink } from '../app/function-contract';

/** The bodies by action, seen as one type: the handler pairs the body with its action. */
const REQUEST_BODIES: Record<string, ZodType<KeyRequestCommand['params']>> = KEY_REQUEST_BODIES;

/** Where a submitted request can be followed. */
const REQUEST_LINKS: Record<string, RouteLink> = {
  get: {
    operation: 'customer-keys-request-get',
    parameters: { id: '$response.body#/request/id' },
    description: 'The request and its status',
  },
};

/**
 * `POST /v1/customer-keys/requests/{action}`: the portal's request-driven flow. `issue-key` and
 * `revoke-key` run at once (201/200, a new key in this response only); `rotate-tenant-key`
 * waits for staff (202).
 */
export const customerKeysRequestSubmit = httpFunction({
  kind: 'http',
  name: 'customer-keys-request-submit',
  route: 'v1/customer-keys/requests/{action}',
  methods: ['POST'],
  auth: 'customer',
  summary: 'Submit a key request: issue-key and revoke-key run at once, rotate-tenant-key waits for staff.',
  // The action chooses the body's schema; an unknown action names nothing (404).
  input: { params: z.object({ action: keyRequestActionSchema }), body: { by: 'action', schemas: REQUEST_BODIES } },
  docs: {
    responses: {
      201: {
        description: 'issue-key executed: the request and the new key (shown once)',
        schema: keyRequestOutcomeView,
        links: REQUEST_LINKS,
      },
      200: {
        description: 'revoke-key executed; or a rotate-tenant-key already pending (that request, nothing new filed)',
        schema: keyRequestOutcomeView,
        links: REQUEST_LINKS,
      },
      202: {
        description: 'rotate-tenant-key accepted, pending staff',
        schema: keyRequestOutcomeView,
        links: {
          ...REQUEST_LINKS,
          execute: {
            operation: 'staff-requests-execute',
            parameters: { id: '$response.body#/request/id' },
            description: 'Staff: carry the request out',
          },
          reject: {
            operation: 'staff-requests-reject',
            parameters: { id: '$response.body#/request/id' },
            description: 'Staff: turn the request down',
          },
        },
      },
    },
    errors: [
      'validation_failed',
      'label_taken',
      'key_limit_reached',
      'key_rolling_out',
      'key_expired',
      'last_active_key',
      'not_found',
      'sandbox_read_only',
    ],
    tags: ['Key requests'],
  },
  handler: async (_request, { services, tenant, actor, requestId, input }) => {
    // The binding parsed the body with the action's own schema, so the pair is a command.
    const command = { action: input.params.action, params: input.body } as KeyRequestCommand;
    const outcome = await services.requests.submit(tenant, command, { actor, requestId });
    const status = outcome.alreadyPending ? 200 : outcome.request.status === 'pending' ? 202 : outcome.issued ? 201 : 200;
    return json(status, {
      request: toRequestBody(outcome.request),
      ...(outcome.issued ? { key: outcome.issued.key, metadata: toKeyBody(outcome.issued.metadata) } : {}),
    });
  },
});

/** `GET /v1/customer-keys/requests`: the customer's requests, newest first. */
export const customerKeysRequestList: HttpFunctionDefinition = {
  kind: 'http',
  name: 'customer-keys-request-list',
  route: 'v1/customer-keys/requests',
  methods: ['GET'],
  auth: 'customer',
  summary: "The customer's key requests, newest first (never a key value).",
  docs: {
    responses: { 200: { description: 'The requests', schema: z.object({ requests: z.array(keyRequestView) }) } },
    tags: ['Key requests'],
  },
  handler: async (_request, { services, tenant }) => json(200, { requests: (await services.requests.list(tenant)).map(toRequestBody) }),
};

/** `GET /v1/customer-keys/requests/{id}`: one request and its status. */
export const customerKeysRequestGet = httpFunction({
  kind: 'http',
  name: 'customer-keys-request-get',
  route: 'v1/customer-keys/requests/{id}',
  methods: ['GET'],
  auth: 'customer',
  summary: 'One key request and its status.',
  input: { params: requestIdParams },
  docs: { responses: { 200: { description: 'The request', schema: keyRequestView } }, errors: ['not_found'], tags: ['Key requests'] },
  handler: async (_request, { services, tenant, input }) => json(200, toRequestBody(await services.requests.get(tenant, input.params.id))),
});
