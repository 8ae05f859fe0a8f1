import { z } from 'zod';
import { utcInstant } from '../clock';
import {
  DEFAULT_KEY_ENVIRONMENT,
  DEFAULT_KEY_TYPE,
  KEY_ENVIRONMENTS,
  KEY_REQUEST_ACTIONS,
  KEY_TYPES,
  PLANS,
  QUIET_MINUTES,
  SANDBOX_SLUG,
} from '../domain';
import { idPattern } from '../ids';
import { SLUG_MAX_LENGTH, SLUG_MIN_LENGTH, SLUG_PATTERN } from '../keys/compound-key';
import { MAX_ALLOWED_IPS, parseAllowlist } from '../keys/ip-allowlist';
import { invisibleCharacter, visibleTextPattern } from '../text/visible-text';
import { EXAMPLE_SLUG, exampleId } from './examples';
import { documentedAs } from './json-schema';

/**
 * Visible text (shared/text/visible-text.ts) of at most `max` characters, with at least one
 * that is not a space; surrounding spaces are trimmed from the value kept. The length and the
 * characters are checked as sent, so the document's `maxLength` and `pattern` state the rule
 * exactly. A `description` goes into the document with them (zod's `.describe` would make a new
 * schema without them).
 */
export const text = (max: number, example: string, description?: string) =>
  documentedAs(
    z
      .string()
      .max(max, { message: `must be at most ${max} characters`, abort: true })
      .superRefine((value, ctx) => {
        const hidden = invisibleCharacter(value);
        if (hidden)
          ctx.addIssue({
            code: 'custom',
            message: `must not contain invisible, default-ignorable (such as variation selectors and zero-width characters), formatting or control characters (found ${hidden})`,
          });
      })
      .trim()
      .min(1, 'must not be empty'),
    () => ({ pattern: visibleTextPattern(), examples: [example], ...(description ? { description } : {}) }),
  );

/** An id made by shared/ids.ts with this prefix (`key_…`, `req_…`): what path parameters name. */
export const idSchema = (prefix: string) =>
  z
    .string()
    .regex(idPattern(prefix), `must be a ${prefix}_ id`)
    .meta({ examples: [exampleId(prefix)] });

const SLUG_RULE = `must be ${SLUG_MIN_LENGTH} to ${SLUG_MAX_LENGTH} lower-case letters or digits, with single hyphens inside`;

export const slugSchema = z
  .string()
  .min(SLUG_MIN_LENGTH, { message: SLUG_RULE, abort: true })
  .max(SLUG_MAX_LENGTH, { message: SLUG_RULE, abort: true })
  .regex(SLUG_PATTERN, SLUG_RULE)
  .meta({ examples: [EXAMPLE_SLUG] });

export const createCustomerSchema = z.object({
  slug: documentedAs(
    slugSchema.refine((s) => s !== SANDBOX_SLUG, `'${SANDBOX_SLUG}' is reserved for the shared sandbox tenant`),
    // The refinement makes a schema of its own: it restates the example.
    () => ({ not: { const: SANDBOX_SLUG }, examples: [EXAMPLE_SLUG] }),
  ),
  name: text(100, 'Acme Corporation'),
  plan: z.enum(PLANS),
});
export type CreateCustomerInput = z.infer<typeof createCustomerSchema>;

const CUSTOMER_SETTINGS = ['plan', 'keyLimit', 'requireComponent', 'autoRevokeStaleKeys'] as const;

export const updateCustomerSchema = documentedAs(
  z
    .object({
      plan: z.enum(PLANS).optional(),
      /** Overrides the plan's cap on active keys; `null` returns to the plan's cap. */
      keyLimit: z
        .number()
        .int()
        .min(1)
        .max(10_000)
        .meta({ examples: [25] })
        .nullable()
        .optional(),
      /** When true, requests must present the master component (x-functions-key or a whole key). */
      requireComponent: z.boolean().optional(),
      /** When true, the daily review revokes keys unused for the stale period (never the last active key). */
      autoRevokeStaleKeys: z.boolean().optional(),
    })
    .refine((v) => Object.keys(v).length > 0, `name at least one of ${CUSTOMER_SETTINGS.join(', ')}`),
  () => ({ anyOf: CUSTOMER_SETTINGS.map((name) => ({ required: [name] })) }),
);

export const rateLimitSettingSchema = z.object({
  requestsPerSecond: z
    .number()
    .positive()
    .max(1_000_000)
    .meta({ examples: [50] }),
  burst: z
    .number()
    .int()
    .min(1)
    .max(10_000_000)
    .meta({ examples: [100] }),
});

