import { json } from '../shared/http/responses';
import { customerParams, rotateTenantKeySchema } from '../shared/schemas/keys';
import { tenantKeyView } from '../shared/schemas/views';
import { toTenantKeyBody } from '../shared/schemas/view-mappers';
import { httpFunction } from '../app/function-contract';

/** `GET /v1/staff/customers/{slug}/tenant-key`: versions and grace end, never values. */
export const staffTenantKeyGet = httpFunction({
  kind: 'http',
  name: 'staff-tenant-key-get',
  route: 'v1/staff/customers/{slug}/tenant-key',
  methods: ['GET'],
  auth: 'staff',
  summary: "A customer's master-component state: current and previous version, grace end (never values).",
  input: { params: customerParams },
  docs: { responses: { 200: { description: 'The state', schema: tenantKeyView } }, errors: ['not_found'], tags: ['Staff'] },
  handler: async (_request, { services, input }) => json(200, toTenantKeyBody(await services.masterComponents.status(input.params.slug))),
});

/** `POST /v1/staff/customers/{slug}/tenant-key/rotate`: rotate now (suspected compromise), optionally with no grace. */
export const staffTenantKeyRotate = httpFunction({
  kind: 'http',
  name: 'staff-tenant-key-rotate',
  route: 'v1/staff/customers/{slug}/tenant-key/rotate',
  methods: ['POST'],
  auth: 'staff',
  summary: "Rotate a customer's master component now; gracePeriodHours 0 stops the old one at once.",
  input: { params: customerParams, body: rotateTenantKeySchema },
  docs: { responses: { 200: { description: 'The new state', schema: tenantKeyView } }, errors: ['not_found'], tags: ['Staff'] },
  handler: async (_request, { services, actor, requestId, input }) => {
    const { gracePeriodHours } = input.body;
    const options = gracePeriodHours === undefined ? {} : { gracePeriodMs: gracePeriodHours * 3_600_000 };
    return json(200, toTenantKeyBody(await services.masterComponents.rotateNow(input.params.slug, { actor, requestId }, options)));
  },
});

/** `POST /v1/staff/customers/{slug}/tenant-key/end-grace`: the previous component stops now. */
export const staffTenantKeyEndGrace = httpFunction({
  kind: 'http',
  name: 'staff-tenant-key-end-grace',
  route: 'v1/staff/customers/{slug}/tenant-key/end-grace',
  methods: ['POST'],
  auth: 'staff',
  summary: 'End a grace period early: the previous master component stops being accepted at once.',
  input: { params: customerParams },
  docs: { responses: { 200: { description: 'The new state', schema: tenantKeyView } }, errors: ['not_found'], tags: ['Staff'] },
  handler: async (_request, { services, actor, requestId, input }) =>
    json(200, toTenantKeyBody(await services.masterComponents.endGrace(input.params.slug, { actor, requestId }))),
});
