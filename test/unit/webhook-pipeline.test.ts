import type { WebhookDelivery } from '../../shared/domain';
import { ApiError } from '../../shared/errors';
import { silentLogger } from '../../shared/logging';
import type { OutboundHttp, OutboundRequest, OutboundResult } from '../../shared/ports/outbound-http';
import { DISABLE_AFTER_MS } from '../../shared/services/webhook-delivery';
import { WebhookDispatcher } from '../../shared/services/webhook-dispatch';
import { verifySignature } from '../../shared/webhooks/signature';
import { memoryServices } from '../support/memory-services';
import { op } from '../support/portal';

/**
 * The webhook pipeline's rules on the in-memory fakes, time on the injected clock: the dispatcher
 * (audit log -> deliveries, once each), the worker (signed sends, the retry schedule with its
 * jitter, one `webhook-id` across attempts, the three-day disable rule) and its crash recovery
 * (a message repeated, a next message lost). The same pipeline on Azurite and a real receiver is
 * in test/integration/webhooks-delivery.test.ts.
 */

const SECOND = 1000;
const DAY = 86_400_000;

/** An OutboundHttp that records what it is asked to send and answers from a script (200 when it runs out). */
class ScriptedOutbound implements OutboundHttp {
  readonly requests: OutboundRequest[] = [];
  readonly script: Array<number | OutboundResult> = [];
  async send(request: OutboundRequest): Promise<OutboundResult> {
    this.requests.push(request);
    const next = this.script.shift() ?? 200;
    if (typeof next !== 'number') return next;
    return { ok: true, response: { status: next, headers: {}, body: Buffer.alloc(0), truncated: false, address: '203.0.113.7' } };
  }
}

const TIMEOUT: OutboundResult = { ok: false, failure: 'timeout', detail: 'no complete answer from hooks.acme.example in 10000 ms' };

async function setup(options: { events?: string[]; delays?: string; random?: number } = {}) {
  const outbound = new ScriptedOutbound();
  const env = memoryServices(
    { WEBHOOK_RETRY_DELAYS_SECONDS: options.delays ?? '5,300,1800' },
    { outbound, random: () => options.random ?? 0.5 },
  );
  const { services, queues, clock, repositories } = env;
  const use = services.useCases;
  await use.customers.create({ slug: 'acme', name: 'Acme', plan: 'enterprise' });
  const spare = await use.keys.issue('acme', { label: 'spare', application: 'web' }, op());
  clock.advance(1); // the spare's event is older than the endpoint: it goes nowhere
  const { endpoint, secret } = await use.webhookEndpoints.create(
    'acme',
    { url: 'https://hooks.acme.example/veriproof', events: (options.events ?? ['*']) as never },
    op(),
  );
  const queue = queues.webhookDeliveries;
  /** Works the visible messages as the poller would (handle, then delete) until none is left; the outcomes. */
  const drain = async () => {
    const outcomes: string[] = [];
    for (;;) {
      const messages = await queue.receive({ max: 32, visibilityTimeoutMs: 60 * SECOND });
      if (messages.length === 0) return outcomes;
      for (const m of messages) {
        outcomes.push(await use.webhookDeliveries.handle(m.body));
        await queue.delete(m);
      }
    }
  };
  const deliveries = async () => (await use.webhookDeliveries.list('acme', endpoint.id, { limit: 100 })).items;
  const issue = async (label: string) => (await use.keys.issue('acme', { label, application: 'web' }, op())).metadata;
  return { ...env, use, outbound, queue, clock, repositories, endpoint, secret, drain, deliveries, issue, spare };
}

