import { InvocationContext, type Timer } from '@azure/functions';
import type { ServiceContext } from '../../app/context';
import type { TimerFunctionDefinition } from '../../app/function-contract';
import { createServices } from '../../app/compose';
import { bindTimerFunction } from '../../functions/bind';
import { functionDefinitions } from '../../functions/registry';
import { MemorySecretStore } from '../../shared/adapters/memory/memory-secret-store';
import { loadConfig } from '../../shared/config';
import { silentLogger } from '../../shared/logging';
import { problemOf, serveApp } from '../support/http';
import { portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { customerWithKey, testEnv } from '../support/services';
import { SteppingClock } from '../support/stepping-clock';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** USAGE_FLUSH_INTERVAL_MS of these instances: a use waits in memory at most this long. */
const SETTLE = 30_000;

const keyExpiryTimer = functionDefinitions.find((d) => d.name === 'key-expiry') as TimerFunctionDefinition;

interface KeyBody {
  id: string;
  displayPrefix: string;
  status: string;
  revokedReason: string | null;
  expiresAt: string | null;
  rolledTo: string | null;
  rollout: { quietMinutes: number; closeWhenQuiet: boolean; completedAt: string | null } | null;
}
interface AuditBody {
  events: Array<{ type: string; keyId?: string; actor: { type: string; id: string }; details?: Record<string, unknown> }>;
}

/**
 * Rollouts that complete themselves over HTTP on Azurite, with two instances of the app on the
 * same tables (A and B, in this process, on one clock moved by hand; their feeds read and their
 * usage flushed when the test says): keys are used through either door, each instance's flush
 * writes what it saw, and A's `key-expiry` timer function completes the rollout.
 */
describe('a rollout completes itself once the new key is used and the old one is quiet', () => {
  let clock: SteppingClock;
  let a: ServiceContext;
  let b: ServiceContext;
  let appA: Awaited<ReturnType<typeof serveApp>>;
  let appB: Awaited<ReturnType<typeof serveApp>>;

  beforeAll(async () => {
    clock = new SteppingClock();
    const config = loadConfig(testEnv({ USAGE_FLUSH_INTERVAL_MS: String(SETTLE), AUTH_CACHE_TTL_SECONDS: '3600' }));
    const secrets = new MemorySecretStore(); // the master components both instances read
    a = createServices(config, { clock, secrets, background: false, log: silentLogger });
    b = createServices(config, { clock, secrets, background: false, log: silentLogger });
    await Promise.all([a.revocations.poll(), b.revocations.poll()]);
    // The tests run the timers themselves, on the moved clock.
    [appA, appB] = await Promise.all([serveApp(a, { timers: false }), serveApp(b, { timers: false })]);
  });
  afterAll(async () => {
    await Promise.all([appA?.close(), appB?.close()]);
    await Promise.all([a?.dispose(), b?.dispose()]);
  });

  /** What `app` answers for the key on whoami: 'ok' or the error code. */
  const use = async (app: typeof appA, key: string) => {
    const response = await app.fetch('/v1/whoami', { headers: { 'x-api-key': key } });
    return response.status === 200 ? 'ok' : (await problemOf(response)).code;
  };
  /** Both instances flush their usage, then A runs the `key-expiry` timer function (expiries, then rollouts). */
  const tick = async () => {
    await Promise.all([a.usageRecorder.flush(), b.usageRecorder.flush()]);
    await bindTimerFunction(keyExpiryTimer, () => a)(
      { isPastDue: false } as Timer,
      new InvocationContext({ invocationId: 'timer', logHandler: () => {} }),
    );
  };
  /** Both instances read the revocation feed (the first read that starts after a change). */
  const readFeeds = () => Promise.all([a.revocations.poll(), b.revocations.poll()]);

  async function rolledCustomer(options: Record<string, unknown>) {
    const { customer, key, keyId } = await customerWithKey(a, { label: 'checkout' });
    const token = await portalToken(a, { customer: customer.slug, roles: ['CustomerAdmin'] });
    const call = (method: string, path: string, body?: unknown) =>
      appA.fetch(path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    expect(await use(appB, key)).toBe('ok'); // B holds the old key in its cache
    const response = await call('POST', `/v1/customer-keys/${keyId}/roll`, { overlapHours: 24, ...options });
    expect(response.status).toBe(201);
    const rolled = (await response.json()) as { key: string; metadata: KeyBody; old: KeyBody };
    trackSecret(rolled.key);
    await readFeeds();
    const oldKey = async () =>
      ((await (await call('GET', '/v1/customer-keys')).json()) as { keys: KeyBody[] }).keys.find((k) => k.id === keyId)!;
    const events = async (type: string) =>
      ((await (await call('GET', '/v1/customer-keys/audit?limit=100')).json()) as AuditBody).events.filter((e) => e.type === type);
    return { key, keyId, rolled, call, oldKey, events };
  }

  it('with closeWhenQuiet: the event once, the old key stopped then (reason rolled), refused by the other instance after its next feed read', async () => {
    const { key, keyId, rolled, oldKey, events } = await rolledCustomer({ quietMinutes: 10, closeWhenQuiet: true });
    expect(rolled.old).toMatchObject({ status: 'active', rollout: { quietMinutes: 10, closeWhenQuiet: true, completedAt: null } });
    expect(rolled.metadata.rollout).toBeNull();

    const beforeFirstUse = clock.millis();
    expect(await use(appB, rolled.key)).toBe('ok'); // the new key's first use, on B
    const firstUse = [beforeFirstUse, clock.millis()];
    clock.forward(2 * MINUTE);
    expect(await use(appA, key)).toBe('ok');
    clock.forward(3 * MINUTE);
    const beforeLastUse = clock.millis();
    expect(await use(appB, key)).toBe('ok'); // the old key's last use, on B: B's flush writes it
    const lastUse = clock.millis();
    await tick();

    clock.moveTo(new Date(lastUse + 10 * MINUTE + SETTLE - 1000).toISOString());
    await tick();
    expect(await events('key.rotation_completed')).toEqual([]);
    expect(await use(appA, rolled.key)).toBe('ok');

    // B still holds the old key from its last use (cache TTL an hour), and has read the feed: its cache is trusted.
    clock.moveTo(new Date(lastUse + 10 * MINUTE + SETTLE).toISOString());
    await readFeeds();
    await tick();
    const completed = await events('key.rotation_completed');
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({
      keyId,
      actor: { type: 'system', id: 'key-rollout' },
      details: {
        label: 'checkout',
        oldKeyId: keyId,
        newKeyId: rolled.metadata.id,
        quietMinutes: 10,
        closedOldKey: true,
      },
    });
    // To the millisecond, as the door saw them (this clock runs on between readings).
    const within = (iso: unknown, [from, to]: number[]) => {
      expect(Date.parse(iso as string)).toBeGreaterThanOrEqual(from!);
      expect(Date.parse(iso as string)).toBeLessThanOrEqual(to!);
    };
    within(completed[0]!.details!.newKeyFirstUsedAt, firstUse);
    within(completed[0]!.details!.oldKeyLastUsedAt, [beforeLastUse, lastUse]);

    expect(await use(appA, key)).toBe('api_key_invalid');
    await readFeeds();
    expect(await use(appB, key)).toBe('api_key_invalid');
    expect(await use(appB, rolled.key)).toBe('ok');
    const stopped = await oldKey();
    expect(stopped).toMatchObject({ status: 'revoked', revokedReason: 'rolled', rollout: { closeWhenQuiet: true } });
    expect(stopped.rollout!.completedAt).not.toBeNull();
    expect((await events('key.revoked')).map((e) => e.details)).toEqual([
      { label: 'checkout', application: 'test-app', displayPrefix: stopped.displayPrefix, reason: 'rolled' },
    ]);

    clock.forward(HOUR);
    await tick();
    clock.forward(24 * HOUR);
    await tick();
    expect(await events('key.rotation_completed')).toHaveLength(1);
    expect(await events('key.revoked')).toHaveLength(1);
  }, 60_000);

  it('records nothing while the old key is still in use, and the overlap ends as it always did (reason expired)', async () => {
    const { key, rolled, oldKey, events } = await rolledCustomer({ overlapHours: 2, quietMinutes: 30, closeWhenQuiet: true });
    expect(await use(appA, rolled.key)).toBe('ok');
    // The old key is still sent, on one instance or the other, every 20 minutes until its end.
    for (let i = 0; i < 5; i++) {
      clock.forward(20 * MINUTE);
      expect(await use(i % 2 === 0 ? appB : appA, key)).toBe('ok');
      await tick();
    }
    expect(await events('key.rotation_completed')).toEqual([]);
    clock.moveTo(rolled.old.expiresAt!);
    expect(await use(appB, key)).toBe('api_key_expired');
    await tick();
    expect(await oldKey()).toMatchObject({ status: 'revoked', revokedReason: 'expired', rollout: { completedAt: null } });
    expect(await events('key.rotation_completed')).toEqual([]);
  }, 60_000);

  it('records nothing while the new key has never been used, however long the old one is quiet', async () => {
    const { key, rolled, oldKey, events } = await rolledCustomer({ quietMinutes: 5 });
    for (let hours = 0; hours < 6; hours++) {
      clock.forward(HOUR);
      await tick();
    }
    expect(await events('key.rotation_completed')).toEqual([]);
    expect(await use(appA, key)).toBe('ok');
    expect(await oldKey()).toMatchObject({ status: 'active', rollout: { quietMinutes: 5, closeWhenQuiet: false, completedAt: null } });
    // Without closeWhenQuiet the new key's first use completes it, and the old key works on.
    expect(await use(appB, rolled.key)).toBe('ok');
    clock.forward(5 * MINUTE + SETTLE);
    await tick();
    expect((await events('key.rotation_completed')).map((e) => e.details)).toEqual([expect.objectContaining({ closedOldKey: false })]);
    expect(await use(appA, key)).toBe('ok');
    expect((await oldKey()).status).toBe('active');
  }, 60_000);

  it('refuses the rollout options on a roll without an overlap, and a quiet time out of range (400 validation_failed)', async () => {
    const { customer, keyId } = await customerWithKey(a, { label: 'refused' });
    const token = await portalToken(a, { customer: customer.slug, roles: ['CustomerAdmin'] });
    const roll = async (body: unknown) => {
      const response = await appA.fetch(`/v1/customer-keys/${keyId}/roll`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(400);
      const problem = (await problemOf(response)) as unknown as { code: string; errors: Array<{ path: string }> };
      return [problem.code, problem.errors.map((e) => e.path)];
    };
    expect(await roll({ overlapHours: 0, closeWhenQuiet: true })).toEqual(['validation_failed', ['closeWhenQuiet']]);
    expect(await roll({ overlapHours: 0, quietMinutes: 60 })).toEqual(['validation_failed', ['quietMinutes']]);
    expect(await roll({ overlapHours: 24, quietMinutes: 4 })).toEqual(['validation_failed', ['quietMinutes']]);
    expect(await roll({ overlapHours: 24, quietMinutes: 10_081 })).toEqual(['validation_failed', ['quietMinutes']]);
  }, 30_000);
});
