import type { Clock } from '../clock';
import type { PlanLimits } from '../config';
import type { Customer, Operation, Plan, WebhookDisabledReason, WebhookEndpoint } from '../domain';
import { ApiError } from '../errors';
import { isId, newId } from '../ids';
import type { Logger } from '../logging';
import type { WebhookEndpointRepository } from '../ports/webhook-endpoint-repository';
import type { CreateWebhookEndpointRequest, PatchWebhookEndpointRequest } from '../schemas/webhook-endpoints';
import { auditedUrl, webhookUrlModeProblem } from '../webhooks/endpoint-url';
import { liveSecrets, newWebhookSecret, rotatedSecrets, type WebhookSecretVault } from '../webhooks/secrets';
import type { AuditTrail } from './audit-trail';
import type { CustomerService } from './customer-service';

/** What a WebhookEndpointService is built from. */
export interface WebhookEndpointServiceDeps {
  endpoints: WebhookEndpointRepository;
  customers: CustomerService;
  audit: AuditTrail;
  /** Seals signing secrets for storage, and opens them to sign. */
  secrets: WebhookSecretVault;
  plans: Record<Plan, PlanLimits>;
  clock: Clock;
  log: Logger;
  /** Local mode: a URL may be http on a loopback host (a developer's or a test's receiver). */
  localMode: boolean;
}

/** An endpoint, and its signing secret in the clear: what creating it or rotating its secret answers, once. */
export interface EndpointWithSecret {
  endpoint: WebhookEndpoint;
  secret: string;
}

/** Who disables an endpoint whose deliveries keep failing. */
export const WEBHOOK_DELIVERY_OPERATION: Operation = {
  actor: { type: 'system', id: 'webhook-delivery', name: 'webhook delivery' },
  requestId: 'webhook-delivery',
};

/** The fields a customer's change can set, in the order the audit log shows them. */
const SETTINGS = ['url', 'events', 'description', 'status'] as const satisfies ReadonlyArray<keyof WebhookEndpoint>;
type Setting = (typeof SETTINGS)[number];

