import type { Clock } from '../clock';
import type { PlanLimits } from '../config';
import type { Customer, Operation, Plan, TrustPolicy } from '../domain';
import { ApiError } from '../errors';
import { isId, newId } from '../ids';
import type { Logger } from '../logging';
import type { TrustPolicyRepository } from '../ports/trust-policy-repository';
import type { CreateTrustPolicyRequest, PatchTrustPolicyRequest } from '../schemas/trust-policies';
import { issuerModeProblem } from '../trust/issuer';
import type { AuditTrail } from './audit-trail';
import type { CustomerService } from './customer-service';
import type { FederatedTokens } from './federated-tokens';

/** What a TrustPolicyService is built from. */
export interface TrustPolicyServiceDeps {
  policies: TrustPolicyRepository;
  customers: CustomerService;
  audit: AuditTrail;
  plans: Record<Plan, PlanLimits>;
  /** The access tokens minted under the policies: a change or a deletion stops them. */
  tokens: FederatedTokens;
  clock: Clock;
  log: Logger;
  /** Local mode: an issuer may be http on a loopback host (a developer's or a test's issuer). */
  localMode: boolean;
}

/** The fields of a policy a change can set, in the order the audit log shows them. */
const POLICY_FIELDS = [
  'label',
  'issuer',
  'audience',
  'subject',
  'claims',
  'application',
  'environment',
  'tokenLifetimeMinutes',
] as const satisfies ReadonlyArray<keyof TrustPolicy>;
type PolicyField = (typeof POLICY_FIELDS)[number];

const NOT_FOUND = () => new ApiError('not_found', 'This customer has no such trust policy.');

