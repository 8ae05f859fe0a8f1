import { z } from 'zod';
import { readJsonBody } from '../shared/http/body';
import { json } from '../shared/http/responses';
import { rotateTenantKeySchema } from '../shared/schemas/keys';
import { tenantKeyView } from '../shared/schemas/views';
import { parseInput } from '../shared/validation';
import type { HttpFunctionDefinition } from './definitions';

const params = z.object({ slug: z.string() });

/** `GET /v1/staff/customers/{slug}/tenant-key`: versions and grace end, never values. */
export const staffTenantKeyGet: HttpFunctionDefinition = {
  kind: 'http',
  name: 'staff-tenant-key-get',
  route: 'v1/staff/customers/{slug}/tenant-key',
  methods: ['GET'],
  auth: 'staff',
  summary: "A customer's master-component state: current and previous version, grace end (never values).",
  docs: { params, responses: { 200: { description: 'The state', schema: tenantKeyView } }, errors: ['not_found'], tags: ['Staff'] },
  handler: async (request, { services }) => json(200, await services.tenantKeys.status(request.params.slug ?? '')),
};

/** `POST /v1/staff/customers/{slug}/tenant-key/rotate`: rotate now (suspected compromise), optionally with no grace. */
export const staffTenantKeyRotate: HttpFunctionDefinition = {
  kind: 'http',
  name: 'staff-tenant-key-rotate',
  route: 'v1/staff/customers/{slug}/tenant-key/rotate',
  methods: ['POST'],
  auth: 'staff',
  summary: "Rotate a customer's master component now; gracePeriodHours 0 stops the old one at once.",
  docs: { params, body: rotateTenantKeySchema, responses: { 200: { description: 'The new state', schema: tenantKeyView } }, errors: ['not_found', 'validation_failed'], tags: ['Staff'] },
  handler: async (request, { services, actor, requestId }) => {
    const { gracePeriodHours } = parseInput(rotateTenantKeySchema, (await readJsonBody(request)) ?? {});
    const options = gracePeriodHours === undefined ? {} : { gracePeriodMs: gracePeriodHours * 3_600_000 };
    return json(200, await services.tenantKeys.rotateNow(request.params.slug ?? '', { actor, requestId }, options));
  },
};

/** `POST /v1/staff/customers/{slug}/tenant-key/end-grace`: the previous component stops now. */
export const staffTenantKeyEndGrace: HttpFunctionDefinition = {
  kind: 'http',
  name: 'staff-tenant-key-end-grace',
  route: 'v1/staff/customers/{slug}/tenant-key/end-grace',
  methods: ['POST'],
  auth: 'staff',
  summary: 'End a grace period early: the previous master component stops being accepted at once.',
  docs: { params, responses: { 200: { description: 'The new state', schema: tenantKeyView } }, errors: ['not_found'], tags: ['Staff'] },
  handler: async (request, { services, actor, requestId }) =>
    json(200, await services.tenantKeys.endGrace(request.params.slug ?? '', { actor, requestId })),
};
