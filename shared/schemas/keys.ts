import { z } from 'zod';
import { KEY_ENVIRONMENTS, KEY_TYPES, PLANS } from '../domain';
import { SLUG_MAX_LENGTH, SLUG_MIN_LENGTH, isValidSlug } from '../keys/compound-key';

/** Printable text without control characters, trimmed, within a length bound. */
const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'must not contain control characters');

export const slugSchema = z
  .string()
  .refine(
    isValidSlug,
    `must be ${SLUG_MIN_LENGTH} to ${SLUG_MAX_LENGTH} lower-case letters or digits, with single hyphens inside`,
  );

export const createCustomerSchema = z.object({
  slug: slugSchema,
  name: text(100),
  plan: z.enum(PLANS),
});
export type CreateCustomerInput = z.infer<typeof createCustomerSchema>;

export const issueKeySchema = z.object({
  label: text(64),
  application: text(64),
  environment: z.enum(KEY_ENVIRONMENTS).default('live'),
  type: z.enum(KEY_TYPES).default('secondary'),
});
export type IssueKeyInput = z.input<typeof issueKeySchema>;