const sameValue = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** A policy's claims in one order (by name), so that the same claims always read, store and compare the same. */
const sortedClaims = (claims: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(claims).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/**
 * A customer's trust policies (workload identity federation): whom it trusts to trade an identity
 * token for a short-lived ingest token. Input comes parsed at the edge (shared/schemas/trust-policies.ts);
 * this adds the rules that depend on the running mode and on stored state (the plan's cap,
 * labels), and audits every change in the transaction that makes it.
 */
export class TrustPolicyService {
  private readonly policies: TrustPolicyRepository;
  private readonly customers: CustomerService;
  private readonly audit: AuditTrail;
  private readonly plans: Record<Plan, PlanLimits>;
  private readonly tokens: FederatedTokens;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly localMode: boolean;

  constructor(deps: TrustPolicyServiceDeps) {
    this.policies = deps.policies;
    this.customers = deps.customers;
    this.audit = deps.audit;
    this.plans = deps.plans;
    this.tokens = deps.tokens;
    this.clock = deps.clock;
    this.log = deps.log;
    this.localMode = deps.localMode;
  }

  /** The customer's cap on trust policies: its plan's. */
  limit(customer: Customer): number {
    return this.plans[customer.plan].trustPolicyLimit;
  }

  async create(customerSlug: string, input: CreateTrustPolicyRequest, op: Operation): Promise<TrustPolicy> {
    this.checkIssuer(input.issuer);
    const customer = await this.customers.require(customerSlug);
    const now = this.clock.now();
    const policy: TrustPolicy = {
      id: newId('tp', now),
      customerSlug: customer.slug,
      label: input.label,
      issuer: input.issuer,
      audience: input.audience,
      subject: input.subject,
      claims: sortedClaims(input.claims),
      application: input.application,
      environment: input.environment,
      tokenLifetimeMinutes: input.tokenLifetimeMinutes,
      status: 'active',
      createdAt: now.toISOString(),
      createdBy: op.actor,
      updatedAt: now.toISOString(),
    };
    const outcome = await this.policies.insert(policy, {
      limit: (current) => this.limit(current),
      audit: this.audit.event({
        customerSlug: customer.slug,
        type: 'trust_policy.created',
        op,
        details: { trustPolicyId: policy.id, ...this.settingsOf(policy) },
      }),
    });
    if (outcome === 'customer_missing') throw new ApiError('not_found', 'No such customer.');
    if (outcome === 'label_taken') throw this.labelTaken(policy.label);
    if (outcome === 'limit_reached') throw await this.limitReached(customer);
    this.log.info('trust policy created', { customer: customer.slug, trustPolicyId: policy.id });
    return policy;
  }

  /** The customer's trust policies, oldest first (the order an exchange tries them in). */
  async list(customerSlug: string): Promise<TrustPolicy[]> {
    const customer = await this.customers.require(customerSlug);
    return this.policies.list(customer.slug);
  }

  /** One policy of the customer; another customer's, a deleted one or none at all is 404. */
  async get(customerSlug: string, id: string): Promise<TrustPolicy> {
    const customer = await this.customers.require(customerSlug);
    const policy = isId('tp', id) ? await this.policies.get(customer.slug, id) : undefined;
    if (!policy || policy.status !== 'active') throw NOT_FOUND();
    return policy;
  }

  /**
   * Changes the fields the patch names (`claims` as a whole); a patch that changes nothing writes
   * nothing. Any change stops the tokens minted under the policy before it (every instance refuses
   * them within a feed read): a workload exchanges again under the policy as it now is. The change
   * is the policy's new version (`updatedAt`, always later than the one before); tokens are stopped
   * once it is written, and an exchange that minted meanwhile finds the new version and withdraws
   * its own token (shared/services/token-exchange.ts).
   */
  async update(customerSlug: string, id: string, patch: PatchTrustPolicyRequest, op: Operation): Promise<TrustPolicy> {
    if (patch.issuer !== undefined) this.checkIssuer(patch.issuer);
    const customer = await this.customers.require(customerSlug);
    if (!isId('tp', id)) throw NOT_FOUND();
    const result = await this.policies.update(
      customer.slug,
      id,
      (current) => {
        const next: TrustPolicy = { ...current, ...patch, claims: patch.claims ? sortedClaims(patch.claims) : current.claims };
        if (POLICY_FIELDS.every((field) => sameValue(current[field], next[field]))) return undefined;
        // A version the policy never had: later than the one before, whatever the clocks say.
        const at = Math.max(this.clock.millis(), Date.parse(current.updatedAt) + 1);
        return { ...next, updatedAt: new Date(at).toISOString() };
      },
      (before, after) => {
        const changed = POLICY_FIELDS.filter((field) => !sameValue(before[field], after[field]));
        return this.audit.event({
          customerSlug: customer.slug,
          type: 'trust_policy.updated',
          op,
          details: {
            trustPolicyId: id,
            label: after.label,
            before: this.settingsOf(before, changed),
            after: this.settingsOf(after, changed),
          },
        });
      },
    );
    if (result.outcome === 'label_taken') throw this.labelTaken(patch.label ?? '');
    if (result.outcome === 'not_found' || !result.policy) throw NOT_FOUND();
    if (result.outcome === 'updated') this.log.info('trust policy updated', { customer: customer.slug, trustPolicyId: id });
    // Unchanged too: a patch repeated after a crash cut the first one short finishes its stop.
    await this.tokens.stop(customer.slug, id, op, { keepVersion: result.policy.updatedAt });
    return result.policy;
  }

  /**
   * Deletes a policy: it is no longer listed, its label and place under the cap are free, and the
   * tokens minted under it stop, on every instance within a feed read. In the order of key
   * revocation: its tokens stop authenticating first (a crash after that leaves a policy that still
   * lists, whose outstanding tokens no instance accepts), then the policy is marked deleted, then
   * any token an exchange minted meanwhile is stopped too (that exchange, reading the policy after
   * storing its token, would withdraw it itself). Idempotent: deleting a deleted policy changes
   * nothing but that last step (and answers as the first time did).
   */
  async delete(customerSlug: string, id: string, op: Operation): Promise<void> {
    const customer = await this.customers.require(customerSlug);
    if (!isId('tp', id)) throw NOT_FOUND();
    await this.tokens.stop(customer.slug, id, op);
    const result = await this.policies.markDeleted(customer.slug, id, {
      deletedBy: op.actor,
      deletedAt: this.clock.now().toISOString(),
      audit: (policy) =>
        this.audit.event({
          customerSlug: customer.slug,
          type: 'trust_policy.deleted',
          op,
          details: { trustPolicyId: id, label: policy.label },
        }),
    });
    if (result.outcome === 'not_found') throw NOT_FOUND();
    if (result.outcome === 'deleted') this.log.info('trust policy deleted', { customer: customer.slug, trustPolicyId: id });
    await this.tokens.stop(customer.slug, id, op);
  }

  /** An issuer of the right shape (the schema checked it) under the running mode's rule. */
  private checkIssuer(issuer: string): void {
    const message = issuerModeProblem(issuer, this.localMode);
    if (message) {
      throw new ApiError('validation_failed', `The request is not valid: issuer: ${message}`, {
        extensions: { errors: [{ path: 'issuer', message }] },
      });
    }
  }

  /** The policy's settings (those named, or all) as the audit log records them. */
  private settingsOf(policy: TrustPolicy, fields: readonly PolicyField[] = POLICY_FIELDS): Record<string, unknown> {
    return Object.fromEntries(fields.map((field) => [field, policy[field]]));
  }

  private labelTaken(label: string): ApiError {
    return new ApiError('label_taken', 'Another trust policy of this customer already has that label. Choose another label.', {
      extensions: { label },
    });
  }

  /** 409 `trust_policy_limit_reached`, naming the customer's current cap. */
  private async limitReached(customer: Customer): Promise<ApiError> {
    const limit = this.limit((await this.customers.get(customer.slug)) ?? customer);
    return new ApiError(
      'trust_policy_limit_reached',
      `This customer may hold at most ${limit} trust polic${limit === 1 ? 'y' : 'ies'} on its plan. Delete one first, or ask us about a larger plan.`,
      { extensions: { trustPolicyLimit: limit } },
    );
  }
}