describe('dispatch: the audit log becomes deliveries, once each', () => {
  it('makes a delivery per event and endpoint, queues it, and the worker sends it signed with the event id as webhook-id', async () => {
    const { use, outbound, drain, deliveries, issue, secret, clock, endpoint } = await setup();
    const key = await issue('ci');
    clock.advance(1);
    await use.keys.revoke('acme', key.id, op());
    await use.webhookDispatch.dispatch('acme');
    expect((await deliveries()).map((d) => [d.eventType, d.status])).toEqual([
      ['key.revoked', 'pending'],
      ['key.issued', 'pending'],
    ]);
    expect(await drain()).toEqual(['delivered', 'delivered']);
    expect(outbound.requests.map((r) => JSON.parse(r.body as string).type)).toEqual(['key.issued', 'key.revoked']);
    const [request] = outbound.requests;
    expect(request).toMatchObject({ url: endpoint.url, method: 'POST', timeoutMs: 10_000, maxResponseBytes: 4096 });
    const headers = request!.headers!;
    const body = JSON.parse(request!.body as string) as { id: string };
    expect(headers['webhook-id']).toBe(body.id);
    expect(headers['content-type']).toBe('application/json');
    expect(verifySignature(secret, headers, request!.body as string, { nowSeconds: clock.millis() / 1000 })).toEqual({ valid: true });
    const revoked = (await deliveries())[0]!;
    expect(revoked).toMatchObject({ status: 'delivered', attemptCount: 1, eventId: JSON.parse(outbound.requests[1]!.body as string).id });
    expect(revoked.attempts).toEqual([
      { at: clock.now().toISOString(), status: 'delivered', durationMs: expect.any(Number), responseCode: 200 },
    ]);
  });

  it('dispatching the same events again (another pass, the sweeper, another instance) makes nothing twice', async () => {
    const { use, queue, issue, deliveries, repositories, services } = await setup();
    await issue('ci');
    await use.webhookDispatch.dispatch('acme');
    const queued = queue.size;
    await use.webhookDispatch.dispatch('acme');
    expect(await use.webhookDispatch.sweep()).toMatchObject({ customers: 1, created: 0, failed: 0 });
    // Another process: no memory of what this one made; storage says it all.
    const elsewhere = new WebhookDispatcher({
      audit: repositories.audit,
      endpoints: repositories.webhookEndpoints,
      deliveries: repositories.webhookDeliveries,
      keys: repositories.keys,
      enqueue: (d) => use.webhookDeliveries.ensureQueued(d),
      clock: services.clock,
      log: silentLogger,
    });
    expect(await elsewhere.dispatch('acme')).toMatchObject({ created: 0 });
    expect(queue.size).toBe(queued);
    expect(await deliveries()).toHaveLength(1);
  });

  it('sends an endpoint only the types it subscribed to, only events since it was created, and nothing once disabled', async () => {
    const { use, issue, deliveries, clock, endpoint } = await setup({ events: ['key.revoked'] });
    const before = await issue('made-before');
    clock.advance(2 * 60 * SECOND); // past the dispatcher's overlap: the issue above predates the endpoint by far
    const later = await issue('later');
    await use.keys.revoke('acme', later.id, op());
    await use.webhookDispatch.dispatch('acme');
    expect((await deliveries()).map((d) => d.eventType)).toEqual(['key.revoked']);
    await use.webhookEndpoints.update('acme', endpoint.id, { enabled: false }, op());
    await use.keys.revoke('acme', before.id, op());
    await use.webhookDispatch.dispatch('acme');
    expect(await deliveries()).toHaveLength(1);
  });

  it('names the key from its record when an older event lacks its application or display prefix', async () => {
    const { use, repositories, drain, outbound, clock } = await setup();
    const key = await use.keys.issue('acme', { label: 'legacy', application: 'billing' }, op());
    // An event as recorded before events carried the key's facts.
    repositories.audit.events.push({
      id: 'evt_' + key.metadata.id.slice(4),
      customerSlug: 'acme',
      type: 'key.revoked',
      at: clock.now().toISOString(),
      actor: { type: 'user', id: 'usr_1', name: 'Ann' },
      keyId: key.metadata.id,
      requestId: 'req-old',
      details: { label: 'legacy' },
    });
    await use.webhookDispatch.dispatch('acme');
    await drain();
    const revoked = outbound.requests.map((r) => JSON.parse(r.body as string)).find((b) => b.type === 'key.revoked');
    expect(revoked.data).toEqual({
      key: { id: key.metadata.id, label: 'legacy', application: 'billing', displayPrefix: key.metadata.displayPrefix },
      reason: 'admin',
    });
  });
});

