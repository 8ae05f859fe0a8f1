import { z } from 'zod';
import { readJsonBody } from '../shared/http/body';
import { json } from '../shared/http/responses';
import { keyRequestActionSchema } from '../shared/schemas/keys';
import { keyRequestOutcomeView, keyRequestView, toKeyBody, toRequestBody } from '../shared/schemas/views';
import type { HttpFunctionDefinition } from './definitions';

/**
 * `POST /v1/customer-keys/requests/{action}`: the portal's request-driven flow. `issue-key` and
 * `revoke-key` run at once (201/200, a new key in this response only); `rotate-tenant-key`
 * waits for staff (202).
 */
export const customerKeysRequestSubmit: HttpFunctionDefinition = {
  kind: 'http',
  name: 'customer-keys-request-submit',
  route: 'v1/customer-keys/requests/{action}',
  methods: ['POST'],
  auth: 'customer',
  summary: 'Submit a key request: issue-key and revoke-key run at once, rotate-tenant-key waits for staff.',
  docs: {
    params: z.object({ action: keyRequestActionSchema }),
    body: z.union([
      z.object({ label: z.string(), application: z.string(), environment: z.string().optional(), type: z.string().optional() }).describe('issue-key'),
      z.object({ keyId: z.string(), force: z.boolean().optional() }).describe('revoke-key'),
      z.object({ reason: z.string().optional() }).describe('rotate-tenant-key'),
    ]),
    responses: {
      201: { description: 'issue-key executed: the request and the new key (shown once)', schema: keyRequestOutcomeView },
      200: { description: 'revoke-key executed; or a rotate-tenant-key already pending (that request, nothing new filed)', schema: keyRequestOutcomeView },
      202: { description: 'rotate-tenant-key accepted, pending staff', schema: keyRequestOutcomeView },
    },
    errors: ['validation_failed', 'label_taken', 'key_limit_reached', 'last_active_key', 'not_found', 'sandbox_read_only'],
    tags: ['Key requests'],
  },
  handler: async (request, { services, tenant, actor, requestId }) => {
    const outcome = await services.requests.submit(tenant, request.params.action ?? '', await readJsonBody(request), { actor, requestId });
    const status = outcome.alreadyPending ? 200 : outcome.request.status === 'pending' ? 202 : outcome.issued ? 201 : 200;
    return json(status, {
      request: toRequestBody(outcome.request),
      ...(outcome.issued ? { key: outcome.issued.key, metadata: toKeyBody(outcome.issued.metadata) } : {}),
    });
  },
};

/** `GET /v1/customer-keys/requests`: the customer's requests, newest first. */
export const customerKeysRequestList: HttpFunctionDefinition = {
  kind: 'http',
  name: 'customer-keys-request-list',
  route: 'v1/customer-keys/requests',
  methods: ['GET'],
  auth: 'customer',
  summary: "The customer's key requests, newest first (never a key value).",
  docs: { responses: { 200: { description: 'The requests', schema: z.object({ requests: z.array(keyRequestView) }) } }, tags: ['Key requests'] },
  handler: async (_request, { services, tenant }) => json(200, { requests: (await services.requests.list(tenant)).map(toRequestBody) }),
};

/** `GET /v1/customer-keys/requests/{id}`: one request and its status. */
export const customerKeysRequestGet: HttpFunctionDefinition = {
  kind: 'http',
  name: 'customer-keys-request-get',
  route: 'v1/customer-keys/requests/{id}',
  methods: ['GET'],
  auth: 'customer',
  summary: 'One key request and its status.',
  docs: { params: z.object({ id: z.string() }), responses: { 200: { description: 'The request', schema: keyRequestView } }, errors: ['not_found'], tags: ['Key requests'] },
  handler: async (request, { services, tenant }) => json(200, toRequestBody(await services.requests.get(tenant, request.params.id ?? ''))),
};
