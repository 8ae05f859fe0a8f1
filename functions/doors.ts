import { withApiKey } from '../middleware/api-key';
import { KEY_ID_HEADER, SIGNATURE_HEADER, withGitHubSignature } from '../middleware/secret-scanning-signature';
import { withLocalMode } from '../middleware/local-mode';
import { withTokenExchangeLimits } from '../middleware/token-exchange';
import { withCustomerAccess, withStaff } from '../middleware/portal-auth';
import type { ErrorCode } from '../shared/errors';
import type { AnonymousHandler, DoorName, HttpFunctionDefinition } from '../app/function-contract';

/**
 * Each door a route can sit behind, described once: how it wraps a handler, the problems it can
 * answer with itself, its OpenAPI security requirement and how the local host labels it. The
 * binding, the OpenAPI generator and `npm start`'s route list all read this table.
 */
export interface Door {
  label: string;
  /** Codes the door itself answers with (a route adds its input's and its handler's). */
  codes: readonly ErrorCode[];
  /** OpenAPI security requirements (alternatives), by scheme name (shared/http/openapi.ts). */
  security: ReadonlyArray<Record<string, string[]>>;
  /**
   * Headers the door reads that no person supplies (a machine's signature): documented as
   * required header parameters of each operation behind the door, not as security schemes, so
   * the reference's Authorize dialog lists only the credentials a person uses.
   */
  headers?: ReadonlyArray<{ name: string; description: string; example: string }>;
  wrap(definition: HttpFunctionDefinition, handler: AnonymousHandler): AnonymousHandler;
}

const API_KEY_CODES: readonly ErrorCode[] = [
  'api_key_missing',
  'api_key_malformed',
  'api_key_invalid',
  'api_key_expired',
  'component_invalid',
  'component_required',
  'rate_limited',
  'ip_not_allowed',
  'dependency_unavailable',
];

/**
 * What the host in front of every route can answer before any door: a header section too large
 * (431), a request that is not HTTP (400), a Host it does not serve (421, the local host).
 */
export const HOST_CODES: readonly ErrorCode[] = ['header_too_large', 'bad_request', 'misdirected_request'];

export const DOORS: Record<DoorName, Door> = {
  anonymous: {
    label: 'anonymous',
    codes: [],
    security: [],
    wrap: (_definition, handler) => handler,
  },
  local: {
    label: 'local mode only',
    // Outside local mode the route answers like one that is not there; its writes take JSON only
    // (a form on another site cannot send that without the browser asking first).
    codes: ['not_found', 'unsupported_media_type'],
    security: [],
    wrap: (_definition, handler) => withLocalMode()(handler),
  },
  apiKey: {
    label: 'API key',
    codes: [...API_KEY_CODES, 'forbidden'],
    security: [{ ApiKeyHeader: [] }, { ApiKeyBearer: [] }],
    wrap: (definition, handler) =>
      withApiKey(definition.auth === 'apiKey' && definition.keyTypes ? { keyTypes: definition.keyTypes } : {})(handler),
  },
  customer: {
    label: 'portal CustomerAdmin or management key',
    // A management key's refusals, a portal token's, and a bad X-Veriproof-Sandbox header.
    codes: [...API_KEY_CODES, 'unauthenticated', 'forbidden', 'validation_failed'],
    security: [{ PortalToken: [] }, { ManagementKeyHeader: [] }],
    wrap: (_definition, handler) => withCustomerAccess()(handler),
  },
  githubSignature: {
    label: "GitHub's signature",
    // No signature headers or a bad signature (401), a body over the bound (413), GitHub's key
    // list unreadable while the report names a key we do not hold (503: GitHub retries).
    codes: ['signature_invalid', 'payload_too_large', 'invalid_body', 'dependency_unavailable'],
    // Only GitHub can sign: no scheme a person would enter in the reference's Authorize dialog.
    security: [],
    headers: [
      {
        name: KEY_ID_HEADER,
        description: "Which of GitHub's published secret-scanning keys signed the body (sent by GitHub)",
        example: 'bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c',
      },
      {
        name: SIGNATURE_HEADER,
        description: "GitHub's ECDSA P-256 / SHA-256 signature over the raw body, base64 of its DER form (sent by GitHub)",
        example: 'MEUCIQC3Xz8kqg5bZx2k7Z1YqV8pN6j2sH0Z7w4n9y1cX3o0ZQIgJ5mZb2X1wq7kZ0Yf3n8pL2sV6xH4r9t1cW5e0uQ7a8M=',
      },
    ],
    wrap: (_definition, handler) => withGitHubSignature()(handler),
  },
  tokenExchange: {
    label: 'anonymous, limited per address and customer',
    // Over a limit (429), a body over the bound (413), storage unreachable (503): problems. What is
    // wrong with the request itself, or the grant, is the route's own RFC 6749 error (docs.oauthErrors).
    codes: ['rate_limited', 'payload_too_large', 'dependency_unavailable'],
    // The identity token in the body is the credential: no scheme a person enters.
    security: [],
    wrap: (_definition, handler) => withTokenExchangeLimits()(handler),
  },
  staff: {
    label: 'portal Staff',
    codes: ['unauthenticated', 'forbidden', 'rate_limited', 'dependency_unavailable'],
    security: [{ PortalToken: [] }],
    wrap: (_definition, handler) => withStaff()(handler),
  },
};