export const updateKeySchema = z.object({
  /** The key's own rate limit; `null` returns it to its plan's. */
  rateLimit: rateLimitSettingSchema.nullable(),
});

/**
 * A time a client sends (ISO 8601 with `Z` or any UTC offset), kept as the same instant in UTC
 * (`…T…:…:….sssZ`, shared/clock.ts `utcInstant`): every time is stored in that one form, so
 * stored times and the schedules built on them order by instant, never by how they were written.
 */
export const instant = (example = '2026-03-14T09:00:00Z') =>
  z.iso
    .datetime({ offset: true })
    .meta({ examples: [example] })
    .transform(utcInstant);

export const usageQuerySchema = z.object({
  from: instant().optional(),
  to: instant().optional(),
  granularity: z.enum(['hour', 'day']).default('day'),
});

/** When a key stops working. That it lies ahead, and at most a year ahead, is checked when it is set. */
export const expiresAtSchema = instant('2027-09-30T00:00:00Z').describe(
  'When the key stops working (ISO 8601, any UTC offset; kept and answered in UTC): in the future, at most one year ahead',
);

const ALLOWED_IPS_RULE = `Addresses and CIDR ranges (IPv4 or IPv6, at most ${MAX_ALLOWED_IPS}) the key may be used from; empty: any address. A range is written by its first address.`;

/**
 * Where a key may be used from: addresses and CIDR ranges, IPv4 or IPv6 (shared/keys/ip-allowlist.ts).
 * The document states the bound on entries in words rather than as `maxItems`: a list over it is
 * refused as a whole, like an entry that is not an address (the fuzzer cannot build either rule).
 */
