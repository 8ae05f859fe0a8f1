import { json } from '../shared/http/responses';
import { pageQuerySchema } from '../shared/schemas/keys';
import { auditPageView } from '../shared/schemas/views';
import { toAuditBody } from '../shared/schemas/view-mappers';
import { httpFunction } from '../app/function-contract';

/** `GET /v1/customer-keys/audit`: the customer's key events, newest first. */
export const customerKeysAudit = httpFunction({
  kind: 'http',
  name: 'customer-keys-audit',
  route: 'v1/customer-keys/audit',
  methods: ['GET'],
  auth: 'customer',
  summary: 'Every key event of the customer (issued, revoked, reset, requests), newest first, paged.',
  input: { query: pageQuerySchema },
  docs: { responses: { 200: { description: 'A page of events', schema: auditPageView } }, tags: ['Customer keys'] },
  handler: async (_request, { services, tenant, input: { query } }) => {
    const page = await services.audit.list(tenant, { limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) });
    return json(200, { events: page.items.map(toAuditBody), cursor: page.cursor ?? null });
  },
});