const NOT_FOUND = () => new ApiError('not_found', 'This customer has no such webhook endpoint.');
const sameValue = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * A customer's webhook endpoints: where its key events are delivered, signed (Standard Webhooks)
 * with a secret the customer sees once. Input comes parsed at the edge
 * (shared/schemas/webhook-endpoints.ts); this adds the rules that depend on the running mode and
 * on stored state (the plan's cap), and audits every change in the transaction that makes it.
 * The delivery side uses {@link signingSecrets} to sign and {@link disable} to stop an endpoint
 * that keeps failing.
 */
export class WebhookEndpointService {
  private readonly endpoints: WebhookEndpointRepository;
  private readonly customers: CustomerService;
  private readonly audit: AuditTrail;
  private readonly secrets: WebhookSecretVault;
  private readonly plans: Record<Plan, PlanLimits>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly localMode: boolean;

  constructor(deps: WebhookEndpointServiceDeps) {
    this.endpoints = deps.endpoints;
    this.customers = deps.customers;
    this.audit = deps.audit;
    this.secrets = deps.secrets;
    this.plans = deps.plans;
    this.clock = deps.clock;
    this.log = deps.log;
    this.localMode = deps.localMode;
  }

  /** The customer's cap on webhook endpoints: its plan's. */
  limit(customer: Customer): number {
    return this.plans[customer.plan].webhookEndpointLimit;
  }

  /** A new endpoint, with its signing secret (answered this once, stored only sealed). */
  async create(customerSlug: string, input: CreateWebhookEndpointRequest, op: Operation): Promise<EndpointWithSecret> {
    this.checkUrl(input.url);
    const customer = await this.customers.require(customerSlug);
    const now = this.clock.now();
    const id = newId('we', now);
    const secret = newWebhookSecret();
    const sealed = await this.secrets.seal(secret, { customerSlug: customer.slug, endpointId: id });
    const endpoint: WebhookEndpoint = {
      id,
      customerSlug: customer.slug,
      url: input.url,
      events: input.events,
      ...(input.description !== undefined ? { description: input.description } : {}),
      status: 'active',
      secrets: [{ encrypted: sealed, createdAt: now.toISOString() }],
      createdAt: now.toISOString(),
      createdBy: op.actor,
      updatedAt: now.toISOString(),
    };
    const outcome = await this.endpoints.insert(endpoint, {
      limit: (current) => this.limit(current),
      audit: this.audit.event({
        customerSlug: customer.slug,
        type: 'webhook_endpoint.created',
        op,
        details: { webhookEndpointId: id, ...this.settingsOf(endpoint) },
      }),
    });
    if (outcome === 'customer_missing') throw new ApiError('not_found', 'No such customer.');
    if (outcome === 'limit_reached') throw await this.limitReached(customer);
    this.log.info('webhook endpoint created', { customer: customer.slug, webhookEndpointId: id });
    return { endpoint, secret };
  }

  /** The customer's endpoints (disabled ones too), oldest first. */
  async list(customerSlug: string): Promise<WebhookEndpoint[]> {
    const customer = await this.customers.require(customerSlug);
    return (await this.endpoints.list(customer.slug)).map((e) => this.current(e));
  }

  /** One endpoint of the customer; another customer's, a deleted one or none at all is 404. */
  async get(customerSlug: string, id: string): Promise<WebhookEndpoint> {
    const customer = await this.customers.require(customerSlug);
    const endpoint = isId('we', id) ? await this.endpoints.get(customer.slug, id) : undefined;
    if (!endpoint || endpoint.status === 'deleted') throw NOT_FOUND();
    return this.current(endpoint);
  }

  /**
   * Changes what the patch names; a patch that changes nothing writes nothing. `enabled: true`
   * re-enables a disabled endpoint and starts its failure count afresh (`failingSince` cleared);
   * `enabled: false` disables it (reason `customer`).
   */
  async update(customerSlug: string, id: string, patch: PatchWebhookEndpointRequest, op: Operation): Promise<WebhookEndpoint> {
    if (patch.url !== undefined) this.checkUrl(patch.url);
    const customer = await this.customers.require(customerSlug);
    if (!isId('we', id)) throw NOT_FOUND();
    const result = await this.endpoints.update(
      customer.slug,
      id,
      (current) => {
        const next = this.patched(current, patch);
        if (SETTINGS.every((field) => sameValue(current[field], next[field]))) return undefined;
        return { ...next, updatedAt: this.laterThan(current) };
      },
      (before, after) => {
        const changed = SETTINGS.filter((field) => !sameValue(before[field], after[field]));
        return this.audit.event({
          customerSlug: customer.slug,
          type: 'webhook_endpoint.updated',
          op,
          details: { webhookEndpointId: id, before: this.settingsOf(before, changed), after: this.settingsOf(after, changed) },
        });
      },
    );
    if (result.outcome === 'not_found' || !result.endpoint) throw NOT_FOUND();
    if (result.outcome === 'updated') this.log.info('webhook endpoint updated', { customer: customer.slug, webhookEndpointId: id });
    return this.current(result.endpoint);
  }

  /** Deletes an endpoint: nothing more is sent to it, and its place under the cap is free. Idempotent. */
  async delete(customerSlug: string, id: string, op: Operation): Promise<void> {
    const customer = await this.customers.require(customerSlug);
    if (!isId('we', id)) throw NOT_FOUND();
    const result = await this.endpoints.markDeleted(customer.slug, id, {
      deletedBy: op.actor,
      deletedAt: this.clock.now().toISOString(),
      audit: (endpoint) =>
        this.audit.event({
          customerSlug: customer.slug,
          type: 'webhook_endpoint.deleted',
          op,
          details: { webhookEndpointId: id, url: auditedUrl(endpoint.url) },
        }),
    });
    if (result.outcome === 'not_found') throw NOT_FOUND();
    if (result.outcome === 'deleted') this.log.info('webhook endpoint deleted', { customer: customer.slug, webhookEndpointId: id });
  }

  /**
   * A new signing secret, answered this once. The one it replaces keeps signing beside it (a
   * second signature) for 24 hours, so a receiver can switch without missing a delivery; a
   * secret still in such an overlap from an earlier rotation stops now.
   */
  async rotateSecret(customerSlug: string, id: string, op: Operation): Promise<EndpointWithSecret> {
    const customer = await this.customers.require(customerSlug);
    if (!isId('we', id)) throw NOT_FOUND();
    const secret = newWebhookSecret();
    const sealed = await this.secrets.seal(secret, { customerSlug: customer.slug, endpointId: id });
    const result = await this.endpoints.update(
      customer.slug,
      id,
      (current) => {
        const now = new Date(this.laterThan(current));
        return { ...current, secrets: rotatedSecrets(current.secrets, sealed, now), updatedAt: now.toISOString() };
      },
      (_before, after) =>
        this.audit.event({
          customerSlug: customer.slug,
          type: 'webhook_endpoint.secret_rotated',
          op,
          details: { webhookEndpointId: id, previousSecretExpiresAt: after.secrets[1]?.expiresAt ?? null },
        }),
    );
    if (result.outcome === 'not_found' || !result.endpoint) throw NOT_FOUND();
    this.log.info('webhook endpoint secret rotated', { customer: customer.slug, webhookEndpointId: id });
    return { endpoint: this.current(result.endpoint), secret };
  }

  /**
   * The delivery side's: the secrets a delivery to `endpoint` is signed with at `now`, opened
   * (the current one first, then the previous one while its 24-hour overlap lasts).
   */
  signingSecrets(endpoint: WebhookEndpoint, now: Date = this.clock.now()): Promise<string[]> {
    return this.secrets.signingSecrets(endpoint, now);
  }

  /**
   * The delivery side's: disables an active endpoint (by default for failing deliveries), audited
   * `webhook_endpoint.disabled` in the same transaction. `when` is asked on the endpoint as it
   * stands at the write (say, "still failing since 3 days ago"): a success recorded meanwhile
   * spares it. Answers the endpoint when this call disabled it, `undefined` otherwise.
   */
  async disable(
    customerSlug: string,
    id: string,
    options: { reason?: WebhookDisabledReason; when?: (current: WebhookEndpoint) => boolean; op?: Operation } = {},
  ): Promise<WebhookEndpoint | undefined> {
    const at = this.clock.now().toISOString();
    const reason = options.reason ?? 'failing';
    const result = await this.endpoints.disable(customerSlug, id, {
      at,
      reason,
      ...(options.when ? { when: options.when } : {}),
      audit: (endpoint) =>
        this.audit.event({
          customerSlug,
          type: 'webhook_endpoint.disabled',
          op: options.op ?? WEBHOOK_DELIVERY_OPERATION,
          details: {
            webhookEndpointId: id,
            url: auditedUrl(endpoint.url),
            reason,
            failingSince: endpoint.failingSince ?? null,
            lastSuccessAt: endpoint.lastSuccessAt ?? null,
          },
        }),
    });
    if (result.outcome !== 'disabled') return undefined;
    this.log.warn('webhook endpoint disabled', { customer: customerSlug, webhookEndpointId: id, reason });
    return result.endpoint;
  }

  /** The endpoint as answered now: with the secrets that still sign (a previous one past its overlap is left out). */
  private current(endpoint: WebhookEndpoint): WebhookEndpoint {
    return { ...endpoint, secrets: liveSecrets(endpoint.secrets, this.clock.now()) };
  }

  /** The endpoint with the patch applied (status and what goes with it included). */
  private patched(current: WebhookEndpoint, patch: PatchWebhookEndpointRequest): WebhookEndpoint {
    const next: WebhookEndpoint = { ...current };
    if (patch.url !== undefined) next.url = patch.url;
    if (patch.events !== undefined) next.events = patch.events;
    if (patch.description === null) delete next.description;
    else if (patch.description !== undefined) next.description = patch.description;
    if (patch.enabled === true && current.status === 'disabled') {
      next.status = 'active';
      delete next.disabledAt;
      delete next.disabledReason;
      delete next.failingSince;
    } else if (patch.enabled === false && current.status === 'active') {
      next.status = 'disabled';
      next.disabledAt = this.clock.now().toISOString();
      next.disabledReason = 'customer';
    }
    return next;
  }

  /** Now, or just after the endpoint's last change if the clock reads earlier: a change never dates before the one it follows. */
  private laterThan(current: WebhookEndpoint): string {
    return new Date(Math.max(this.clock.millis(), Date.parse(current.updatedAt) + 1)).toISOString();
  }

  /** A URL of the right shape (the schema checked it) under the running mode's rule. */
  private checkUrl(url: string): void {
    const message = webhookUrlModeProblem(url, this.localMode);
    if (message) {
      throw new ApiError('validation_failed', `The request is not valid: url: ${message}`, {
        extensions: { errors: [{ path: 'url', message }] },
      });
    }
  }

  /** The endpoint's settings (those named, or all) as the audit log records them: the URL without its query. */
  private settingsOf(endpoint: WebhookEndpoint, fields: readonly Setting[] = SETTINGS): Record<string, unknown> {
    return Object.fromEntries(
      fields.map((field) => [
        field,
        field === 'url' ? auditedUrl(endpoint.url) : field === 'description' ? (endpoint.description ?? null) : endpoint[field],
      ]),
    );
  }

  /** 409 `webhook_endpoint_limit_reached`, naming the customer's current cap. */
  private async limitReached(customer: Customer): Promise<ApiError> {
    const limit = this.limit((await this.customers.get(customer.slug)) ?? customer);
    return new ApiError(
      'webhook_endpoint_limit_reached',
      `This customer may hold at most ${limit} webhook endpoint(s) on its plan. Delete one first, or ask us about a larger plan.`,
      { extensions: { webhookEndpointLimit: limit } },
    );
  }
}
