import type { Actor, Operation } from '../domain';
import { describeError, type Logger } from '../logging';
import type { TrustPolicyRepository } from '../ports/trust-policy-repository';
import type { ServiceMetrics } from '../telemetry/metrics';
import type { SubjectTokenFailureReason, SubjectTokenVerifier } from '../trust/oidc-verifier';
import type { AuditTrail } from './audit-trail';
import type { CustomerService } from './customer-service';
import type { FederatedTokens } from './federated-tokens';

/** Who the audit log names for an exchange: the service, on the workload's behalf (the workload is in the details). */
export const TOKEN_EXCHANGE_ACTOR: Actor = { type: 'system', id: 'token-exchange', name: 'token exchange' };

/**
 * Why an exchange was refused, for the audit log and the service's log (the client is answered one
 * `invalid_grant` for all of them): the subject token verifier's reasons, and the exchange's own.
 */
export type ExchangeRefusal =
  | SubjectTokenFailureReason
  /** The audience names no customer (logged only: there is no customer's audit log to write to). */
  | 'unknown_customer'
  /** The customer has no trust policy. */
  | 'no_trust_policy'
  /** The matched policy changed or was deleted while the token was minted: the token was withdrawn. */
  | 'policy_changed';

/** A valid exchange request (the route checked its parameters). */
export interface ExchangeRequest {
  /** The workload's identity token (a JWT): never stored, logged or audited. */
  subjectToken: string;
  /** The customer's slug. */
  audience: string;
}

export type ExchangeOutcome =
  | { ok: true; accessToken: string; expiresIn: number; trustPolicyId: string }
  | { ok: false; error: 'invalid_grant'; reason: ExchangeRefusal };

/** What a TokenExchange is built from. */
export interface TokenExchangeDeps {
  /** The process's one verifier (its issuer key cache is shared by every exchange). */
  verifier: SubjectTokenVerifier;
  policies: TrustPolicyRepository;
  customers: CustomerService;
  tokens: FederatedTokens;
  audit: AuditTrail;
  log: Logger;
  /** Each exchange's outcome and time (`veriproof.token_exchange.*`). */
  metrics?: ServiceMetrics;
}

/**
 * The token exchange (RFC 8693) behind `POST /v1/oauth/token`: a workload's identity token, for a
 * customer, against that customer's trust policies (first match wins, in their listed order), for
 * a federated access token that acts as an ingest key of the matched policy. Every refusal is one
 * `invalid_grant` to the client; its reason goes to the customer's audit log (`token.refused`),
 * each exchange too (`token.exchanged`), never the identity token.
 */
export class TokenExchange {
  private readonly verifier: SubjectTokenVerifier;
  private readonly policies: TrustPolicyRepository;
  private readonly customers: CustomerService;
  private readonly tokens: FederatedTokens;
  private readonly audit: AuditTrail;
  private readonly log: Logger;
  private readonly metrics: ServiceMetrics | undefined;

  constructor(deps: TokenExchangeDeps) {
    this.verifier = deps.verifier;
    this.policies = deps.policies;
    this.customers = deps.customers;
    this.tokens = deps.tokens;
    this.audit = deps.audit;
    this.log = deps.log;
    this.metrics = deps.metrics;
  }

  /** One exchange, counted by its outcome (the refusal's reason) and timed. */
  async exchange(request: ExchangeRequest, requestId: string): Promise<ExchangeOutcome> {
    const started = performance.now();
    let outcome: ExchangeOutcome;
    try {
      outcome = await this.decide(request, requestId);
    } catch (error) {
      this.metrics?.tokenExchange({ outcome: 'failed' }, performance.now() - started);
      throw error;
    }
    this.metrics?.tokenExchange(
      outcome.ok ? { outcome: 'issued' } : { outcome: 'refused', reason: outcome.reason },
      performance.now() - started,
    );
    return outcome;
  }

  /** A request refused before any exchange, with this RFC 6749 error (its parameters are wrong): counted, nothing else. */
  invalidRequest(error: string): void {
    this.metrics?.tokenExchange({ outcome: 'invalid_request', error });
  }

  private async decide(request: ExchangeRequest, requestId: string): Promise<ExchangeOutcome> {
    const op: Operation = { actor: TOKEN_EXCHANGE_ACTOR, requestId };
    // Both reads at once (one round trip less); a slug no customer has lists no policies.
    const [customer, policies] = await Promise.all([this.customers.get(request.audience), this.policies.list(request.audience)]);
    if (!customer) {
      this.log.info('token exchange refused', { customer: request.audience, reason: 'unknown_customer', requestId });
      return { ok: false, error: 'invalid_grant', reason: 'unknown_customer' };
    }
    if (policies.length === 0)
      return this.refuse(customer.slug, op, { reason: 'no_trust_policy', detail: 'the customer has no trust policy' });

    const verdict = await this.verifier.verify(request.subjectToken, policies);
    if (!verdict.ok) {
      const { ok: _ok, ...why } = verdict;
      return this.refuse(customer.slug, op, why);
    }
    const { policy, token } = verdict;
    const minted = await this.tokens.mint(customer, policy);
    // The policy as it is now, read after the token was stored: a change or a deletion that began
    // before this read stops the token itself (its index row was written first); one that this
    // read sees, the exchange undoes. Expired tokens of the policy are cleared meanwhile.
    const [current] = await Promise.all([
      this.policies.get(customer.slug, policy.id),
      // Housekeeping: a failure here leaves rows for a later exchange to clear, and fails nothing.
      this.tokens.sweepExpired(customer.slug, policy.id).catch((error: unknown) => {
        this.log.warn('expired federated tokens not cleared', {
          customer: customer.slug,
          trustPolicyId: policy.id,
          ...describeError(error),
        });
      }),
    ]);
    if (!current || current.status !== 'active' || current.updatedAt !== policy.updatedAt) {
      await this.tokens.withdraw(minted.record, op);
      return this.refuse(customer.slug, op, {
        reason: 'policy_changed',
        detail: 'the policy changed or was deleted while the token was minted',
        issuer: token.issuer,
        subject: token.subject,
        policyId: policy.id,
      });
    }
    await this.audit.record({
      customerSlug: customer.slug,
      type: 'token.exchanged',
      op,
      details: {
        trustPolicyId: policy.id,
        label: policy.label,
        issuer: token.issuer,
        subject: token.subject,
        ...(token.tokenId !== undefined ? { subjectTokenId: token.tokenId } : {}),
        application: policy.application,
        environment: policy.environment,
        expiresAt: minted.record.expiresAt,
      },
    });
    this.log.info('token exchanged', { customer: customer.slug, trustPolicyId: policy.id, requestId });
    return { ok: true, accessToken: minted.token, expiresIn: policy.tokenLifetimeMinutes * 60, trustPolicyId: policy.id };
  }

  private async refuse(
    customerSlug: string,
    op: Operation,
    why: { reason: ExchangeRefusal; detail: string; issuer?: string; subject?: string; policyId?: string },
  ): Promise<ExchangeOutcome> {
    await this.audit.record({
      customerSlug,
      type: 'token.refused',
      op,
      details: {
        reason: why.reason,
        detail: why.detail,
        ...(why.issuer !== undefined ? { issuer: why.issuer } : {}),
        ...(why.subject !== undefined ? { subject: why.subject } : {}),
        ...(why.policyId !== undefined ? { trustPolicyId: why.policyId } : {}),
      },
    });
    this.log.info('token exchange refused', { customer: customerSlug, reason: why.reason, requestId: op.requestId });
    return { ok: false, error: 'invalid_grant', reason: why.reason };
  }
}
