import { queryObject } from '../shared/http/body';
import { json } from '../shared/http/responses';
import { pageQuerySchema } from '../shared/schemas/keys';
import { auditPageView, toAuditBody } from '../shared/schemas/views';
import { parseInput } from '../shared/validation';
import type { HttpFunctionDefinition } from './definitions';

/** `GET /v1/customer-keys/audit`: the customer's key events, newest first. */
export const customerKeysAudit: HttpFunctionDefinition = {
  kind: 'http',
  name: 'customer-keys-audit',
  route: 'v1/customer-keys/audit',
  methods: ['GET'],
  auth: 'customer',
  summary: 'Every key event of the customer (issued, revoked, reset, requests), newest first, paged.',
  docs: { query: pageQuerySchema, responses: { 200: { description: 'A page of events', schema: auditPageView } }, tags: ['Customer keys'] },
  handler: async (request, { services, tenant }) => {
    const query = parseInput(pageQuerySchema, queryObject(request), 'query');
    const page = await services.audit.list(tenant, { limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) });
    return json(200, { events: page.items.map(toAuditBody), cursor: page.cursor ?? null });
  },
};
