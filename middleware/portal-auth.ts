import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { AnonymousHandler, CustomerHandler, RequestContext, StaffHandler } from '../app/function-contract';
import type { PortalUser } from '../shared/auth/portal-tokens';
import { SANDBOX_SLUG, type Actor } from '../shared/domain';
import { ApiError } from '../shared/errors';
import { apiKeyCredential, authenticateApiKey, bearerToken } from './credentials';
import { meterKeyRequest } from './rate-limit';
import { meterPortalRequest } from './portal-rate-limit';

/** The header the portal sends in sandbox mode. */
export const SANDBOX_HEADER = 'x-veriproof-sandbox';

const unauthenticated = (detail: string) =>
  new ApiError('unauthenticated', detail, { headers: { 'WWW-Authenticate': 'Bearer realm="veriproof-portal"' } });

/**
 * Sandbox mode: `X-Veriproof-Sandbox` is `true` or `false`, sent once. Anything else (hosts join
 * a repeated header into one value) is 400, never a silent fall-back to the real tenant.
 */
function sandboxMode(request: HttpRequest): boolean {
  const value = request.headers.get(SANDBOX_HEADER);
  if (value === null) return false;
  const normalised = value.trim().toLowerCase();
  if (normalised === 'true') return true;
  if (normalised === 'false') return false;
  const message = 'must be true or false, sent once';
  throw new ApiError('validation_failed', `The request is not valid: X-Veriproof-Sandbox: ${message}`, {
    extensions: { errors: [{ path: 'X-Veriproof-Sandbox', message }] },
  });
}

async function portalUser(request: HttpRequest, ctx: RequestContext): Promise<PortalUser> {
  const token = bearerToken(request);
  if (!token) throw unauthenticated('Sign in to the portal: send its session token as Authorization: Bearer <token>.');
  const user = await ctx.services.portalTokens.verify(token);
  // Every portal-token request is limited, per user and per customer, before its role is looked at.
  meterPortalRequest(user, ctx);
  return user;
}

const userActor = (user: PortalUser): Actor => ({ type: 'user', id: user.userId, name: user.name });

/**
 * Staff routes: a portal session token with the `Staff` role, and nothing else (API keys of
 * any type are not staff credentials).
 */
export function withStaff() {
  return (handler: StaffHandler): AnonymousHandler =>
    async function staffMiddleware(request: HttpRequest, ctx: RequestContext): Promise<HttpResponseInit> {
      if (apiKeyCredential(request)) throw unauthenticated('Staff routes take portal session tokens, not API keys.');
      const user = await portalUser(request, ctx);
      if (!user.roles.includes('Staff')) throw new ApiError('forbidden', 'This route is for Veriproof staff.');
      return handler(request, { ...ctx, user, actor: userActor(user) });
    };
}

/**
 * Customer key-management routes: a portal session token with the `CustomerAdmin` role (acting
 * on the token's customer), or a `management` API key (acting on its own customer, recorded
 * by its label). Ingest keys cannot manage keys.
 *
 * With `X-Veriproof-Sandbox: true` the route reads the shared sandbox tenant instead, and
 * every write is refused with 403 `sandbox_read_only`.
 */
export function withCustomerAccess() {
  return (handler: CustomerHandler): AnonymousHandler =>
    async function customerMiddleware(request: HttpRequest, ctx: RequestContext): Promise<HttpResponseInit> {
      let tenant: string;
      let actor: Actor;
      let principal: Parameters<CustomerHandler>[1]['principal'];
      if (apiKeyCredential(request)) {
        const authenticated = authenticateApiKey(request, ctx);
        const identity = authenticated instanceof Promise ? await authenticated : authenticated;
        if (identity.keyType !== 'management') {
          throw new ApiError(
            'forbidden',
            identity.keyType === 'federated'
              ? 'Access tokens (workload identity) only ingest: manage keys with a management key or a portal session.'
              : 'Ingest keys cannot manage keys: use a management key or a portal session.',
          );
        }
        // Management keys are limited and counted like every other key.
        meterKeyRequest(identity, ctx);
        tenant = identity.customerSlug;
        actor = { type: 'key', id: identity.keyId, name: identity.keyLabel };
        principal = { kind: 'key', identity };
      } else {
        const user = await portalUser(request, ctx);
        if (!user.roles.includes('CustomerAdmin')) throw new ApiError('forbidden', 'Managing keys needs the CustomerAdmin role.');
        if (!user.customerSlug) throw new ApiError('forbidden', 'The session token names no customer.');
        tenant = user.customerSlug;
        actor = userActor(user);
        principal = { kind: 'user', user };
      }
      const sandbox = sandboxMode(request);
      if (sandbox) {
        if (request.method !== 'GET' && request.method !== 'HEAD') {
          throw new ApiError('sandbox_read_only', 'The shared sandbox is read-only: leave sandbox mode to change keys.');
        }
        await ctx.services.useCases.customers.ensureSandbox();
        tenant = SANDBOX_SLUG;
      }
      return handler(request, { ...ctx, tenant, actor, sandbox, principal });
    };
}
