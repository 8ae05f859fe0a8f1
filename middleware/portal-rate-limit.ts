import { createHash } from 'node:crypto';
import type { RequestContext } from '../app/function-contract';
import type { PortalUser } from '../shared/auth/portal-tokens';
import type { RateSetting } from '../shared/config';
import { ApiError } from '../shared/errors';
import type { Decision, KeyLimits } from '../shared/rate-limit/shared-token-bucket';

/** The two limits a portal-token request is held to, by their names in the RateLimit fields. */
export type PortalPolicy = 'per-user' | 'per-customer';

/**
 * The limiter's subject ids. They are shared with the other instances (rate-limit sharing), so
 * a user is named by a hash of the token's `sub`, never the id itself.
 */
export const portalUserSubject = (userId: string): string =>
  `portal-user:${createHash('sha256').update(userId, 'utf8').digest('hex').slice(0, 32)}`;
export const portalCustomerSubject = (customerSlug: string): string => `portal-customer:${customerSlug}`;

const limitsOf = (setting: RateSetting): KeyLimits => ({ rate: setting.requestsPerSecond, burst: setting.burst });
const windowOf = (limits: KeyLimits) => Math.max(1, Math.ceil(limits.burst / limits.rate));

/**
 * Every request a portal token makes (customer admins and staff alike), before its role is
 * looked at: decided by the user's limit and, when the token names a customer, by the limit
 * that customer's portal users share (`PORTAL_RATE_LIMIT_*`), with the same shared token buckets
 * as keys. The customer's bucket is only drawn on once the user's admits, so one user's flood
 * cannot use up the others' share. Every answer carries the IETF RateLimit fields, one item per
 * policy; over a limit it is 429 `rate_limited` with `Retry-After` and the policy that refused.
 */
export function meterPortalRequest(user: PortalUser, ctx: RequestContext): void {
  const settings = ctx.services.useCases.config.portalRateLimit;
  const checks: Array<{ policy: PortalPolicy; subject: string; limits: KeyLimits }> = [
    { policy: 'per-user', subject: portalUserSubject(user.userId), limits: limitsOf(settings.perUser) },
  ];
  if (user.customerSlug) {
    ctx.services.tracing.annotate({ 'veriproof.customer': user.customerSlug });
    checks.push({ policy: 'per-customer', subject: portalCustomerSubject(user.customerSlug), limits: limitsOf(settings.perCustomer) });
  }
  const decided: Array<{ policy: PortalPolicy; decision: Decision }> = [];
  let refused: { policy: PortalPolicy; decision: Decision; limits: KeyLimits } | undefined;
  for (const check of checks) {
    const decision = ctx.services.rateLimiter.decideSubject(check.subject, check.limits);
    decided.push({ policy: check.policy, decision });
    if (!decision.allowed) {
      refused = { ...check, decision };
      break;
    }
  }
  Object.assign(ctx.responseHeaders, {
    'RateLimit-Policy': checks.map((c) => `"${c.policy}";q=${c.limits.burst};w=${windowOf(c.limits)}`).join(', '),
    RateLimit: decided.map((d) => `"${d.policy}";r=${d.decision.remaining};t=${d.decision.resetSeconds}`).join(', '),
  });
  if (refused) {
    const { policy, limits, decision } = refused;
    const who = policy === 'per-user' ? 'This portal user' : "This customer's portal users together";
    throw new ApiError(
      'rate_limited',
      `${who} may make ${limits.rate} requests per second (bursts of ${limits.burst}). Retry after ${decision.retryAfterSeconds} s.`,
      {
        headers: { 'Retry-After': String(decision.retryAfterSeconds) },
        extensions: { retryAfterSeconds: decision.retryAfterSeconds, limit: policy },
      },
    );
  }
}
