import { ApiError } from '../errors';
import type { Decision, KeyLimits } from './shared-token-bucket';

/**
 * Ingest's second meter, beside the per-key request limit: every session batch a request writes
 * (the spans of one session in one request, one storage transaction at most in the usual case)
 * takes one unit of the key's batch bucket, decided after the body is grouped into sessions and
 * before anything is stored. Its IETF RateLimit fields are added to the request limit's
 * (`"per-key"`) under the policy `"batches"`, and its 429 says which limit was hit.
 */
export const BATCHES_POLICY = 'batches';

/** Adds one policy's RateLimit fields to the list a response already carries (draft-ietf-httpapi-ratelimit-headers). */
export function addRateLimitFields(headers: Record<string, string>, policy: string, decision: Decision & { limits: KeyLimits }): void {
  const window = Math.max(1, Math.ceil(decision.limits.burst / decision.limits.rate));
  const add = (name: string, item: string) => {
    const existing = Object.keys(headers).find((n) => n.toLowerCase() === name.toLowerCase());
    if (existing) headers[existing] = `${headers[existing]}, ${item}`;
    else headers[name] = item;
  };
  add('RateLimit-Policy', `"${policy}";q=${decision.limits.burst};w=${window}`);
  add('RateLimit', `"${policy}";r=${decision.remaining};t=${decision.resetSeconds}`);
}

/** The 429 of an ingest request whose session batches are over the key's batch limit (nothing of it is stored). */
export function batchesRateLimited(batches: number, decision: Decision & { limits: KeyLimits }): ApiError {
  return new ApiError(
    'rate_limited',
    `This key may write ${decision.limits.rate} session batches per second (bursts of ${decision.limits.burst}); this request carries ${batches}. Retry after ${decision.retryAfterSeconds} s.`,
    {
      headers: { 'Retry-After': String(decision.retryAfterSeconds) },
      extensions: { retryAfterSeconds: decision.retryAfterSeconds, limit: 'batches' },
    },
  );
}
