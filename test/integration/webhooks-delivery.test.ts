import type { ServiceContext } from '../../app/context';
import { verifyWebhook } from '../../sdks/typescript/src/index';
import { MemoryHostResolver } from '../../shared/adapters/memory/memory-host-resolver';
import { DnsHostResolver } from '../../shared/adapters/net/dns-host-resolver';
import { GuardedHttpClient } from '../../shared/adapters/net/guarded-http-client';
import { ManualClock } from '../../shared/clock';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from '../../shared/domain';
import { OutboundGuard } from '../../shared/net/outbound-guard';
import type { OutboundHttp, OutboundRequest, OutboundResult } from '../../shared/ports/outbound-http';
import { createServices } from '../../app/compose';
import { MemorySecretStore } from '../../shared/adapters/memory/memory-secret-store';
import { queueName } from '../../shared/adapters/queue/queue-names';
import { StorageWorkQueue } from '../../shared/adapters/queue/storage-queue';
import type { ReceivedMessage } from '../../shared/ports/work-queue';
import { caller, serveApp, type AnswerBody } from '../support/http';
import { oneSpanExport } from '../support/otel';
import { op, portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { testConfig, testServices } from '../support/services';
import { WebhookReceiver } from '../../fixtures/webhook-receiver';

/**
 * Webhooks end to end, on Azurite's tables and queue, to a loopback receiver: the app served with
 * its queue poller (the local host's stand-in for the queue trigger), events made by the real
 * services and routes, every request verified with the TypeScript SDK's `verifyWebhook`. Retries
 * use one-second delays (WEBHOOK_RETRY_DELAYS_SECONDS) without jitter; the tests wait on events
 * (the receiver getting its n-th request, an attempt's result), never on a timer of their own.
 */

type App = Awaited<ReturnType<typeof serveApp>>;

/** The guarded client with every result announced: what the tests wait on for attempts that reach no receiver. */
class ObservedOutbound implements OutboundHttp {
  readonly results: Array<{ url: string; result: OutboundResult }> = [];
  private readonly waiters: Array<{ count: number; resolve: () => void }> = [];
  constructor(private readonly inner: OutboundHttp) {}
  async send(request: OutboundRequest): Promise<OutboundResult> {
    const result = await this.inner.send(request);
    this.results.push({ url: request.url, result });
    for (const w of this.waiters.filter((w) => this.results.length >= w.count)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve();
    }
    return result;
  }
  /** Resolves once `count` sends to `url` have completed in all (other tests' retries go elsewhere). */
  async sendsTo(url: string, count: number): Promise<void> {
    const to = () => this.results.filter((r) => r.url === url).length;
    while (to() < count) await new Promise<void>((resolve) => this.waiters.push({ count: this.results.length + 1, resolve }));
  }
}

/** The real queue with each delete announced: a message is deleted once its attempt is recorded. */
class ObservedQueue extends StorageWorkQueue {
  deletes = 0;
  private waiters: Array<() => void> = [];
  override async delete(message: Pick<ReceivedMessage, 'id' | 'popReceipt'>): Promise<void> {
    await super.delete(message);
    this.deletes += 1;
    for (const wake of this.waiters.splice(0)) wake();
  }
  /** Resolves at the next delete. */
  nextDelete(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

describe('webhooks delivered to a loopback receiver (Azurite tables and queue)', () => {
  jest.setTimeout(60_000);
  let services: ServiceContext;
  let app: App;
  let clock: ManualClock;
  let outbound: ObservedOutbound;
  let queue: ObservedQueue;
  let customers = 0;

  beforeAll(async () => {
    clock = new ManualClock(new Date());
    outbound = new ObservedOutbound(new GuardedHttpClient(new OutboundGuard(new DnsHostResolver(), { localMode: true })));
    const config = testConfig({ WEBHOOK_RETRY_DELAYS_SECONDS: '1,1,1,1,1' });
    queue = new ObservedQueue(config.queues, queueName(config.queues.prefix, 'webhookDeliveries'));
    services = createServices(config, {
      secrets: new MemorySecretStore(),
      background: false,
      clock,
      outbound,
      random: () => 0,
      queues: { webhookDeliveries: queue },
    });
    app = await serveApp(services, { timers: false, queues: true });
  });
  afterAll(async () => {
    await app.close();
    await services.dispose();
  });

  /** A customer with a key, and an endpoint (every event type unless told) at the receiver. */
  async function customerWithEndpoint(receiver: WebhookReceiver, events: Array<WebhookEventType | '*'> = ['*']) {
    const slug = `wh${process.pid}-${++customers}`;
    const use = services.useCases;
    await use.customers.create({ slug, name: `Webhooks ${slug}`, plan: 'enterprise' });
    const first = await use.keys.issue(slug, { label: 'first', application: 'checkout' }, op());
    trackSecret(first.key);
    clock.advance(1); // the key above predates the endpoint
    const { endpoint, secret } = await use.webhookEndpoints.create(slug, { url: receiver.url(), events: events as never }, op());
    trackSecret(secret);
    const token = await portalToken(services, { customer: slug, roles: ['CustomerAdmin'], sub: `admin-${slug}`, name: 'Ada Admin' });
    return { slug, use, endpoint, secret, token, first, call: caller(app) };
  }

  /** Verifies a request as a customer would, with the SDK; its event. */
  const verified = (r: { headers: Record<string, unknown>; body: string }, secret: string) =>
    verifyWebhook<Record<string, unknown>>(r.body, r.headers as never, secret, { now: clock.millis() });

  it('delivers every event type, each verified with the SDK helper, its id the webhook-id, never a secret', async () => {
    const receiver = await new WebhookReceiver().start();
    try {
      const { slug, use, endpoint, secret, token, first, call } = await customerWithEndpoint(receiver);
      const secrets = [first.key];
      const issued = await use.keys.issue(slug, { label: 'ci', application: 'checkout' }, op());
      secrets.push(issued.key);
      await use.keys.updateAccess(slug, issued.metadata.id, { allowedIps: ['198.51.100.0/24'] }, op());
      const rolled = await use.keys.roll(slug, issued.metadata.id, { overlapHours: 0 }, op());
      secrets.push(rolled.key);
      await use.keys.revoke(slug, rolled.metadata.id, op());
      const leaked = await use.keys.issue(slug, { label: 'leaked', application: 'checkout' }, op());
      secrets.push(leaked.key);
      await use.leaks.handleGitHubReport(
        [{ token: leaked.key, type: 'veriproof_key', url: 'https://github.com/acme/app/blob/main/.env', source: 'content' }],
        'req-scan',
      );
      const expiring = await use.keys.issue(
        slug,
        { label: 'expiring', application: 'checkout', expiresAt: new Date(clock.millis() + 3 * 86_400_000).toISOString() },
        op(),
      );
      secrets.push(expiring.key);
      await use.revocation.expiry.warnExpiring();
      const rejected = await use.requests.submit(slug, { action: 'rotate-tenant-key', params: {} } as never, op());
      await use.requests.rejectById(rejected.request.id, { reason: 'not now' }, op('staff'));
      const executed = await use.requests.submit(slug, { action: 'rotate-tenant-key', params: {} } as never, op());
      await use.requests.executeById(executed.request.id, {}, op('staff'));
      await use.masterComponents.endGrace(slug, op('staff'));
      const test = await call('POST', `/v1/webhook-endpoints/${endpoint.id}/test`, { token });
      expect(test.status).toBe(202);

      const expected = WEBHOOK_EVENT_TYPES.filter((t) => t !== 'key.stale' && t !== 'key.rotation_completed');
      const typeOf = (r: { body: string }) => (JSON.parse(r.body) as { type: string }).type;
      const typesReceived = () => new Set(receiver.received.map(typeOf));
      while (!expected.every((t) => typesReceived().has(t))) await receiver.requests(receiver.received.length + 1);
      // Verified now: each was signed at the clock's time.
      const events = receiver.received.map((r) => ({ r, event: verified(r, secret) }));

      // The daily review a month on: its stale keys, one webhook each (signed a month on).
      clock.advance(31 * 86_400_000);
      await use.staleKeys.run();
      while (!typesReceived().has('key.stale')) await receiver.requests(receiver.received.length + 1);
      const stale = receiver.received.filter((r) => typeOf(r) === 'key.stale');
      for (const r of stale) expect(verified(r, secret)).toMatchObject({ customer: { slug }, data: { key: { application: 'checkout' } } });

      for (const { r, event } of events) {
        expect(event.id).toBe(r.headers['webhook-id']);
        expect(event.customer).toEqual({ slug });
        expect(r.headers['content-type']).toBe('application/json');
      }
      const byType = (type: string) => events.filter((e) => e.event.type === type).map((e) => e.event.data);
      expect(byType('key.revoked').map((d) => d.reason)).toEqual(expect.arrayContaining(['roll', 'admin', 'exposure']));
      expect(byType('key.issued')[0]).toMatchObject({
        key: { id: issued.metadata.id, label: 'ci', application: 'checkout', displayPrefix: issued.metadata.displayPrefix },
      });
      expect(byType('key.exposed')[0]).toMatchObject({ url: 'https://github.com/acme/app/blob/main/.env', action: 'revoked' });
      expect(byType('key.expiring')[0]).toMatchObject({ window: '7d', key: { id: expiring.metadata.id } });
      const text = receiver.received.map((r) => r.body).join('\n');
      expect(events.length).toBeGreaterThan(expected.length);
      for (const secretValue of secrets) expect(text).not.toContain(secretValue.split('.').at(-1));
      expect(text).not.toMatch(/secretHash/);

      // The routes show each delivery with its attempt.
      const page = await call('GET', `/v1/webhook-endpoints/${endpoint.id}/deliveries?limit=200`, { token });
      expect(page.status).toBe(200);
      const deliveries = page.body!.deliveries as AnswerBody[];
      expect(deliveries.length).toBeGreaterThanOrEqual(expected.length);
      expect(deliveries.every((d) => d.status === 'delivered' || d.status === 'pending')).toBe(true);
      const delivered = deliveries.find((d) => d.id === test.body!.id)!;
      expect(delivered).toMatchObject({ eventType: 'webhook.test', status: 'delivered', attemptCount: 1 });
      expect(delivered.attempts).toEqual([
        { at: expect.any(String), status: 'delivered', durationMs: expect.any(Number), responseCode: 200, error: null },
      ]);
    } finally {
      await receiver.stop();
    }
  });

  it('retries a receiver that is down, and delivers once when it is up: one webhook-id, the same body', async () => {
    // A port nobody listens on yet: the first attempts are refused.
    const receiver = new WebhookReceiver();
    await receiver.start();
    const port = receiver.port;
    await receiver.stop();
    const down = Object.assign(new WebhookReceiver(), { port });
    const { slug, use, endpoint, secret, token, call } = await customerWithEndpoint(down, ['key.revoked']);
    const key = await use.keys.issue(slug, { label: 'victim', application: 'checkout' }, op());
    trackSecret(key.key);
    await use.keys.revoke(slug, key.metadata.id, op());
    await outbound.sendsTo(endpoint.url, 2); // two refused attempts: the first, and a retry a second later
    const refused = outbound.results.filter((r) => r.url === endpoint.url);
    expect(refused.map((r) => (r.result.ok ? r.result.response.status : r.result.failure))).toEqual(['unreachable', 'unreachable']);

    const up = await new WebhookReceiver().start(port);
    try {
      await up.requests(1);
      const [request] = up.received;
      const event = verified(request!, secret);
      expect(event).toMatchObject({ type: 'key.revoked', data: { key: { id: key.metadata.id }, reason: 'admin' } });
      // The delivery says so once its message is deleted (after the attempt is recorded): three
      // attempts, two failed, one delivered, under one webhook-id.
      let delivery: AnswerBody | undefined;
      for (;;) {
        const deleted = queue.nextDelete();
        const page = await call('GET', `/v1/webhook-endpoints/${endpoint.id}/deliveries`, { token });
        delivery = (page.body!.deliveries as AnswerBody[])[0];
        if (delivery?.status === 'delivered') break;
        await deleted;
      }
      expect(delivery.eventId).toBe(event.id);
      expect(delivery.attempts.map((a: AnswerBody) => [a.status, a.responseCode])).toEqual([
        ['failed', null],
        ['failed', null],
        ['delivered', 200],
      ]);
      expect(delivery.attempts[0].error).toMatch(/^unreachable: 127\.0\.0\.1: .*ECONNREFUSED/);
      // Delivered once: no request after it, nothing pending for it.
      expect(up.received).toHaveLength(1);
      expect(up.withId(event.id)).toHaveLength(1);
    } finally {
      await up.stop();
    }
  });

  it('a manual retry sends the delivered event again, with the same webhook-id and body', async () => {
    const receiver = await new WebhookReceiver().start();
    try {
      const { endpoint, token, call, secret } = await customerWithEndpoint(receiver);
      const test = await call('POST', `/v1/webhook-endpoints/${endpoint.id}/test`, { token });
      await receiver.requests(1);
      const retried = await call('POST', `/v1/webhook-endpoints/${endpoint.id}/deliveries/${test.body!.id}/retry`, { token });
      expect(retried.status).toBe(202);
      expect(retried.body).toMatchObject({ id: test.body!.id, status: 'pending' });
      await receiver.requests(2);
      const [a, b] = receiver.received;
      expect(b!.headers['webhook-id']).toBe(a!.headers['webhook-id']);
      expect(b!.body).toBe(a!.body);
      expect(verified(b!, secret).type).toBe('webhook.test');
      const missing = await call('POST', `/v1/webhook-endpoints/${endpoint.id}/deliveries/dlv_01KBZ0000000000000000000AB/retry`, {
        token,
      });
      expect(missing.status).toBe(404);
    } finally {
      await receiver.stop();
    }
  });

  it('a receiver that never answers holds none of ingest: a batch is accepted while its deliveries hang', async () => {
    const receiver = await new WebhookReceiver().start();
    receiver.script.push('hang', 'hang', 'hang');
    try {
      const { slug, use, first } = await customerWithEndpoint(receiver);
      for (const label of ['a', 'b', 'c']) trackSecret((await use.keys.issue(slug, { label, application: 'checkout' }, op())).key);
      await receiver.requests(3); // three deliveries under way, none answered
      const ingest = await app.fetch('/v1/traces', {
        method: 'POST',
        headers: { 'x-api-key': first.key, 'content-type': 'application/json' },
        body: oneSpanExport(),
      });
      expect(ingest.status).toBe(200);
      // Still unanswered: the endpoint holds its own deliveries, not the service.
      expect(receiver.received).toHaveLength(3);
      expect(outbound.results.filter((r) => r.url === receiver.url())).toHaveLength(0);
    } finally {
      await receiver.stop();
    }
  });
});

describe('outbound safety under production rules', () => {
  jest.setTimeout(60_000);

  it.each([
    ['a name resolving to 127.0.0.1', '127.0.0.1', /resolves to 127\.0\.0\.1.*not a public address/],
    ['a name resolving to the metadata address 169.254.169.254', '169.254.169.254', /resolves to 169\.254\.169\.254.*not a public address/],
  ])('refuses %s: nothing is sent, the attempt says why', async (_case, address, reason) => {
    const receiver = await new WebhookReceiver().start();
    const resolver = new MemoryHostResolver({ 'hooks.acme.example': address === '127.0.0.1' ? '127.0.0.1' : [address] });
    // The app's own client, under the production rules (anything but local mode).
    const outbound = new GuardedHttpClient(new OutboundGuard(resolver, { localMode: false }));
    const services = testServices({ WEBHOOK_RETRY_DELAYS_SECONDS: '1' }, { outbound, random: () => 0 });
    try {
      const use = services.useCases;
      const slug = `ssrf-${address.replace(/\./g, '')}-${process.pid}`;
      await use.customers.create({ slug, name: 'SSRF', plan: 'pro' });
      // Its port is the receiver's: were the guard to let it through, the receiver would see the connection.
      const { endpoint } = await use.webhookEndpoints.create(
        slug,
        { url: `https://hooks.acme.example:${receiver.port}/hook`, events: ['*'] },
        op(),
      );
      const delivery = await use.webhookDeliveries.sendTest(slug, endpoint.id);
      const [message] = await services.queues.webhookDeliveries.receive({ max: 1, visibilityTimeoutMs: 30_000 });
      expect(await use.webhookDeliveries.handle(message!.body)).toBe('failed');
      const [stored] = (await use.webhookDeliveries.list(slug, endpoint.id, { limit: 5 })).items;
      expect(stored!.id).toBe(delivery.id);
      expect(stored!.attempts).toHaveLength(1);
      expect(stored!.attempts[0]!.error).toMatch(/^not_allowed: /);
      expect(stored!.attempts[0]!.error).toMatch(reason);
      expect(stored!.attempts[0]!.responseCode).toBeUndefined();
      expect(resolver.lookups).toEqual(['hooks.acme.example']);
      expect(receiver.connections).toBe(0);
    } finally {
      await receiver.stop();
      await services.dispose();
    }
  });
});
