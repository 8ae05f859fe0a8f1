import { freePort } from '../../local/azurite';
import { signLocalPortalToken } from '../../shared/auth/portal-tokens';
import { loadConfig } from '../../shared/config';
import { hashSecret } from '../../shared/keys/compound-key';
import { createServices } from '../../app/compose';
import type { ServiceContext } from '../../app/context';
import { startHostProcess, type HostProcess } from '../support/host-process';
import { op } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { testEnv } from '../support/services';

/**
 * The host process is killed (SIGKILL) when its storage adapter reaches each step of key
 * issuance, revocation, roll and reset. After every crash: no key authenticates that its customer
 * cannot list as active; no revoked key authenticates; and repeating the operation on a healthy
 * host completes it.
 */
describe('crash consistency: the host killed at each storage step', () => {
  const env = testEnv();
  let services: ServiceContext;
  let admin: string;
  let slug: string;
  const values = new Map<string, string>();

  beforeAll(async () => {
    services = createServices(loadConfig(env), { background: false });
    slug = 'crash';
    await services.useCases.customers.create({ slug, name: 'Crash', plan: 'enterprise' });
    admin = await signLocalPortalToken(services.useCases.config.portal, { sub: 'admin', customer: slug, roles: ['CustomerAdmin'] });
  });
  afterAll(() => services.dispose());

  async function issueDirect(label: string): Promise<string> {
    const issued = await services.useCases.keys.issue(slug, { label, application: 'crash' }, op());
    values.set(issued.metadata.id, trackSecret(issued.key));
    return issued.metadata.id;
  }

  async function withHost<T>(killAt: string | undefined, run: (host: HostProcess) => Promise<T>): Promise<{ result?: T; killed: boolean }> {
    const args = [
      '--no-azurite',
      '--no-demo',
      '--no-timers',
      '--port',
      String(await freePort()),
      ...(killAt ? ['--fault-kill-at', killAt] : []),
    ];
    const host = await startHostProcess(args, env);
    try {
      const result = await run(host).catch(() => undefined);
      // Cut off without an answer when the process died at the step: then it is seen to exit, by SIGKILL.
      const killed = killAt !== undefined && result === undefined && (await host.exited, host.child.signalCode === 'SIGKILL');
      return { result, killed };
    } finally {
      await host.stop();
    }
  }

  /** The invariants, read from storage directly (a fresh process's view, no cache). */
  async function assertInvariants() {
    const listed = await services.useCases.keys.list(slug);
    const lookupRows = new Set<string>();
    for await (const row of services.storage.clients.keyLookup.listEntities<{ keyId: string }>()) lookupRows.add(row.keyId);
    for (const key of listed) {
      if (lookupRows.has(key.id)) expect(key.status).toBe('active'); // authenticating => listed as active
      if (key.status === 'revoked') {
        const value = values.get(key.id);
        if (value) expect(await services.authenticator.authenticate(hashSecret(value.split('.').at(-1)!))).toBeUndefined();
      }
    }
    for (const keyId of lookupRows) expect(listed.some((k) => k.id === keyId)).toBe(true); // nothing authenticates unlisted
    expect((await services.useCases.customers.require(slug)).activeKeyCount).toBe(listed.filter((k) => k.status === 'active').length);
  }

  it.each(['keys.insertRecord', 'keys.insertLookup'])('issue, killed before %s', async (step) => {
    const { killed } = await withHost(step, (host) =>
      fetch(`${host.url}/v1/customer-keys/issue`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ label: `crash-${step}`, application: 'crash' }),
      }),
    );
    expect(killed).toBe(true);
    await assertInvariants();
  });

  it.each(['keys.deleteLookup', 'feed.publish', 'keys.markRevoked'])('revoke, killed before %s; a retry completes it', async (step) => {
    const keyId = await issueDirect(`victim-${step}`);
    await issueDirect(`spare-${step}`);
    const revoke = (host: HostProcess) =>
      fetch(`${host.url}/v1/customer-keys/${keyId}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
    expect((await withHost(step, revoke)).killed).toBe(true);
    await assertInvariants();
    const retried = await withHost(undefined, revoke);
    expect(retried.result?.status).toBe(204);
    expect((await services.useCases.keys.list(slug)).find((k) => k.id === keyId)!.status).toBe('revoked');
    await assertInvariants();
  });

  it.each([
    ['keys.rollRecord', 24],
    ['keys.insertLookup', 24],
    ['keys.deleteLookup', 0],
    ['keys.replaceRecord', 0],
    ['keys.insertLookup', 0],
  ] as const)('roll, killed before %s (overlap %i h): the count stays the keys that can authenticate', async (step, overlapHours) => {
    const keyId = await issueDirect(`roll-${step}-${overlapHours}`);
    const roll = (host: HostProcess) =>
      fetch(`${host.url}/v1/customer-keys/${keyId}/roll`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ overlapHours }),
      });
    expect((await withHost(step, roll)).killed).toBe(true);
    await assertInvariants();
  });

  it('reset, killed before keys.replaceRecord; a retry completes it', async () => {
    await issueDirect('reset-a');
    const reset = (host: HostProcess) =>
      fetch(`${host.url}/v1/customer-keys/reset`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
    expect((await withHost('keys.replaceRecord', reset)).killed).toBe(true);
    await assertInvariants();
    const retried = await withHost(undefined, reset);
    expect(retried.result?.status).toBe(200);
    const body = (await retried.result!.json()) as { keys: Array<{ key: string; metadata: { id: string } }> };
    for (const k of body.keys) values.set(k.metadata.id, trackSecret(k.key));
    await assertInvariants();
  });
});