describe('delivery: retries, one webhook-id, and the three-day rule', () => {
  it('retries failures on the schedule, with jitter, under the same webhook-id and body, and is delivered once', async () => {
    const { use, outbound, drain, issue, deliveries, clock } = await setup({ delays: '5,300,1800', random: 0.5 });
    await issue('ci');
    await use.webhookDispatch.dispatch('acme');
    outbound.script.push(500, TIMEOUT, 200);
    expect(await drain()).toEqual(['retrying']);
    const [pending] = await deliveries();
    // 5 s and half of the 20 % jitter.
    expect(pending).toMatchObject({ status: 'pending', attemptCount: 1, nextAttemptAt: new Date(clock.millis() + 5500).toISOString() });
    clock.advance(5499);
    expect(await drain()).toEqual([]);
    clock.advance(1);
    expect(await drain()).toEqual(['retrying']);
    clock.advance(330 * SECOND);
    expect(await drain()).toEqual(['delivered']);
    clock.advance(DAY);
    expect(await drain()).toEqual([]);
    expect(outbound.requests).toHaveLength(3);
    expect(new Set(outbound.requests.map((r) => r.headers!['webhook-id'])).size).toBe(1);
    expect(new Set(outbound.requests.map((r) => r.body)).size).toBe(1);
    // A fresh timestamp (and signature) per attempt.
    expect(new Set(outbound.requests.map((r) => r.headers!['webhook-timestamp'])).size).toBe(3);
    const [delivered] = await deliveries();
    expect(delivered!.attempts.map((a) => [a.status, a.responseCode ?? null, a.error ?? null])).toEqual([
      ['failed', 500, null],
      ['failed', null, 'timeout: no complete answer from hooks.acme.example in 10000 ms'],
      ['delivered', 200, null],
    ]);
  });

  it('gives up once the schedule runs out (a redirect is a failure, never followed)', async () => {
    const { use, outbound, drain, issue, deliveries, clock } = await setup({ delays: '5,10', random: 0 });
    await issue('ci');
    await use.webhookDispatch.dispatch('acme');
    outbound.script.push(302, 503, 404);
    expect(await drain()).toEqual(['retrying']);
    clock.advance(5 * SECOND);
    expect(await drain()).toEqual(['retrying']);
    clock.advance(10 * SECOND);
    expect(await drain()).toEqual(['failed']);
    clock.advance(DAY);
    expect(await drain()).toEqual([]);
    const [failed] = await deliveries();
    expect(failed).toMatchObject({ status: 'failed', attemptCount: 3 });
    expect(failed!.nextAttemptAt).toBeUndefined();
    expect(failed!.attempts[0]).toMatchObject({ responseCode: 302, error: 'redirect not followed' });
  });

  it('disables an endpoint failing for three days since its last success, with an audit event, and stops its deliveries', async () => {
    const { use, outbound, drain, issue, deliveries, clock, endpoint, repositories } = await setup({ delays: '3600', random: 0 });
    const failAlways = () => outbound.script.push(...Array.from({ length: 20 }, () => 503));
    failAlways();
    await issue('first');
    await use.webhookDispatch.dispatch('acme');
    expect(await drain()).toEqual(['retrying']);
    clock.advance(DAY);
    expect(await drain()).toEqual(['failed']);
    clock.advance(2 * DAY - 3600 * SECOND);
    await issue('second');
    await use.webhookDispatch.dispatch('acme');
    expect(await drain()).toEqual(['retrying']); // 3 days less an hour since the first failure
    expect((await use.webhookEndpoints.get('acme', endpoint.id)).status).toBe('active');
    clock.advance(3600 * SECOND);
    expect(await drain()).toEqual(['disabled']); // its retry, an hour later: three days
    const after = await use.webhookEndpoints.get('acme', endpoint.id);
    expect(after).toMatchObject({ status: 'disabled', disabledReason: 'failing' });
    expect(Date.parse(after.disabledAt!) - Date.parse(after.failingSince!)).toBeGreaterThanOrEqual(DISABLE_AFTER_MS);
    const audited = repositories.audit.events.filter((e) => e.type === 'webhook_endpoint.disabled');
    expect(audited).toHaveLength(1);
    expect(audited[0]!.details).toMatchObject({ webhookEndpointId: endpoint.id, reason: 'failing' });
    expect((await deliveries()).map((d) => d.status)).toEqual(['failed', 'failed']);
    // Disabled: new events go nowhere.
    await issue('third');
    await use.webhookDispatch.dispatch('acme');
    expect(await deliveries()).toHaveLength(2);
  });

  it('a success in between starts the three days again', async () => {
    const { use, outbound, drain, issue, clock, endpoint } = await setup({ delays: '60', random: 0 });
    outbound.script.push(503, 503);
    await issue('a');
    await use.webhookDispatch.dispatch('acme');
    await drain();
    clock.advance(2 * DAY);
    outbound.script.length = 0; // the next one succeeds
    await issue('b');
    await use.webhookDispatch.dispatch('acme');
    await drain();
    clock.advance(2 * DAY);
    outbound.script.push(503);
    await issue('c');
    await use.webhookDispatch.dispatch('acme');
    expect(await drain()).toContain('retrying');
    expect((await use.webhookEndpoints.get('acme', endpoint.id)).status).toBe('active');
  });
});

