import { freePort } from '../../local/azurite';
import { signLocalPortalToken } from '../../shared/auth/portal-tokens';
import { loadConfig } from '../../shared/config';
import { createServices } from '../../app/compose';
import type { ServiceContext } from '../../app/context';
import { verifyWebhook } from '../../sdks/typescript/src/index';
import { startHostProcess, type HostProcess } from '../support/host-process';
import { op } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { testEnv } from '../support/services';
import { WebhookReceiver } from '../../fixtures/webhook-receiver';

/**
 * A host killed (SIGKILL) between a change and the send of its webhook: the change is committed
 * (a key revoked through the host's API), and the host dies when its storage adapter reaches a
 * step of the delivery's way out (the delivery row, or the record that its message was queued).
 * A host started afterwards (its sweeper runs at start, its poller receives the queue) delivers
 * the event: nothing is lost, at most it arrives twice, always under the event's id.
 */
describe('webhooks survive a host killed between the change and the send', () => {
  jest.setTimeout(60_000);
  const env = testEnv({ WEBHOOK_RETRY_DELAYS_SECONDS: '1' });
  let services: ServiceContext;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    // The same tables, queue and secret store as the hosts (one LOCAL_DATA_DIR): what the test sets up, the hosts read.
    // Its own fast path off: only the hosts may carry an event out (else this process could deliver what the host lost).
    services = createServices(loadConfig(env), { background: false, webhookFastPath: false });
    receiver = await new WebhookReceiver().start();
  });
  afterAll(async () => {
    await receiver.stop();
    await services.dispose();
  });

  const hostArgs = async (...extra: string[]) => ['--no-azurite', '--no-demo', '--port', String(await freePort()), ...extra];

  it.each([
    ['the delivery is made', 'webhookDeliveries.create'],
    ['its message is recorded as queued (the message may be in the queue)', 'webhookDeliveries.update'],
  ])('killed before %s: delivered after a restart', async (_when, step) => {
    const slug = `whcrash-${step.split('.')[1]}-${process.pid}`;
    const use = services.useCases;
    await use.customers.create({ slug, name: 'Crash', plan: 'enterprise' });
    const keep = await use.keys.issue(slug, { label: 'keep', application: 'crash' }, op());
    const victim = await use.keys.issue(slug, { label: 'victim', application: 'crash' }, op());
    trackSecret(keep.key);
    trackSecret(victim.key);
    const { secret } = await use.webhookEndpoints.create(slug, { url: receiver.url(`/${slug}`), events: ['key.revoked'] }, op());
    trackSecret(secret);
    const admin = await signLocalPortalToken(use.config.portal, { sub: 'admin', customer: slug, roles: ['CustomerAdmin'] });

    // The first host: no timers and no queue poller, so the fast path alone carries the event out, into the fault.
    const first: HostProcess = await startHostProcess(await hostArgs('--no-timers', '--fault-kill-at', step), env);
    try {
      const revoked = await fetch(`${first.url}/v1/customer-keys/${victim.metadata.id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${admin}` },
      });
      expect(revoked.status).toBe(204); // the change is committed...
      await first.exited; // ...and the host dies on its way to the send
      expect(first.child.signalCode).toBe('SIGKILL');
    } finally {
      await first.stop();
    }
    const event = (await use.audit.list(slug, { limit: 10 })).items.find(
      (e) => e.type === 'key.revoked' && e.keyId === victim.metadata.id,
    )!;
    expect(event).toBeDefined();
    const mine = () => receiver.received.filter((r) => r.headers['webhook-id'] === event.id);
    expect(mine()).toHaveLength(0);

    const second = await startHostProcess(await hostArgs(), env);
    try {
      while (mine().length === 0) await receiver.requests(receiver.received.length + 1);
      const [request] = mine();
      const delivered = verifyWebhook(request!.body, request!.headers as never, secret);
      expect(delivered).toMatchObject({ id: event.id, type: 'key.revoked', data: { key: { id: victim.metadata.id }, reason: 'admin' } });
      // At least once: any copy is the same event, under the same id.
      expect(new Set(mine().map((r) => r.body)).size).toBe(1);
    } finally {
      await second.stop();
    }
  });
});
