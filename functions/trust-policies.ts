import type { z } from 'zod';
import { json } from '../shared/http/responses';
import { usageQuerySchema } from '../shared/schemas/keys';
import { createTrustPolicySchema, patchTrustPolicySchema, trustPolicyIdParams } from '../shared/schemas/trust-policies';
import { trustPolicyListView, trustPolicyUsageView, trustPolicyView } from '../shared/schemas/views';
import { toTrustPolicyBody, toTrustPolicyUsageBody } from '../shared/schemas/view-mappers';
import { httpFunction, type RouteLink } from '../app/function-contract';

/**
 * Trust policies (workload identity federation): whom a customer trusts to trade an identity token
 * from its own platform (GitHub Actions, Azure, Kubernetes, Google) for a short-lived ingest token.
 * Managed like keys: a portal token with CustomerAdmin, or a management key.
 */

const TAGS = ['Trust policies'];

/** What a policy's id leads to next. */
const policyLinks = (id: string): Record<string, RouteLink> => ({
  get: { operation: 'trust-policies-get', parameters: { id }, description: 'Read the policy' },
  update: { operation: 'trust-policies-update', parameters: { id }, description: 'Change the policy' },
  delete: { operation: 'trust-policies-delete', parameters: { id }, description: 'Delete the policy' },
  usage: { operation: 'trust-policy-usage', parameters: { id }, description: "The policy's tokens' requests over time" },
});

/** `POST /v1/trust-policies`: a new policy. */
export const trustPoliciesCreate = httpFunction({
  kind: 'http',
  name: 'trust-policies-create',
  route: 'v1/trust-policies',
  methods: ['POST'],
  auth: 'customer',
  summary:
    "Trust a workload's identity tokens: an issuer, an audience, a subject (`*` matches any run of characters) and optional further claims. Labels are unique among the customer's policies; the plan caps how many it holds.",
  input: { body: createTrustPolicySchema },
  docs: {
    responses: { 201: { description: 'The new policy', schema: trustPolicyView, links: policyLinks('$response.body#/id') } },
    errors: ['label_taken', 'trust_policy_limit_reached', 'sandbox_read_only'],
    tags: TAGS,
  },
  handler: async (_request, { services, tenant, actor, requestId, input }) => {
    const policy = await services.trustPolicies.create(tenant, input.body, { actor, requestId });
    return json(201, toTrustPolicyBody(policy));
  },
});

/** `GET /v1/trust-policies`: the customer's policies, with the cap. */
export const trustPoliciesList = httpFunction({
  kind: 'http',
  name: 'trust-policies-list',
  route: 'v1/trust-policies',
  methods: ['GET'],
  auth: 'customer',
  summary: "Every trust policy of the caller's customer, oldest first, with how many its plan allows.",
  docs: { responses: { 200: { description: 'The policies, oldest first', schema: trustPolicyListView } }, tags: TAGS },
  handler: async (_request, { services, tenant, sandbox }) => {
    const policies = await services.trustPolicies.list(tenant);
    const customer = await services.customers.require(tenant);
    const body: z.infer<typeof trustPolicyListView> = {
      customer: customer.slug,
      sandbox,
      trustPolicyCount: policies.length,
      trustPolicyLimit: services.trustPolicies.limit(customer),
      trustPolicies: policies.map(toTrustPolicyBody),
    };
    return json(200, body);
  },
});

/** `GET /v1/trust-policies/{id}`. */
export const trustPoliciesGet = httpFunction({
  kind: 'http',
  name: 'trust-policies-get',
  route: 'v1/trust-policies/{id}',
  methods: ['GET'],
  auth: 'customer',
  summary: "One trust policy of the caller's customer (another customer's, or a deleted one, is 404).",
  input: { params: trustPolicyIdParams },
  docs: { responses: { 200: { description: 'The policy', schema: trustPolicyView } }, errors: ['not_found'], tags: TAGS },
  handler: async (_request, { services, tenant, input }) =>
    json(200, toTrustPolicyBody(await services.trustPolicies.get(tenant, input.params.id))),
});

/** `PATCH /v1/trust-policies/{id}`. */
export const trustPoliciesUpdate = httpFunction({
  kind: 'http',
  name: 'trust-policies-update',
  route: 'v1/trust-policies/{id}',
  methods: ['PATCH'],
  auth: 'customer',
  summary:
    "Change any of a trust policy's fields; `claims` replaces the claims as a whole (`{}`: none). A patch that changes nothing writes nothing.",
  input: { params: trustPolicyIdParams, body: patchTrustPolicySchema },
  docs: {
    responses: { 200: { description: 'The policy as it now is', schema: trustPolicyView } },
    errors: ['not_found', 'label_taken', 'sandbox_read_only'],
    tags: TAGS,
  },
  handler: async (_request, { services, tenant, actor, requestId, input }) => {
    const policy = await services.trustPolicies.update(tenant, input.params.id, input.body, { actor, requestId });
    return json(200, toTrustPolicyBody(policy));
  },
});

/** `DELETE /v1/trust-policies/{id}`: idempotent, like a key's revocation. */
export const trustPoliciesDelete = httpFunction({
  kind: 'http',
  name: 'trust-policies-delete',
  route: 'v1/trust-policies/{id}',
  methods: ['DELETE'],
  auth: 'customer',
  summary: 'Delete a trust policy: it frees its label and its place under the cap. Idempotent.',
  input: { params: trustPolicyIdParams },
  docs: {
    responses: { 204: { description: 'Deleted (or deleted before)' } },
    errors: ['not_found', 'sandbox_read_only'],
    tags: TAGS,
  },
  handler: async (_request, { services, tenant, actor, requestId, input }) => {
    await services.trustPolicies.delete(tenant, input.params.id, { actor, requestId });
    return { status: 204 };
  },
});

/** `GET /v1/trust-policies/{id}/usage?from=&to=&granularity=hour|day`: the policy's tokens' requests over time, as a key's. */
export const trustPolicyUsage = httpFunction({
  kind: 'http',
  name: 'trust-policy-usage',
  route: 'v1/trust-policies/{id}/usage',
  methods: ['GET'],
  auth: 'customer',
  summary:
    "Requests of every token minted under one trust policy, together, per hour or per day (accepted and rate-limited), 30 days by default, at most 40: the query and answer of a key's usage.",
  input: { params: trustPolicyIdParams, query: usageQuerySchema },
  docs: {
    responses: { 200: { description: 'The usage series', schema: trustPolicyUsageView } },
    errors: ['not_found'],
    tags: ['Usage', ...TAGS],
  },
  handler: async (_request, { services, tenant, input }) =>
    json(200, toTrustPolicyUsageBody(await services.usage.trustPolicyUsage(tenant, input.params.id, input.query))),
});
