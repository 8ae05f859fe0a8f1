import { z } from 'zod';
import type { AuditEventType } from '../domain';
import { AUDIT_FEED_LIMIT, writeFeedCursor } from '../services/audit-feed';
import { EXAMPLE_INSTANT, exampleId, EXAMPLE_SLUG } from './examples';
import { instant, limit } from './keys';

/**
 * The audit feed (`GET /v1/audit-events`): its query, and how its events are named as CloudEvents
 * 1.0 (https://github.com/cloudevents/spec, the JSON format and its batch form). Its answers are in
 * views.ts (`auditFeedPageView`, `auditCloudEventView`), mapped in view-mappers.ts.
 */

/** The media type of a CloudEvents JSON batch: a JSON array of structured-mode events. */
export const CLOUDEVENTS_BATCH = 'application/cloudevents-batch+json';

/** Every audit type `t` is the CloudEvents type `com.veriproof.audit.{t}` (`com.veriproof.audit.key.revoked`). */
export const CLOUD_EVENT_TYPE_PREFIX = 'com.veriproof.audit.';
export type AuditCloudEventType = `${typeof CLOUD_EVENT_TYPE_PREFIX}${AuditEventType}`;
export const cloudEventType = (type: AuditEventType): AuditCloudEventType => `${CLOUD_EVENT_TYPE_PREFIX}${type}`;

/** The CloudEvents `source` of a customer's events: one per customer, the same on every instance and host name. */
export const cloudEventSource = (customerSlug: string): string => `urn:veriproof:customer:${customerSlug}`;

/** A feed cursor, as the reference shows one. */
export const EXAMPLE_FEED_CURSOR = writeFeedCursor(EXAMPLE_SLUG, { at: EXAMPLE_INSTANT, id: exampleId('evt') });

export const auditFeedQuerySchema = z.object({
  after: z
    .string()
    .max(1024)
    .meta({ examples: [EXAMPLE_FEED_CURSOR] })
    .describe('The `cursor` of the previous answer: the feed goes on just after the last event it gave')
    .optional(),
  since: instant('2026-03-01T00:00:00Z')
    .describe('Without a cursor: start at this instant (RFC 3339) instead of at the oldest event')
    .optional(),
  limit: limit(AUDIT_FEED_LIMIT.max, AUDIT_FEED_LIMIT.default),
});
