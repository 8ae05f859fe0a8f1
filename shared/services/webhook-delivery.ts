import type { Clock } from '../clock';
import { MAX_KEPT_ATTEMPTS, type WebhookAttempt, type WebhookDelivery, type WebhookEndpoint } from '../domain';
import { ApiError } from '../errors';
import { isId, newId } from '../ids';
import type { Logger } from '../logging';
import type { Page } from '../ports/audit-log';
import type { OutboundHttp, OutboundResult } from '../ports/outbound-http';
import { deliveryIdOf, type WebhookDeliveryRepository } from '../ports/webhook-delivery-repository';
import type { WebhookEndpointRepository } from '../ports/webhook-endpoint-repository';
import type { WorkQueue } from '../ports/work-queue';
import { encodeDeliveryMessage, parseDeliveryMessage } from '../webhooks/delivery-message';
import { testEvent } from '../webhooks/events';
import { webhookHeaders } from '../webhooks/signature';

/** The whole exchange with an endpoint, resolution to the last byte read. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** The most of an endpoint's answer read (the rest is never read). */
export const DELIVERY_MAX_RESPONSE_BYTES = 4096;
/** An endpoint failing this long (since its first failure after its last success) is disabled. */
export const DISABLE_AFTER_MS = 3 * 86_400_000;
/** Each retry waits its delay and up to this much more of it, at random (so retries of many deliveries spread). */
export const RETRY_JITTER = 0.2;
/** A success is written to its endpoint when it clears a failure, or the last one written is older than this. */
const SUCCESS_RECORD_INTERVAL_MS = 3_600_000;
const USER_AGENT = 'Veriproof-Webhooks/1';

/** What the delivery side needs of the endpoint service: signing secrets, and disabling an endpoint that keeps failing. */
export interface EndpointSigner {
  signingSecrets(endpoint: WebhookEndpoint, now?: Date): Promise<string[]>;
  disable(
    customerSlug: string,
    id: string,
    options: { when?: (current: WebhookEndpoint) => boolean },
  ): Promise<WebhookEndpoint | undefined>;
}

/** What a WebhookDeliveryService is built from. */
export interface WebhookDeliveryDeps {
  deliveries: WebhookDeliveryRepository;
  endpoints: WebhookEndpointRepository;
  signer: EndpointSigner;
  queue: WorkQueue;
  outbound: OutboundHttp;
  clock: Clock;
  log: Logger;
  /** WEBHOOK_RETRY_DELAYS_SECONDS, in milliseconds: one retry per entry. */
  retryDelaysMs: readonly number[];
  /** A number in [0, 1) for the jitter (tests pass their own). */
  random?: () => number;
}

/** What handling one queue message came to. */
export type HandleOutcome = 'delivered' | 'retrying' | 'failed' | 'disabled' | 'stale' | 'dropped';

/**
 * Webhook deliveries: the worker that makes each attempt (a queue message names one), the retry
 * schedule, the rule that disables an endpoint failing for three days, and what the API offers on
 * an endpoint (a test event, its recent deliveries, a manual retry).
 *
 * An attempt signs the delivery's fixed body (Standard Webhooks: `webhook-id` is the event's id on
 * every attempt, the timestamp the attempt's; one signature per live secret), sends it through the
 * outbound guard (https and public addresses in production, pinned, no redirect, 10 s, 4 KiB read),
 * records it (status, duration, response code), then on failure sends the next attempt's message
 * with the retry's delay. A message is removed only once its work is recorded (the queue trigger,
 * or the local host's poller, deletes it when {@link handle} returns): a crash at any step lets it
 * come back, and a message for an attempt already made does nothing but restore a next message a
 * crash may have lost. So nothing is lost, at most an attempt is made twice.
 */
export class WebhookDeliveryService {
  private readonly deliveries: WebhookDeliveryRepository;
  private readonly endpoints: WebhookEndpointRepository;
  private readonly signer: EndpointSigner;
  private readonly queue: WorkQueue;
  private readonly outbound: OutboundHttp;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly retryDelaysMs: readonly number[];
  private readonly random: () => number;

  constructor(deps: WebhookDeliveryDeps) {
    this.deliveries = deps.deliveries;
    this.endpoints = deps.endpoints;
    this.signer = deps.signer;
    this.queue = deps.queue;
    this.outbound = deps.outbound;
    this.clock = deps.clock;
    this.log = deps.log;
    this.retryDelaysMs = deps.retryDelaysMs;
    this.random = deps.random ?? Math.random;
  }

