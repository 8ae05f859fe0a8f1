import { withApiKey } from '../middleware/api-key';
import { withGitHubSignature } from '../middleware/github-signature';
import { withLocalMode } from '../middleware/local-mode';
import { withCustomerAccess, withStaff } from '../middleware/portal-auth';
import type { ErrorCode } from '../shared/errors';
import type { AnonymousHandler, DoorName, HttpFunctionDefinition } from '../shared/function-contract';

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
    security: [{ GitHubSignature: [], GitHubKeyIdentifier: [] }],
    wrap: (_definition, handler) => withGitHubSignature()(handler),
  },
  staff: {
    label: 'portal Staff',
    codes: ['unauthenticated', 'forbidden', 'rate_limited', 'dependency_unavailable'],
    security: [{ PortalToken: [] }],
    wrap: (_definition, handler) => withStaff()(handler),
  },
};
