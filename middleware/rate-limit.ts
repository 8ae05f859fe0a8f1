import type { RequestContext } from '../app/function-contract';
import type { KeyIdentity } from '../shared/domain';
import { ApiError } from '../shared/errors';
import type { KeyLimits, LimitedDecision } from '../shared/rate-limit/shared-token-bucket';

/** The `RateLimit-Policy` field of each limits object (a plan's, a key's own), made once: it changes only with the limits. */
const policies = new WeakMap<KeyLimits, string>();

function policyField(limits: KeyLimits): string {
  let policy = policies.get(limits);
  if (policy === undefined) {
    const window = Math.max(1, Math.ceil(limits.burst / limits.rate));
    policies.set(limits, (policy = `"per-key";q=${limits.burst};w=${window}`));
  }
  return policy;
}

/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers) for a per-key token bucket,
 * named in lower case as every response header is written (a name the boundary must lower-case
 * costs it a new string per request).
 */
export function rateLimitHeaders(decision: LimitedDecision): Record<string, string> {
  return { 'ratelimit-policy': policyField(decision.limits), ratelimit: rateLimitField(decision) };
}

const rateLimitField = (decision: LimitedDecision) => `"per-key";r=${decision.remaining};t=${decision.resetSeconds}`;

/**
 * Every request an API key makes, of every type (ingest and management alike): decided by the
 * key's rate limit, counted in its usage (accepted and rate-limited), and answered with the
 * RateLimit fields whatever the response; over the limit it is 429 `rate_limited` with
 * `Retry-After`. One clock reading serves the decision and the count.
 */
export function meterKeyRequest(identity: KeyIdentity, ctx: RequestContext): void {
  const { services, responseHeaders } = ctx;
  services.tracing.annotateKey(identity);
  const now = services.clock.millis();
  const decision = services.rateLimiter.decide(identity, now);
  services.usageRecorder.record(identity, decision.allowed ? 'accepted' : 'rateLimited', now);
  services.telemetry.metrics.auth(decision.allowed ? 'ok' : 'rate_limited', identity);
  responseHeaders['ratelimit-policy'] = policyField(decision.limits);
  responseHeaders.ratelimit = rateLimitField(decision);
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
