import { z } from 'zod';
import { WEBHOOK_EVENT_TYPES, type WebhookEventSelection } from '../domain';
import { WEBHOOK_URL_MAX_LENGTH, WEBHOOK_URL_PATTERN, webhookUrlShapeProblem } from '../webhooks/endpoint-url';
import { documentedAs } from './json-schema';
import { idSchema, text } from './keys';

/**
 * The input of the webhook-endpoint routes (`/v1/webhook-endpoints`), parsed at the edge (their
 * answers are in views.ts). Rules between a value and the running mode (an http URL on a loopback host, local mode
 * only) are the service's (shared/services/webhook-endpoints.ts).
 */

const URL_EXAMPLE = 'https://hooks.acme.example/veriproof';

export const webhookUrlSchema = documentedAs(
  z
    .string()
    .max(WEBHOOK_URL_MAX_LENGTH, { message: `must be at most ${WEBHOOK_URL_MAX_LENGTH} characters`, abort: true })
    .superRefine((value, ctx) => {
      const problem = webhookUrlShapeProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  () => ({
    type: 'string',
    format: 'uri',
    maxLength: WEBHOOK_URL_MAX_LENGTH,
    pattern: WEBHOOK_URL_PATTERN,
    examples: [URL_EXAMPLE],
    description:
      'Where events are POSTed: an https URL without credentials or fragment (http only for a loopback host, in local mode). Its host must resolve to public addresses when an event is sent.',
  }),
  'replace',
);

/** Most event types one endpoint may list (every type there is, and `*` besides). */
const MAX_EVENTS = WEBHOOK_EVENT_TYPES.length;

/**
 * The events an endpoint subscribes to: types of the catalogue, each once, or `["*"]` (every type,
 * those added later too). Kept in the catalogue's order, so that the same subscription always
 * reads, stores and compares the same.
 */
export const webhookEventsSchema = documentedAs(
  z
    .array(z.enum([...WEBHOOK_EVENT_TYPES, '*']))
    .min(1, 'must name at least one event type, or "*"')
    .max(MAX_EVENTS, `must name at most ${MAX_EVENTS} event types`)
    .refine((events) => !events.includes('*') || events.length === 1, '"*" (every event type) must be alone')
    .refine((events) => new Set(events).size === events.length, 'must name each event type once')
    .transform((events): WebhookEventSelection => {
      if (events.includes('*')) return ['*'];
      return WEBHOOK_EVENT_TYPES.filter((type) => (events as readonly string[]).includes(type));
    }),
  () => ({
    type: 'array',
    items: { type: 'string', enum: [...WEBHOOK_EVENT_TYPES, '*'] },
    minItems: 1,
    maxItems: MAX_EVENTS,
    uniqueItems: true,
    anyOf: [{ maxItems: 1 }, { items: { not: { const: '*' } } }],
    examples: [['key.revoked', 'key.exposed'], ['*']],
    description: `The event types the endpoint receives, or \`["*"]\` for every type (those added later too): ${WEBHOOK_EVENT_TYPES.join(', ')}`,
  }),
  'replace',
);

const descriptionSchema = text(256, 'PagerDuty bridge', 'What the endpoint is for, for people');

/** `POST /v1/webhook-endpoints`. */
export const createWebhookEndpointSchema = z.object({
  url: webhookUrlSchema,
  events: webhookEventsSchema,
  description: descriptionSchema.optional(),
});
export type CreateWebhookEndpointRequest = z.output<typeof createWebhookEndpointSchema>;

const PATCH_FIELDS = ['url', 'events', 'description', 'enabled'] as const;

/** `PATCH /v1/webhook-endpoints/{id}`: any of the fields; `description: null` clears it; `enabled` disables or re-enables. */
export const patchWebhookEndpointSchema = documentedAs(
  z
    .object({
      url: webhookUrlSchema.optional(),
      events: webhookEventsSchema.optional(),
      description: descriptionSchema.nullable().optional(),
      enabled: z
        .boolean()
        .optional()
        .describe(
          'false: the endpoint receives nothing until re-enabled; true: re-enables it (a disabled one, say, after sustained failures)',
        ),
    })
    .refine((v) => Object.keys(v).length > 0, `name at least one of ${PATCH_FIELDS.join(', ')}`),
  () => ({ anyOf: PATCH_FIELDS.map((name) => ({ required: [name] })) }),
);
export type PatchWebhookEndpointRequest = z.output<typeof patchWebhookEndpointSchema>;

/** Path parameters; an id of another shape names nothing (404). */
export const webhookEndpointIdParams = z.object({ id: idSchema('we') });
