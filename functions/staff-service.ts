import { json } from '../shared/http/responses';
import { serviceView } from '../shared/schemas/views';
import type { HttpFunctionDefinition } from '../app/function-contract';

/** `GET /v1/staff/service`: the answering instance's metrics as they stand (what `npm run admin -- stats` prints). */
export const staffService: HttpFunctionDefinition = {
  kind: 'http',
  name: 'staff-service',
  route: 'v1/staff/service',
  methods: ['GET'],
  auth: 'staff',
  summary:
    "This instance's metrics: authentication outcomes, the door's read times, auth-cache size, revocation-feed lag, Key Vault and storage calls by outcome, rate-limit sharing lag, usage flushes.",
  docs: { responses: { 200: { description: 'The metrics of the instance that answered', schema: serviceView } }, tags: ['Staff'] },
  handler: async (_request, { services }) => json(200, await services.status.snapshot()),
};