  /**
   * Sends the message for a pending delivery's next attempt unless one was sent (`queuedAttempt`),
   * due at its `nextAttemptAt`, and then records that it was. A crash between the two sends it again
   * next time: the attempt it asks for is made once all the same (the second message finds it made).
   */
  async ensureQueued(delivery: WebhookDelivery, options: { force?: boolean } = {}): Promise<void> {
    const attempt = delivery.attemptCount;
    if (delivery.status !== 'pending' || (!options.force && delivery.queuedAttempt >= attempt)) return;
    const due = delivery.nextAttemptAt ? Date.parse(delivery.nextAttemptAt) : this.clock.millis();
    await this.queue.send(encodeDeliveryMessage({ c: delivery.customerSlug, e: delivery.endpointId, d: delivery.id, a: attempt }), {
      delayMs: Math.max(0, due - this.clock.millis()),
    });
    await this.deliveries.update(delivery.customerSlug, delivery.endpointId, delivery.id, (current) =>
      current.queuedAttempt >= attempt ? undefined : { ...current, queuedAttempt: attempt },
    );
  }

  /** One queue message: the attempt it names, made and recorded (or nothing, for a stale or foreign message). */
  async handle(raw: unknown): Promise<HandleOutcome> {
    const message = parseDeliveryMessage(raw);
    if (!message) {
      this.log.warn('webhook delivery message not understood: dropped');
      return 'dropped';
    }
    const delivery = await this.deliveries.get(message.c, message.e, message.d);
    if (!delivery || delivery.status !== 'pending' || message.a > delivery.attemptCount) return 'dropped';
    if (message.a < delivery.attemptCount) {
      // Made already. If a crash lost the next attempt's message, this one brings it back.
      await this.ensureQueued(delivery);
      return 'stale';
    }
    const endpoint = await this.endpoints.get(message.c, message.e);
    if (!endpoint || endpoint.status !== 'active') {
      await this.settle(delivery, 'failed');
      return 'dropped';
    }
    const attempt = await this.attempt(endpoint, delivery);
    const ok = attempt.status === 'delivered';
    const recorded = await this.deliveries.update(delivery.customerSlug, delivery.endpointId, delivery.id, (current) =>
      current.status !== 'pending' || current.attemptCount !== message.a ? undefined : this.afterAttempt(current, attempt),
    );
    // Another receiver of the same attempt recorded it first (a duplicate message): its outcome stands.
    if (!recorded || recorded.attemptCount !== message.a + 1 || recorded.attempts.at(-1)?.at !== attempt.at) return 'stale';
    if (ok) {
      await this.recordSuccess(endpoint, attempt.at);
      return 'delivered';
    }
    if (await this.disableIfFailingTooLong(endpoint, attempt.at)) {
      await this.settle(recorded, 'failed');
      return 'disabled';
    }
    if (recorded.status === 'pending') {
      await this.ensureQueued(recorded);
      return 'retrying';
    }
    return 'failed';
  }

  /**
   * `POST /v1/webhook-endpoints/{id}/test`: a `webhook.test` event for the endpoint, delivered like
   * any other (one attempt, no retries): the delivery, pending.
   */
  async sendTest(customerSlug: string, endpointId: string): Promise<WebhookDelivery> {
    const endpoint = await this.activeEndpoint(customerSlug, endpointId);
    const now = this.clock.now();
    const event = testEvent(customerSlug, newId('evt', now), now, endpoint.id);
    const delivery: WebhookDelivery = {
      id: deliveryIdOf(event.id),
      customerSlug,
      endpointId: endpoint.id,
      eventId: event.id,
      eventType: event.type,
      body: JSON.stringify(event),
      createdAt: now.toISOString(),
      status: 'pending',
      attempts: [],
      attemptCount: 0,
      nextAttemptAt: now.toISOString(),
      queuedAttempt: -1,
      autoRetry: false,
    };
    const { delivery: stored } = await this.deliveries.create(delivery);
    await this.ensureQueued(stored);
    return stored;
  }

  /** `GET /v1/webhook-endpoints/{id}/deliveries`: the endpoint's deliveries, newest event first, with their attempts. */
  async list(customerSlug: string, endpointId: string, page: { limit: number; cursor?: string }): Promise<Page<WebhookDelivery>> {
    await this.existingEndpoint(customerSlug, endpointId);
    return this.deliveries.list(customerSlug, endpointId, page);
  }

  /**
   * `POST .../deliveries/{deliveryId}/retry`: one more attempt now, with the same body and
   * `webhook-id`. A delivered or failed delivery gets one attempt (no schedule after it); a pending
   * one keeps its schedule and is tried now.
   */
  async retry(customerSlug: string, endpointId: string, deliveryId: string): Promise<WebhookDelivery> {
    await this.activeEndpoint(customerSlug, endpointId);
    const now = this.clock.now().toISOString();
    const found = isId('dlv', deliveryId) ? await this.deliveries.get(customerSlug, endpointId, deliveryId) : undefined;
    if (!found) throw new ApiError('not_found', 'This endpoint has no such delivery.');
    const updated = await this.deliveries.update(customerSlug, endpointId, deliveryId, (current) => ({
      ...current,
      ...(current.status === 'pending' ? {} : { status: 'pending' as const, autoRetry: false }),
      nextAttemptAt: now,
    }));
    if (!updated) throw new ApiError('not_found', 'This endpoint has no such delivery.');
    await this.ensureQueued(updated, { force: true });
    return updated;
  }

