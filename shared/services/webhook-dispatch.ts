import type { Clock } from '../clock';
import { subscribesTo, type AuditEvent, type WebhookDelivery, type WebhookEndpoint } from '../domain';
import { isId } from '../ids';
import { describeError, type Logger } from '../logging';
import type { AuditLog } from '../ports/audit-log';
import type { KeyRepository } from '../ports/key-repository';
import { deliveryIdOf, type WebhookDeliveryRepository } from '../ports/webhook-delivery-repository';
import type { WebhookEndpointRepository } from '../ports/webhook-endpoint-repository';
import { keysToLookUp, webhookEventsOf, type KeyFactsLookup } from '../webhooks/events';

/** How far before the checkpoint each pass reads again: an event written late (its time taken before its commit) is still found. */
export const DISPATCH_OVERLAP_MS = 60_000;
/** When a customer's log is read after one of its events is built: soon, and once more for a commit that took longer. */
export const FAST_PATH_DELAYS_MS: readonly number[] = [100, 1000];
const PAGE = 100;
/** Deliveries this process remembers making (each is made once in storage; this saves the reads of passes that overlap). */
const MAX_REMEMBERED = 100_000;
/** Customers one sweep dispatches at once. */
const SWEEP_CONCURRENCY = 4;

/** What a WebhookDispatcher is built from. */
export interface WebhookDispatcherDeps {
  audit: AuditLog;
  endpoints: WebhookEndpointRepository;
  deliveries: WebhookDeliveryRepository;
  keys: KeyRepository;
  /** Sends a new delivery's first message (the delivery service's). */
  enqueue: (delivery: WebhookDelivery) => Promise<void>;
  clock: Clock;
  log: Logger;
  /** Runs `run` after `ms` (tests pass their own); the default is an unref'd timer. */
  schedule?: (run: () => void, ms: number) => { cancel(): void };
}

/** A customer's fast-path timers. */
interface FastPathTimers {
  early?: { cancel(): void };
  late?: { cancel(): void };
  lastNotify?: number;
}

/** What one pass over a customer's log did. */
export interface DispatchResult {
  events: number;
  /** Deliveries this pass created. */
  created: number;
}

/**
 * Turns a customer's audit log (the outbox) into webhook deliveries. A pass reads the log newest
 * first down to the customer's checkpoint less {@link DISPATCH_OVERLAP_MS}; each event that
 * becomes webhooks (shared/webhooks/events.ts), for each active endpoint subscribed to its type and
 * created before it, gets its delivery (made once: its id comes from the event's) and the first
 * attempt's queue message; then the checkpoint moves to the newest event read. A crash anywhere in
 * a pass leaves the checkpoint where it was, so the next pass does it again, and finds what is done.
 *
 * Passes run soon after an event is built ({@link notify}: ~100 ms and ~1 s later, coalesced per
 * customer), and from the sweeper timer over every customer with endpoints ({@link sweep}: every
 * minute and at start), which catches what a crash or a frozen instance skipped.
 */
export class WebhookDispatcher {
  private readonly deps: WebhookDispatcherDeps;
  private readonly schedule: NonNullable<WebhookDispatcherDeps['schedule']>;
  /** `{slug}/{endpoint}/{delivery}` of deliveries known made and queued. */
  private readonly made = new Set<string>();
  /** Per customer: the pass running, and whether another was asked for meanwhile. */
  private readonly running = new Map<string, { pass: Promise<DispatchResult>; again: boolean }>();
  private readonly timers = new Map<string, FastPathTimers>();
  private stopped = false;

  constructor(deps: WebhookDispatcherDeps) {
    this.deps = deps;
    this.schedule =
      deps.schedule ??
      ((run, ms) => {
        const timer = setTimeout(run, ms);
        timer.unref();
        return { cancel: () => clearTimeout(timer) };
      });
  }

  /**
   * An event of the customer was just built: its log is read soon ({@link FAST_PATH_DELAYS_MS}[0])
   * and again a little later ([1]), for a commit that took longer. Coalesced per customer: a burst
   * of events makes one early pass, and a late pass a second after the burst's last event.
   */
  notify(customerSlug: string): void {
    if (this.stopped) return;
    const [early, late] = FAST_PATH_DELAYS_MS as [number, number];
    const state = this.timers.get(customerSlug) ?? {};
    state.lastNotify = this.deps.clock.millis();
    state.early ??= this.schedule(() => {
      state.early = undefined;
      this.fastPass(customerSlug, state);
    }, early);
    if (!state.late) this.armLate(customerSlug, state, late);
    this.timers.set(customerSlug, state);
  }

  private armLate(customerSlug: string, state: FastPathTimers, delay: number): void {
    const armedAt = this.deps.clock.millis();
    state.late = this.schedule(() => {
      state.late = undefined;
      // Events built after this timer was armed get their own late pass, a second after the last.
      const since = (state.lastNotify ?? armedAt) - armedAt;
      if (since > 0) this.armLate(customerSlug, state, since);
      this.fastPass(customerSlug, state);
    }, delay);
  }

  private fastPass(customerSlug: string, state: FastPathTimers): void {
    if (!state.early && !state.late) this.timers.delete(customerSlug);
    void this.dispatch(customerSlug).catch((error: unknown) =>
      this.deps.log.warn('webhook dispatch failed (the sweeper will do it)', { customer: customerSlug, ...describeError(error) }),
    );
  }

