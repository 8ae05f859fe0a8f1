import { z } from 'zod';
import { KEY_ENVIRONMENTS, TOKEN_LIFETIME_MINUTES } from '../domain';
import { visibleTextPattern } from '../text/visible-text';
import { ISSUER_MAX_LENGTH, ISSUER_PATTERN, issuerShapeProblem } from '../trust/issuer';
import { onlyWildcards } from '../trust/subject-pattern';
import { documentedAs } from './json-schema';
import { idSchema, text } from './keys';

/**
 * The input of the trust-policy routes (`/v1/trust-policies`), parsed at the edge. Rules between a
 * value and the running mode (an http issuer on a loopback host, local mode only) are the
 * service's (shared/services/trust-policy-service.ts).
 */

/** Most claims a policy may require besides issuer, audience and subject. */
export const MAX_POLICY_CLAIMS = 20;

/**
 * Claims a policy states elsewhere (`iss`, `aud`, `sub`: its issuer, audience and subject) or that
 * the exchange checks by time (`exp`, `nbf`, `iat`) or that are unique per token (`jti`).
 */
export const RESERVED_CLAIMS = ['iss', 'aud', 'sub', 'exp', 'nbf', 'iat', 'jti'] as const;

const CLAIM_NAME = /^[!-~]{1,128}$/;

export const issuerSchema = documentedAs(
  z
    .string()
    .max(ISSUER_MAX_LENGTH, { message: `must be at most ${ISSUER_MAX_LENGTH} characters`, abort: true })
    .superRefine((value, ctx) => {
      const problem = issuerShapeProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  () => ({
    type: 'string',
    format: 'uri',
    maxLength: ISSUER_MAX_LENGTH,
    pattern: ISSUER_PATTERN,
    examples: ['https://token.actions.githubusercontent.com'],
    description:
      "The identity token's `iss`, compared exactly: an https URL without query or fragment (http only for a loopback host, in local mode)",
  }),
  'replace',
);

const SUBJECT_EXAMPLE = 'repo:acme/checkout:ref:refs/heads/main';

export const subjectSchema = documentedAs(
  text(512, SUBJECT_EXAMPLE).refine(
    (value) => !onlyWildcards(value),
    'must hold more than `*` and spaces (a subject of stars alone admits anyone)',
  ),
  // The refinement makes a schema of its own: it restates text()'s rule, and states its own.
  () => ({
    pattern: visibleTextPattern(),
    not: { pattern: '^[ *]*$' },
    examples: [SUBJECT_EXAMPLE],
    description: "The identity token's `sub`: exact, where `*` matches any run of characters (none included)",
  }),
);

const claimNameSchema = documentedAs(
  z
    .string()
    .regex(CLAIM_NAME, 'must be 1 to 128 printable ASCII characters without spaces')
    .refine(
      (name) => !(RESERVED_CLAIMS as readonly string[]).includes(name),
      `must not be one of ${RESERVED_CLAIMS.join(', ')} (issuer, audience and subject have fields of their own; times and ids are checked by the exchange)`,
    ),
  () => ({ pattern: CLAIM_NAME.source, not: { enum: [...RESERVED_CLAIMS] } }),
  'merge',
);

export const claimsSchema = documentedAs(
  z
    .record(claimNameSchema, text(256, 'acme'))
    .refine((claims) => Object.keys(claims).length <= MAX_POLICY_CLAIMS, `must hold at most ${MAX_POLICY_CLAIMS} claims`),
  () => ({
    maxProperties: MAX_POLICY_CLAIMS,
    examples: [{ repository_owner: 'acme', job_workflow_ref: 'acme/checkout/.github/workflows/deploy.yml@refs/heads/main' }],
    description: `Further claims the identity token must hold, each with exactly this string value (at most ${MAX_POLICY_CLAIMS})`,
  }),
);

const tokenLifetimeSchema = z
  .number()
  .int()
  .min(TOKEN_LIFETIME_MINUTES.min)
  .max(TOKEN_LIFETIME_MINUTES.max)
  .meta({ examples: [TOKEN_LIFETIME_MINUTES.default] })
  .describe(
    `How long an access token minted under the policy lasts, in minutes (${TOKEN_LIFETIME_MINUTES.min} to ${TOKEN_LIFETIME_MINUTES.max})`,
  );

const policyFields = {
  label: text(64, 'github-deploy'),
  issuer: issuerSchema,
  audience: text(256, 'acme', "The identity token's `aud`, compared exactly"),
  subject: subjectSchema,
  claims: claimsSchema,
  application: text(64, 'checkout', 'What the minted tokens ingest as: the application of an ingest key'),
  environment: z.enum(KEY_ENVIRONMENTS),
  tokenLifetimeMinutes: tokenLifetimeSchema,
};

/** `POST /v1/trust-policies`. */
export const createTrustPolicySchema = z.object({
  ...policyFields,
  claims: policyFields.claims.default({}),
  tokenLifetimeMinutes: policyFields.tokenLifetimeMinutes.default(TOKEN_LIFETIME_MINUTES.default),
});
export type CreateTrustPolicyRequest = z.output<typeof createTrustPolicySchema>;

const POLICY_SETTINGS = Object.keys(policyFields);

/** `PATCH /v1/trust-policies/{id}`: any of the fields; `claims` replaces them all (`{}`: none). */
export const patchTrustPolicySchema = documentedAs(
  z
    .object({
      label: policyFields.label.optional(),
      issuer: policyFields.issuer.optional(),
      audience: policyFields.audience.optional(),
      subject: policyFields.subject.optional(),
      claims: policyFields.claims.optional(),
      application: policyFields.application.optional(),
      environment: policyFields.environment.optional(),
      tokenLifetimeMinutes: policyFields.tokenLifetimeMinutes.optional(),
    })
    .refine((v) => Object.keys(v).length > 0, `name at least one of ${POLICY_SETTINGS.join(', ')}`),
  () => ({ anyOf: POLICY_SETTINGS.map((name) => ({ required: [name] })) }),
);
export type PatchTrustPolicyRequest = z.output<typeof patchTrustPolicySchema>;

/** Path parameters; an id of another shape names nothing (404). */
export const trustPolicyIdParams = z.object({ id: idSchema('tp') });
