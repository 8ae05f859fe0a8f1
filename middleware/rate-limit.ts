import type { RequestContext } from '../app/function-contract';
import type { KeyIdentity } from '../shared/domain';
import { ApiError } from '../shared/errors';
import type { Decision, KeyLimits } from '../shared/rate-limit/shared-token-bucket';

/** The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers) for a per-key token bucket. */
export function rateLimitHeaders(decision: Decision & { limits: KeyLimits }): Record<string, string> {
  const window = Math.max(1, Math.ceil(decision.limits.burst / decision.limits.rate));
  return {
    'RateLimit-Policy': `"per-key";q=${decision.limits.burst};w=${window}`,
    RateLimit: `"per-key";r=${decision.remaining};t=${decision.resetSeconds}`,
  };
}

/**
 * Every request an API key makes, of every type (ingest and management alike): decided by the
 * key's rate limit, counted in its usage (accepted and rate-limited), and answered with the
 * RateLimit fields whatever the response; over the limit it is 429 `rate_limited` with
 * `Retry-After`.
 */
export function meterKeyRequest(identity: KeyIdentity, ctx: RequestContext): void {
  ctx.services.tracing.annotate({ 'veriproof.customer': identity.customerSlug, 'veriproof.key_id': identity.keyId });
  const decision = ctx.services.rateLimiter.decide(identity);
  ctx.services.usageRecorder.record(identity, decision.allowed ? 'accepted' : 'rateLimited');
  ctx.services.telemetry.metrics.auth(decision.allowed ? 'ok' : 'rate_limited', identity);
  Object.assign(ctx.responseHeaders, rateLimitHeaders(decision));
  if (!decision.allowed) {
    throw new ApiError(
      'rate_limited',
      `This key may send ${decision.limits.rate} requests per second (bursts of ${decision.limits.burst}). Retry after ${decision.retryAfterSeconds} s.`,
      {
        headers: { 'Retry-After': String(decision.retryAfterSeconds) },
        extensions: { retryAfterSeconds: decision.retryAfterSeconds, limit: 'requests' },
      },
    );
  }
}