  /** One pass over the customer's log; passes of one customer never overlap (one asked for meanwhile runs after). */
  dispatch(customerSlug: string): Promise<DispatchResult> {
    const current = this.running.get(customerSlug);
    if (current) {
      current.again = true;
      return current.pass;
    }
    const state = { pass: undefined as unknown as Promise<DispatchResult>, again: false };
    state.pass = (async () => {
      try {
        let result = await this.pass(customerSlug);
        while (state.again) {
          state.again = false;
          const next = await this.pass(customerSlug);
          result = { events: result.events + next.events, created: result.created + next.created };
        }
        return result;
      } finally {
        this.running.delete(customerSlug);
      }
    })();
    this.running.set(customerSlug, state);
    return state.pass;
  }

  /** The sweeper's pass: every customer with endpoints. One customer's failure does not stop the others. */
  async sweep(): Promise<{ customers: number; created: number; failed: number }> {
    const customers = await this.deps.endpoints.listCustomersWithEndpoints();
    let created = 0;
    let failed = 0;
    let next = 0;
    const worker = async () => {
      while (next < customers.length) {
        const slug = customers[next++]!;
        try {
          created += (await this.dispatch(slug)).created;
        } catch (error) {
          failed += 1;
          this.deps.log.warn('webhook dispatch failed for a customer', { customer: slug, ...describeError(error) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(SWEEP_CONCURRENCY, customers.length) }, worker));
    return { customers: customers.length, created, failed };
  }

  /** Cancels the fast-path timers and waits for passes under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const state of this.timers.values()) {
      state.early?.cancel();
      state.late?.cancel();
    }
    this.timers.clear();
    await Promise.allSettled([...this.running.values()].map((r) => r.pass));
  }

  private async pass(customerSlug: string): Promise<DispatchResult> {
    const endpoints = (await this.deps.endpoints.list(customerSlug)).filter((e) => e.status === 'active');
    if (endpoints.length === 0) return { events: 0, created: 0 };
    const checkpoint = await this.deps.deliveries.checkpoint(customerSlug);
    // Never before the oldest endpoint: events from before any endpoint existed go nowhere.
    const oldest = Math.min(...endpoints.map((e) => Date.parse(e.createdAt)));
    const from = Math.max(checkpoint ? Date.parse(checkpoint) : oldest, oldest) - DISPATCH_OVERLAP_MS;
    const events = await this.eventsSince(customerSlug, from);
    let created = 0;
    for (const event of events) created += await this.dispatchEvent(event, endpoints);
    const newest = events.at(-1);
    if (newest && (!checkpoint || Date.parse(newest.at) > Date.parse(checkpoint))) {
      await this.deps.deliveries.advanceCheckpoint(customerSlug, newest.at);
    }
    return { events: events.length, created };
  }

  /** The customer's events at or after `from`, oldest first. */
  private async eventsSince(customerSlug: string, from: number): Promise<AuditEvent[]> {
    const events: AuditEvent[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.deps.audit.list(customerSlug, { limit: PAGE, ...(cursor ? { cursor } : {}) });
      for (const event of page.items) {
        if (Date.parse(event.at) < from) return events.reverse();
        events.push(event);
      }
      cursor = page.cursor;
    } while (cursor);
    return events.reverse();
  }

  /** An event's deliveries, made (once) and queued; how many this call made. */
  private async dispatchEvent(event: AuditEvent, endpoints: WebhookEndpoint[]): Promise<number> {
    let bodies = webhookEventsOf(event);
    if (bodies.length === 0) return 0;
    const lacking = keysToLookUp(event);
    if (lacking.length > 0) bodies = webhookEventsOf(event, await this.keyFacts(event.customerSlug, lacking));
    let created = 0;
    for (const body of bodies) {
      for (const endpoint of endpoints) {
        if (!subscribesTo(endpoint.events, body.type) || Date.parse(body.createdAt) < Date.parse(endpoint.createdAt)) continue;
        const id = deliveryIdOf(body.id);
        const memo = `${event.customerSlug}/${endpoint.id}/${id}`;
        if (this.made.has(memo)) continue;
        const now = this.deps.clock.now().toISOString();
        const result = await this.deps.deliveries.create({
          id,
          customerSlug: event.customerSlug,
          endpointId: endpoint.id,
          eventId: body.id,
          eventType: body.type,
          body: JSON.stringify(body),
          createdAt: now,
          status: 'pending',
          attempts: [],
          attemptCount: 0,
          nextAttemptAt: now,
          queuedAttempt: -1,
          autoRetry: true,
        });
        if (result.created) created += 1;
        // Made before, by a pass that may have stopped before queuing it: queued unless it was.
        await this.deps.enqueue(result.delivery);
        if (this.made.size >= MAX_REMEMBERED) this.made.clear();
        this.made.add(memo);
      }
    }
    return created;
  }

  /** The facts (label, application, display prefix) of keys an older event does not carry, from their records. */
  private async keyFacts(customerSlug: string, keyIds: string[]): Promise<KeyFactsLookup> {
    const facts = new Map<string, { label: string; application: string; displayPrefix: string }>();
    for (const id of keyIds) {
      const record = isId('key', id) ? await this.deps.keys.get(customerSlug, id) : undefined;
      if (record) facts.set(id, { label: record.label, application: record.application, displayPrefix: record.displayPrefix });
    }
    return facts;
  }
}
