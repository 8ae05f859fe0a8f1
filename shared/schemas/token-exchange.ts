import { z } from 'zod';
import {
  FORM_CONTENT_TYPE,
  GRANT_TYPE_TOKEN_EXCHANGE,
  OAUTH_ERRORS,
  SUBJECT_TOKEN_TYPES,
  TOKEN_TYPE_ACCESS_TOKEN,
  TOKEN_TYPE_JWT,
} from '../oauth/token-request';
import { EXAMPLE_ACCESS_TOKEN, EXAMPLE_SLUG, count, shown } from './examples';

/**
 * The wire shapes of the token endpoint (`POST /v1/oauth/token`, RFC 8693): its form body (read by
 * shared/oauth/token-request.ts, not by zod, so documented here as JSON Schema), its answer and its
 * RFC 6749 §5.2 errors.
 */

/** An identity token's shape in the reference (a JWT: three base64url segments; this one opens nothing). */
const EXAMPLE_SUBJECT_TOKEN =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6ImV4YW1wbGUifQ.eyJpc3MiOiJodHRwczovL3Rva2VuLmFjdGlvbnMuZ2l0aHVidXNlcmNvbnRlbnQuY29tIiwic3ViIjoicmVwbzphY21lL2NoZWNrb3V0OnJlZjpyZWZzL2hlYWRzL21haW4iLCJhdWQiOiJhY21lIn0.c2lnbmF0dXJl';

/** The form body as the OpenAPI document states it (an OpenAPI Request Body Object). */
export const tokenRequestBody = {
  required: true,
  description:
    "An RFC 8693 token exchange, form-encoded: the workload's identity token (a JWT from its platform) for the customer named in `audience`. Each parameter once.",
  content: {
    [FORM_CONTENT_TYPE]: {
      schema: {
        type: 'object',
        required: ['grant_type', 'subject_token', 'subject_token_type', 'audience'],
        properties: {
          grant_type: { type: 'string', enum: [GRANT_TYPE_TOKEN_EXCHANGE] },
          subject_token: {
            type: 'string',
            minLength: 1,
            description: "The workload's identity token (a JWT), as its platform issued it",
            examples: [EXAMPLE_SUBJECT_TOKEN],
          },
          subject_token_type: { type: 'string', enum: [...SUBJECT_TOKEN_TYPES], examples: [TOKEN_TYPE_JWT] },
          audience: {
            type: 'string',
            minLength: 2,
            maxLength: 32,
            pattern: '^[a-z0-9]+(?:-[a-z0-9]+)*$',
            description: "The customer's slug: its trust policies judge the identity token",
            examples: [EXAMPLE_SLUG],
          },
          requested_token_type: { type: 'string', enum: [TOKEN_TYPE_ACCESS_TOKEN], description: 'Optional: the only type issued' },
        },
      },
    },
  },
} as const;

export const tokenResponseView = z
  .object({
    access_token: shown(EXAMPLE_ACCESS_TOKEN).describe(
      'A federated access token: send it as an ingest key (Authorization: Bearer or X-API-Key) until it expires',
    ),
    issued_token_type: z.literal(TOKEN_TYPE_ACCESS_TOKEN),
    token_type: z.literal('Bearer'),
    expires_in: count(900).describe(
      "Seconds until it expires: the trust policy's tokenLifetimeMinutes, whatever the identity token's own expiry",
    ),
  })
  .meta({ id: 'TokenExchangeResponse' });

export const oauthErrorView = z
  .object({
    error: z.enum(OAUTH_ERRORS),
    error_description: shown('The subject token is not accepted for this audience.'),
  })
  .meta({
    id: 'OAuthError',
    description:
      'An RFC 6749 §5.2 error: invalid_request, unsupported_grant_type, invalid_grant (every refused identity token), invalid_target',
    examples: [{ error: 'invalid_grant', error_description: 'The subject token is not accepted for this audience.' }],
  });