export const allowedIpsSchema = documentedAs(
  z
    .array(z.string().max(64))
    .max(MAX_ALLOWED_IPS)
    .transform((entries, ctx) => {
      const parsed = parseAllowlist(entries);
      if (parsed.ok) return parsed.entries;
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(parsed.error.entry)} ${parsed.error.reason}` });
      return z.NEVER;
    }),
  () => ({ type: 'array', items: { type: 'string', maxLength: 64, examples: ['203.0.113.0/24'] }, description: ALLOWED_IPS_RULE }),
  'replace',
);

export const issueKeySchema = z.object({
  label: text(64, 'checkout-ci'),
  application: text(64, 'checkout'),
  environment: z.enum(KEY_ENVIRONMENTS).default(DEFAULT_KEY_ENVIRONMENT),
  type: z.enum(KEY_TYPES).default(DEFAULT_KEY_TYPE),
  expiresAt: expiresAtSchema.optional(),
  allowedIps: allowedIpsSchema.optional(),
});

const KEY_SETTINGS = ['expiresAt', 'allowedIps'] as const;

/** `PATCH /v1/customer-keys/{keyId}`: set or clear (`null`) a key's expiry and allowlist. */
export const patchKeySchema = documentedAs(
  z
    .object({ expiresAt: expiresAtSchema.nullable().optional(), allowedIps: allowedIpsSchema.nullable().optional() })
    .refine((v) => Object.keys(v).length > 0, `name at least one of ${KEY_SETTINGS.join(', ')}`),
  () => ({ anyOf: KEY_SETTINGS.map((name) => ({ required: [name] })) }),
);
export type PatchKeyRequest = z.output<typeof patchKeySchema>;

/** The longest overlap of a roll: a week. */
export const MAX_OVERLAP_HOURS = 168;

const rollFields = {
  overlapHours: z
    .number()
    .int()
    .min(0)
    .max(MAX_OVERLAP_HOURS)
    .meta({ examples: [24] })
    .describe('How long the old key keeps working beside the new one (0: it stops at once)'),
  quietMinutes: z
    .number()
    .int()
    .min(QUIET_MINUTES.min)
    .max(QUIET_MINUTES.max)
    .meta({ examples: [QUIET_MINUTES.default] })
    .optional()
    .describe(
      `With an overlap: the rotation is complete (key.rotation_completed) once the new key has been used and the old one unused for this many minutes (default ${QUIET_MINUTES.default})`,
    ),
  closeWhenQuiet: z
    .boolean()
    .optional()
    .describe('With an overlap: stop the old key when the rotation completes, rather than at the end of the overlap (default false)'),
};

/** The rollout's options belong to a roll with an overlap: without one the old key stops at once. */
const ROLLOUT_OPTIONS = ['quietMinutes', 'closeWhenQuiet'] as const;

/** A roll's body (and a roll-key request's), with the rule that its rollout options need an overlap. */
const rollSchema = <S extends z.ZodType<{ overlapHours: number; quietMinutes?: number | undefined; closeWhenQuiet?: boolean | undefined }>>(
  schema: S,
) =>
  documentedAs(
    schema.superRefine((value, ctx) => {
      if (value.overlapHours > 0) return;
      for (const name of ROLLOUT_OPTIONS) {
        if (value[name] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: 'needs an overlap (overlapHours above 0): without one the old key stops at once',
          });
      }
    }),
    () => ({
      if: { properties: { overlapHours: { const: 0 } }, required: ['overlapHours'] },
      then: { not: { anyOf: ROLLOUT_OPTIONS.map((name) => ({ required: [name] })) } },
    }),
  );

export const rollKeySchema = rollSchema(z.object(rollFields));

export const rollKeyRequestSchema = rollSchema(z.object({ ...rollFields, keyId: idSchema('key') }));
export type IssueKeyRequest = z.output<typeof issueKeySchema>;
export type RollKeyRequest = z.output<typeof rollKeySchema>;

const booleanFlag = z
  .enum(['true', 'false', '1', '0', ''])
  .optional()
  .transform((v) => v === 'true' || v === '1');

export const revokeQuerySchema = z.object({ force: booleanFlag });

export const revokeKeyRequestSchema = z.object({
  keyId: idSchema('key'),
  force: z.boolean().default(false),
});

export const rotateTenantKeyRequestSchema = z.object({
  reason: text(500, 'Rotating after the March audit').optional(),
});

export const keyRequestActionSchema = z.enum(KEY_REQUEST_ACTIONS);

/** The body of `POST /v1/customer-keys/requests/{action}`, by action: the action's own parameters. */
export const KEY_REQUEST_BODIES = {
  'issue-key': issueKeySchema,
  'revoke-key': revokeKeyRequestSchema,
  'roll-key': rollKeyRequestSchema,
  'rotate-tenant-key': rotateTenantKeyRequestSchema,
} satisfies Record<(typeof KEY_REQUEST_ACTIONS)[number], z.ZodType<Record<string, unknown>>>;

/** A key request's action with its parameters as its schema in {@link KEY_REQUEST_BODIES} parsed them. */
export type KeyRequestCommand = {
  [A in keyof typeof KEY_REQUEST_BODIES]: { action: A; params: z.output<(typeof KEY_REQUEST_BODIES)[A]> };
}[keyof typeof KEY_REQUEST_BODIES];

export type UpdateCustomerRequest = z.output<typeof updateCustomerSchema>;
export type ExecuteRequestInput = z.output<typeof executeRequestSchema>;
export type RejectRequestInput = z.output<typeof rejectRequestSchema>;

export const executeRequestSchema = z
  .object({
    /** For rotate-tenant-key: how long the old component keeps working (0: not at all). */
    gracePeriodHours: z
      .number()
      .int()
      .min(0)
      .max(24 * 90)
      .meta({ examples: [24] })
      .optional(),
  })
  .default({});

export const rotateTenantKeySchema = executeRequestSchema;

export const rejectRequestSchema = z.object({ reason: text(500, 'Please roll the key instead').optional() }).default({});

export const staffRequestsQuerySchema = z.object({
  status: z.enum(['pending', 'executed', 'rejected', 'failed']).default('pending'),
});

/** A page size from the query string: a whole number from 1 to `max`, `fallback` when absent. */
export const limit = (max: number, fallback: number) =>
  documentedAs(
    z
      .string()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(1).max(max))
      .optional()
      .transform((v) => v ?? fallback),
    () => ({ type: 'integer', minimum: 1, maximum: max, default: fallback, examples: [fallback] }),
    'replace',
  );

export const pageQuerySchema = z.object({
  limit: limit(200, 50),
  cursor: z
    .string()
    .max(4096)
    .meta({ examples: ['eyJwIjoiYWNtZSJ9'] })
    .optional(),
});

export const sessionsQuerySchema = pageQuerySchema.extend({
  keyLabel: z
    .string()
    .max(64)
    .meta({ examples: ['checkout-ci'] })
    .optional(),
  from: instant().optional(),
  to: instant().optional(),
});

/** Path parameters; a path that names nothing is 404 (the binding), never a 400 that confirms the route. */
export const keyIdParams = z.object({ keyId: idSchema('key') });
export const requestIdParams = z.object({ id: idSchema('req') });
export const customerParams = z.object({ slug: slugSchema });
export const customerKeyParams = z.object({ slug: slugSchema, keyId: idSchema('key') });
