import { freePort } from '../../local/azurite';
import { ManualClock } from '../../shared/clock';
import { signLocalPortalToken } from '../../shared/auth/portal-tokens';
import type { ServiceContext } from '../../app/context';
import { nextFeedRead, startHostProcess, type HostProcess } from '../support/host-process';
import { op } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { testEnv, testServices } from '../support/services';

/**
 * A revocation cut short at each of its steps, with a second instance that has the key warm in
 * its cache: the revoking host process is killed (SIGKILL) when its storage adapter reaches the
 * step. The warm instance must refuse the key from its first revocation-feed read that starts
 * after the crash (the README's "within 2 s": such a read starts within a second, see
 * test/unit/revocation-listener.test.ts), a host started after the crash must refuse it from its
 * first request, and the completion timer must then list it as revoked, with the original who
 * and when.
 */
describe('revocation survives a crash at every step', () => {
  jest.setTimeout(120_000);
  const env = testEnv({ REVOCATION_POLL_INTERVAL_MS: '250' });
  let services: ServiceContext;
  let warm: HostProcess;
  let admin = '';
  const slug = 'revocrash';

  const hostArgs = async (...extra: string[]) => [
    '--no-azurite',
    '--no-demo',
    '--no-timers',
    '--diagnostics',
    '--port',
    String(await freePort()),
    ...extra,
  ];
  const whoami = async (host: HostProcess, secret: string) =>
    (await fetch(`${host.url}/v1/whoami`, { headers: { 'x-api-key': secret } })).status;

  beforeAll(async () => {
    services = testServices(env);
    await services.useCases.customers.create({ slug, name: 'Revocation crash', plan: 'enterprise' });
    admin = await signLocalPortalToken(services.useCases.config.portal, {
      sub: 'alice',
      name: 'Alice Admin',
      customer: slug,
      roles: ['CustomerAdmin'],
    });
    warm = await startHostProcess(await hostArgs(), env);
  });
  afterAll(async () => {
    await warm?.stop();
    await services?.dispose();
  });

  /** Issues a key (and a spare, so the victim is not the last), warms it on the second instance. */
  async function victim(label: string): Promise<{ keyId: string; secret: string }> {
    const issued = await services.useCases.keys.issue(slug, { label, application: 'crash' }, op('setup'));
    trackSecret((await services.useCases.keys.issue(slug, { label: `${label}-spare`, application: 'crash' }, op('setup'))).key);
    const secret = trackSecret(issued.key).split('.').at(-1)!;
    expect(await whoami(warm, secret)).toBe(200);
    return { keyId: issued.metadata.id, secret };
  }

  async function revokeOnDyingHost(step: string, keyId: string): Promise<void> {
    const dying = await startHostProcess(await hostArgs('--fault-kill-at', step), env);
    const answered = await fetch(`${dying.url}/v1/customer-keys/${keyId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin}` },
    }).catch(() => undefined);
    expect(answered).toBeUndefined(); // no answer: the process died on the step
    await dying.exited;
    expect(dying.child.signalCode).toBe('SIGKILL');
  }

  it('killed before the feed: nothing happened, the key still works and still lists as active', async () => {
    const { keyId, secret } = await victim('before-feed');
    await revokeOnDyingHost('feed.publish', keyId);
    await nextFeedRead(warm);
    expect(await whoami(warm, secret)).toBe(200);
    expect((await services.useCases.keys.list(slug)).find((k) => k.id === keyId)!.status).toBe('active');
  });

  it.each(['keys.deleteLookup', 'keys.markRevoked'])(
    'killed before %s: the warm instance refuses the key from its next feed read, a new one from the start, and the timer completes it',
    async (step) => {
      const { keyId, secret } = await victim(`at-${step.replace('.', '-')}`);
      const crashedAt = Date.now();
      await revokeOnDyingHost(step, keyId);
      await nextFeedRead(warm);
      expect(await whoami(warm, secret)).toBe(401);

      const fresh = await startHostProcess(await hostArgs(), env);
      try {
        expect(await whoami(fresh, secret)).toBe(401);
      } finally {
        await fresh.stop();
      }

      // The completion timer, a minute later: the key lists as revoked, by Alice, when she did it.
      const later = testServices(env, { clock: new ManualClock(new Date(Date.now() + 60_000)) });
      try {
        expect(await later.useCases.revocation.completeInterruptedRevocations()).toBe(1);
        expect(await later.useCases.revocation.completeInterruptedRevocations()).toBe(0); // idempotent
      } finally {
        await later.dispose();
      }
      const listed = (await services.useCases.keys.list(slug)).find((k) => k.id === keyId)!;
      expect(listed.status).toBe('revoked');
      expect(listed.revokedBy).toMatchObject({ id: 'alice' });
      expect(Date.parse(listed.revokedAt!)).toBeGreaterThanOrEqual(crashedAt - 1000);
      expect(Date.parse(listed.revokedAt!)).toBeLessThan(Date.now());
      for await (const row of services.storage.clients.keyLookup.listEntities<{ keyId: string }>()) expect(row.keyId).not.toBe(keyId);
      expect(await whoami(warm, secret)).toBe(401);
    },
  );
});
