import { json } from '../shared/http/responses';
import { sessionsQuerySchema } from '../shared/schemas/keys';
import { sessionPageView } from '../shared/schemas/views';
import { toSessionBody } from '../shared/schemas/view-mappers';
import { httpFunction } from '../app/function-contract';

/** `GET /v1/sessions`: the Decisions explorer's list: sessions newest first, by key label and time. */
export const sessionsList = httpFunction({
  kind: 'http',
  name: 'sessions-list',
  route: 'v1/sessions',
  methods: ['GET'],
  auth: 'customer',
  summary: "The customer's ingested sessions, newest first, each with the key that sent it.",
  input: { query: sessionsQuerySchema },
  docs: { responses: { 200: { description: 'A page of sessions', schema: sessionPageView } }, tags: ['Sessions'] },
  handler: async (_request, { services, tenant, input: { query } }) => {
    const page = await services.sessions.list(tenant, query);
    return json(200, { sessions: page.items.map(toSessionBody), cursor: page.cursor ?? null });
  },
});
