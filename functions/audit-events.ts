import { preferredMediaType } from '../shared/http/accept';
import { json } from '../shared/http/responses';
import { CLOUDEVENTS_BATCH, auditFeedQuerySchema } from '../shared/schemas/audit-feed';
import { toAuditBody, toAuditCloudEvent } from '../shared/schemas/view-mappers';
import { auditCloudEventView, auditFeedPageView } from '../shared/schemas/views';
import { httpFunction } from '../app/function-contract';

/** Response headers that carry the feed's position, whatever the body's format. */
const CURSOR_HEADER = 'x-veriproof-cursor';
const HAS_MORE_HEADER = 'x-veriproof-has-more';

/**
 * `GET /v1/audit-events`: the customer's audit events oldest first, for a SIEM to pull. Each answer
 * carries a cursor (in the body, or for CloudEvents in headers) that the next poll passes back as
 * `after`; events show once they are AUDIT_FEED_SETTLE_SECONDS old (docs/audit-feed.md).
 */
export const auditEvents = httpFunction({
  kind: 'http',
  name: 'audit-events',
  route: 'v1/audit-events',
  methods: ['GET'],
  auth: 'customer',
  summary:
    "The customer's audit events oldest first, with a cursor to poll on from: every event once, in order, as JSON or (Accept: application/cloudevents-batch+json) as a CloudEvents 1.0 batch. Events show once they are a few seconds old (AUDIT_FEED_SETTLE_SECONDS, 5 by default).",
  input: { query: auditFeedQuerySchema },
  docs: {
    responses: {
      200: {
        description: 'A page of events, oldest first, and where to go on from',
        schema: auditFeedPageView,
        alsoAs: {
          [CLOUDEVENTS_BATCH]: {
            schema: { type: 'array', items: { $ref: `#/components/schemas/${String(auditCloudEventView.meta()?.id)}` } },
          },
        },
        headers: {
          Link: {
            description: 'The next poll: `</v1/audit-events?after={cursor}&limit={limit}>; rel="next"`',
            schema: { type: 'string' },
          },
          'X-Veriproof-Cursor': { description: "The cursor to pass back as `after` (the body's `cursor`)", schema: { type: 'string' } },
          'X-Veriproof-Has-More': {
            description: "`true` when more events are ready now (the body's `hasMore`)",
            schema: { type: 'string', enum: ['true', 'false'] },
          },
        },
      },
    },
    tags: ['Audit'],
  },
  handler: async (request, { services, tenant, input: { query } }) => {
    const page = await services.auditFeed.page(tenant, {
      limit: query.limit,
      ...(query.after !== undefined ? { after: query.after } : {}),
      ...(query.since !== undefined ? { since: query.since } : {}),
    });
    const next = `/v1/audit-events?after=${encodeURIComponent(page.cursor)}&limit=${query.limit}`;
    const headers = {
      vary: 'Accept',
      link: `<${next}>; rel="next"`,
      [CURSOR_HEADER]: page.cursor,
      [HAS_MORE_HEADER]: String(page.hasMore),
    };
    if (preferredMediaType(request.headers.get('accept'), ['application/json', CLOUDEVENTS_BATCH]) === CLOUDEVENTS_BATCH)
      return {
        status: 200,
        jsonBody: page.events.map(toAuditCloudEvent),
        headers: { 'content-type': `${CLOUDEVENTS_BATCH}; charset=utf-8`, ...headers },
      };
    return json(200, { events: page.events.map(toAuditBody), cursor: page.cursor, hasMore: page.hasMore }, headers);
  },
});