  /** Signs and sends one attempt; what came of it. Never throws for the endpoint's doing. */
  private async attempt(endpoint: WebhookEndpoint, delivery: WebhookDelivery): Promise<WebhookAttempt> {
    const now = this.clock.now();
    const secrets = await this.signer.signingSecrets(endpoint, now);
    const started = performance.now();
    const result = await this.outbound.send({
      url: endpoint.url,
      method: 'POST',
      headers: {
        ...webhookHeaders(secrets, delivery.eventId, Math.floor(now.getTime() / 1000), delivery.body),
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
      },
      body: delivery.body,
      timeoutMs: DELIVERY_TIMEOUT_MS,
      maxResponseBytes: DELIVERY_MAX_RESPONSE_BYTES,
    });
    const durationMs = Math.round(performance.now() - started);
    return { at: now.toISOString(), durationMs, ...outcomeOf(result) };
  }

  /** The delivery with an attempt recorded, and what follows it: done, the next retry, or given up. */
  private afterAttempt(current: WebhookDelivery, attempt: WebhookAttempt): WebhookDelivery {
    const attemptCount = current.attemptCount + 1;
    const attempts = [...current.attempts, attempt].slice(-MAX_KEPT_ATTEMPTS);
    const { nextAttemptAt: _previous, ...rest } = current;
    if (attempt.status === 'delivered') return { ...rest, attempts, attemptCount, status: 'delivered' };
    // The retries of the schedule follow the first attempt: retry n after the attempt n failed.
    const delay = current.autoRetry ? this.retryDelaysMs[attemptCount - 1] : undefined;
    if (delay === undefined) return { ...rest, attempts, attemptCount, status: 'failed' };
    const wait = Math.round(delay * (1 + RETRY_JITTER * this.random()));
    return { ...rest, attempts, attemptCount, status: 'pending', nextAttemptAt: new Date(Date.parse(attempt.at) + wait).toISOString() };
  }

  /** A pending delivery ends (its endpoint went, or was disabled): no attempt follows. */
  private async settle(delivery: WebhookDelivery, status: 'failed'): Promise<void> {
    await this.deliveries.update(delivery.customerSlug, delivery.endpointId, delivery.id, (current) => {
      if (current.status !== 'pending') return undefined;
      const { nextAttemptAt: _next, ...rest } = current;
      return { ...rest, status };
    });
  }

  private async recordSuccess(endpoint: WebhookEndpoint, at: string): Promise<void> {
    const stale = !endpoint.lastSuccessAt || Date.parse(at) - Date.parse(endpoint.lastSuccessAt) > SUCCESS_RECORD_INTERVAL_MS;
    if (endpoint.failingSince || stale) await this.endpoints.recordOutcome(endpoint.customerSlug, endpoint.id, { success: true, at });
  }

  /** Records a failure on the endpoint; disables it (audited) when it has been failing for three days. */
  private async disableIfFailingTooLong(endpoint: WebhookEndpoint, at: string): Promise<boolean> {
    const after = await this.endpoints.recordOutcome(endpoint.customerSlug, endpoint.id, { success: false, at });
    const failingTooLong = (e: WebhookEndpoint) =>
      e.failingSince !== undefined && this.clock.millis() - Date.parse(e.failingSince) >= DISABLE_AFTER_MS;
    if (!after || !failingTooLong(after)) return false;
    const disabled = await this.signer.disable(endpoint.customerSlug, endpoint.id, { when: failingTooLong });
    return disabled !== undefined;
  }

  private async existingEndpoint(customerSlug: string, endpointId: string): Promise<WebhookEndpoint> {
    const endpoint = isId('we', endpointId) ? await this.endpoints.get(customerSlug, endpointId) : undefined;
    if (!endpoint || endpoint.status === 'deleted') throw new ApiError('not_found', 'This customer has no such webhook endpoint.');
    return endpoint;
  }

  private async activeEndpoint(customerSlug: string, endpointId: string): Promise<WebhookEndpoint> {
    const endpoint = await this.existingEndpoint(customerSlug, endpointId);
    if (endpoint.status !== 'active') {
      throw new ApiError('conflict', 'This webhook endpoint is disabled: enable it (PATCH {"enabled": true}) before sending to it.');
    }
    return endpoint;
  }
}

/** An attempt's outcome from the outbound client's result: a 2xx is delivered; anything else failed, saying why. */
function outcomeOf(result: OutboundResult): Pick<WebhookAttempt, 'status' | 'responseCode' | 'error'> {
  if (!result.ok) return { status: 'failed', error: `${result.failure}: ${result.detail}`.slice(0, 300) };
  const code = result.response.status;
  if (code >= 200 && code < 300) return { status: 'delivered', responseCode: code };
  if (code >= 300 && code < 400) return { status: 'failed', responseCode: code, error: 'redirect not followed' };
  return { status: 'failed', responseCode: code };
}