describe('crash recovery: nothing lost, at most an attempt twice', () => {
  it('a message handled twice (redelivered after a crash before its delete) makes one attempt', async () => {
    const { use, outbound, queue, issue, deliveries } = await setup();
    await issue('ci');
    await use.webhookDispatch.dispatch('acme');
    const [message] = await queue.receive({ max: 1, visibilityTimeoutMs: 60 * SECOND });
    expect(await use.webhookDeliveries.handle(message!.body)).toBe('delivered');
    expect(await use.webhookDeliveries.handle(message!.body)).toBe('dropped');
    expect(outbound.requests).toHaveLength(1);
    expect((await deliveries())[0]!.attemptCount).toBe(1);
  });

  it('a crash between recording a failure and queuing the retry: the message comes back and queues the retry', async () => {
    const { use, outbound, queue, issue, deliveries, clock } = await setup({ random: 0 });
    await issue('ci');
    await use.webhookDispatch.dispatch('acme');
    outbound.script.push(500);
    const [message] = await queue.receive({ max: 1, visibilityTimeoutMs: 60 * SECOND });
    const send = queue.send.bind(queue);
    queue.send = () => Promise.reject(new Error('the host died here'));
    await expect(use.webhookDeliveries.handle(message!.body)).rejects.toThrow('the host died here');
    queue.send = send;
    expect((await deliveries())[0]).toMatchObject({ attemptCount: 1, queuedAttempt: 0 });
    // Not deleted: it comes back after its visibility timeout.
    clock.advance(60 * SECOND);
    const [again] = await queue.receive({ max: 1, visibilityTimeoutMs: 60 * SECOND });
    expect(again!.id).toBe(message!.id);
    expect(await use.webhookDeliveries.handle(again!.body)).toBe('stale');
    await queue.delete(again!);
    expect((await deliveries())[0]).toMatchObject({ attemptCount: 1, queuedAttempt: 1 });
    const [retry] = await queue.receive({ max: 1, visibilityTimeoutMs: 60 * SECOND });
    expect(await use.webhookDeliveries.handle(retry!.body)).toBe('delivered');
    expect(outbound.requests).toHaveLength(2);
  });

  it('a crash after a delivery is made and before it is queued: the next pass queues it (the checkpoint stayed)', async () => {
    const { use, queue, issue, deliveries, drain, outbound, repositories } = await setup();
    await issue('ci');
    const send = queue.send.bind(queue);
    queue.send = () => Promise.reject(new Error('the host died here'));
    await expect(use.webhookDispatch.dispatch('acme')).rejects.toThrow('the host died here');
    queue.send = send;
    expect(await repositories.webhookDeliveries.checkpoint('acme')).toBeUndefined();
    expect((await deliveries())[0]).toMatchObject({ status: 'pending', queuedAttempt: -1 });
    await use.webhookDispatch.sweep();
    expect(await drain()).toEqual(['delivered']);
    expect(outbound.requests).toHaveLength(1);
  });

  it('a delivery whose endpoint was deleted meanwhile ends without an attempt', async () => {
    const { use, outbound, drain, issue, deliveries, endpoint } = await setup();
    await issue('ci');
    await use.webhookDispatch.dispatch('acme');
    const [made] = await deliveries();
    await use.webhookEndpoints.delete('acme', endpoint.id, op());
    expect(await drain()).toEqual(['dropped']);
    expect(outbound.requests).toHaveLength(0);
    expect((await use.webhookDeliveries['deliveries'].get('acme', endpoint.id, made!.id))!.status).toBe('failed');
  });
});

