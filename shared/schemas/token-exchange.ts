import {
  FORM_CONTENT_TYPE,
  GRANT_TYPE_TOKEN_EXCHANGE,
  SUBJECT_TOKEN_TYPES,
  TOKEN_TYPE_ACCESS_TOKEN,
  TOKEN_TYPE_JWT,
} from '../oauth/token-request';
import { EXAMPLE_SLUG } from './examples';

/**
 * The token endpoint's (`POST /v1/oauth/token`, RFC 8693) form body, read by
 * shared/oauth/token-request.ts rather than by zod, so stated here as the OpenAPI document shows it.
 * Its answers (`tokenResponseView`, `oauthErrorView`) are in views.ts with every other.
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
