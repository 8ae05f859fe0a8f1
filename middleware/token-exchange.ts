import { createHash } from 'node:crypto';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { AnonymousHandler, RequestContext, TokenExchangeHandler } from '../app/function-contract';
import type { RateSetting } from '../shared/config';
import { ApiError } from '../shared/errors';
import { MAX_JSON_BODY_BYTES, readBody } from '../shared/http/body';
import { clientAddress } from '../shared/http/client-address';
import { oauthError } from '../shared/http/responses';
import { audienceOf, parseForm } from '../shared/oauth/token-request';
import type { KeyLimits } from '../shared/rate-limit/shared-token-bucket';

/** The two limits an exchange is held to, by their names in the RateLimit fields. */
export type ExchangePolicy = 'per-address' | 'per-customer';

/**
 * The limiter's subject ids, shared with the other instances (rate-limit sharing): an address is
 * named by a hash, never as it is; a customer by its slug (the audience, whether or not it exists).
 */
export const exchangeAddressSubject = (address: string): string =>
  `token-exchange-address:${createHash('sha256').update(address, 'utf8').digest('hex').slice(0, 32)}`;
export const exchangeCustomerSubject = (slug: string): string => `token-exchange-customer:${slug}`;

const limitsOf = (setting: RateSetting): KeyLimits => ({ rate: setting.requestsPerSecond, burst: setting.burst });
const windowOf = (limits: KeyLimits) => Math.max(1, Math.ceil(limits.burst / limits.rate));

/**
 * The door of the token endpoint (`POST /v1/oauth/token`): anonymous (the identity token in the
 * body is the credential, and only the exchange judges it), but held to two limits before anything
 * is verified, with the same shared token buckets as keys (`TOKEN_EXCHANGE_RATE_LIMIT_*`):
 * 1. the client's address (read from X-Forwarded-For as for keys), before the body is read;
 * 2. the body, read within the JSON routes' bound (413 `payload_too_large` past it), must be a form
 *    (anything else is an RFC 6749 `invalid_request`);
 * 3. the customer the form names as its `audience` (a well-formed slug, existing or not: the limit
 *    tells nothing about which slugs exist), before its policies are read or the token verified.
 * Over a limit it is 429 `rate_limited` with `Retry-After`, as application/problem+json like every
 * 429 of the API (RFC 6749 defines no error for it), naming the policy that refused; every answer
 * carries the IETF RateLimit fields of the limits drawn on. The handler gets the form's parameters.
 * A refusal here is counted (`veriproof.token_exchange.outcomes`: `rate_limited`, `invalid_request`).
 */
export function withTokenExchangeLimits() {
  return (handler: TokenExchangeHandler): AnonymousHandler =>
    async function tokenExchangeMiddleware(request: HttpRequest, ctx: RequestContext): Promise<HttpResponseInit> {
      const { config } = ctx.services.useCases;
      const meter = new ExchangeMeter(ctx);
      const address = clientAddress(request, config.trustedProxyHops) ?? 'unknown';
      meter.draw('per-address', exchangeAddressSubject(address), limitsOf(config.tokenExchangeRateLimit.perAddress));
      const body = await readBody(
        request,
        MAX_JSON_BODY_BYTES,
        () => new ApiError('payload_too_large', `A token request may be at most ${MAX_JSON_BODY_BYTES} bytes.`),
      );
      const form = parseForm(body, request.headers.get('content-type'));
      if (!form.ok) {
        ctx.services.telemetry.metrics.tokenExchange({ outcome: 'invalid_request', error: form.error });
        return oauthError(form);
      }
      const audience = audienceOf(form.params);
      if (audience !== undefined) {
        ctx.services.tracing.annotate({ 'veriproof.customer': audience });
        meter.draw('per-customer', exchangeCustomerSubject(audience), limitsOf(config.tokenExchangeRateLimit.perCustomer));
      }
      return handler(request, { ...ctx, form: form.params });
    };
}

/** The limits drawn on so far for one request, written to its RateLimit fields after each draw. */
class ExchangeMeter {
  private readonly drawn: Array<{ policy: ExchangePolicy; limits: KeyLimits; remaining: number; resetSeconds: number }> = [];

  constructor(private readonly ctx: RequestContext) {}

  /** Takes one request from the subject's bucket; over its limit, throws 429 `rate_limited`. */
  draw(policy: ExchangePolicy, subject: string, limits: KeyLimits): void {
    const decision = this.ctx.services.rateLimiter.decideSubject(subject, limits);
    this.drawn.push({ policy, limits, remaining: decision.remaining, resetSeconds: decision.resetSeconds });
    Object.assign(this.ctx.responseHeaders, {
      'RateLimit-Policy': this.drawn.map((d) => `"${d.policy}";q=${d.limits.burst};w=${windowOf(d.limits)}`).join(', '),
      RateLimit: this.drawn.map((d) => `"${d.policy}";r=${d.remaining};t=${d.resetSeconds}`).join(', '),
    });
    if (decision.allowed) return;
    this.ctx.services.telemetry.metrics.tokenExchange({ outcome: 'rate_limited', limit: policy });
    const who = policy === 'per-address' ? 'This address' : 'Exchanges for this customer, from all addresses together,';
    throw new ApiError(
      'rate_limited',
      `${who} may make ${limits.rate} token exchanges per second (bursts of ${limits.burst}). Retry after ${decision.retryAfterSeconds} s.`,
      {
        headers: { 'Retry-After': String(decision.retryAfterSeconds) },
        extensions: { retryAfterSeconds: decision.retryAfterSeconds, limit: policy },
      },
    );
  }
}