describe('the endpoint routes’ side: test event, deliveries, retry', () => {
  it('sends a test event (one attempt, no retries), and a manual retry sends the same body under the same webhook-id', async () => {
    const { use, outbound, drain, endpoint, deliveries, clock } = await setup();
    outbound.script.push(500);
    const test = await use.webhookDeliveries.sendTest('acme', endpoint.id);
    expect(test).toMatchObject({ eventType: 'webhook.test', status: 'pending' });
    expect(await drain()).toEqual(['failed']);
    clock.advance(DAY);
    expect(await drain()).toEqual([]);
    const retried = await use.webhookDeliveries.retry('acme', endpoint.id, test.id);
    expect(retried.status).toBe('pending');
    expect(await drain()).toEqual(['delivered']);
    expect(outbound.requests.map((r) => r.headers!['webhook-id'])).toEqual([test.eventId, test.eventId]);
    expect(outbound.requests[0]!.body).toBe(outbound.requests[1]!.body);
    expect(JSON.parse(outbound.requests[0]!.body as string)).toMatchObject({ type: 'webhook.test', customer: { slug: 'acme' } });
    const [listed] = await deliveries();
    expect(listed!.attempts.map((a) => a.responseCode)).toEqual([500, 200]);
  });

  it('answers not_found for another customer’s endpoint or a delivery it does not have, conflict for a disabled endpoint', async () => {
    const { use, endpoint } = await setup();
    await use.customers.create({ slug: 'globex', name: 'Globex', plan: 'pro' });
    const code = (call: Promise<unknown>) =>
      call.then(
        () => 'ok',
        (e: unknown) => (e instanceof ApiError ? e.code : String(e)),
      );
    expect(await code(use.webhookDeliveries.sendTest('globex', endpoint.id))).toBe('not_found');
    expect(await code(use.webhookDeliveries.list('globex', endpoint.id, { limit: 10 }))).toBe('not_found');
    expect(await code(use.webhookDeliveries.retry('acme', endpoint.id, 'dlv_01KBZ0000000000000000000AB'))).toBe('not_found');
    await use.webhookEndpoints.update('acme', endpoint.id, { enabled: false }, op());
    expect(await code(use.webhookDeliveries.sendTest('acme', endpoint.id))).toBe('conflict');
  });
});

describe('the fast path: soon after an event is built', () => {
  function fakeTimers() {
    const pending: Array<{ ms: number; run: () => void; cancelled: boolean }> = [];
    return {
      pending,
      schedule: (run: () => void, ms: number) => {
        const entry = { ms, run, cancelled: false };
        pending.push(entry);
        return { cancel: () => (entry.cancelled = true) };
      },
      fire: (ms: number) => {
        for (const t of pending.filter((p) => p.ms === ms && !p.cancelled)) {
          pending.splice(pending.indexOf(t), 1);
          t.run();
        }
      },
    };
  }

  it('reads the customer’s log ~100 ms and ~1 s after an event, once per burst, and the first pass delivers', async () => {
    const { use, repositories, services, deliveries, issue } = await setup();
    const timers = fakeTimers();
    const passes: string[] = [];
    const dispatcher = new WebhookDispatcher({
      audit: repositories.audit,
      endpoints: repositories.webhookEndpoints,
      deliveries: repositories.webhookDeliveries,
      keys: repositories.keys,
      enqueue: (d: WebhookDelivery) => use.webhookDeliveries.ensureQueued(d),
      clock: services.clock,
      log: silentLogger,
      schedule: (run, ms) => timers.schedule(() => (passes.push(`${ms}`), run()), ms),
    });
    await issue('ci');
    dispatcher.notify('acme');
    dispatcher.notify('acme');
    dispatcher.notify('acme');
    expect(timers.pending.map((t) => t.ms)).toEqual([100, 1000]);
    timers.fire(100);
    await dispatcher.stop(); // waits for the pass the timer started
    expect(passes).toEqual(['100']);
    expect(await deliveries()).toHaveLength(1);
    expect(timers.pending.every((t) => t.cancelled)).toBe(true);
  });

  it('is wired to the audit trail: building an event schedules its customer’s pass', async () => {
    const { use, queue, issue } = await setup();
    const sent = new Promise<void>((resolve) => (queue.onSend = resolve));
    await issue('ci');
    await sent; // the fast path's pass queued the delivery, nobody called dispatch
    expect(queue.size).toBe(1);
    await use.webhookDispatch.stop();
  });
});
