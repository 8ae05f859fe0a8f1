import { HttpRequest, InvocationContext, type HttpResponseInit, type Timer } from '@azure/functions';
import type { HttpFunctionDefinition, TimerFunctionDefinition } from '../../app/function-contract';
import { bindHttpFunction, bindTimerFunction } from '../../functions/bind';
import { functionDefinitions } from '../../functions/registry';
import type { RollKeyRequest } from '../../shared/schemas/keys';
import { rollKeySchema } from '../../shared/schemas/keys';
import { ApiError } from '../../shared/errors';
import { parseInput } from '../../shared/validation';
import { memoryServices } from '../support/memory-services';
import { op } from '../support/portal';
import { trackSecret } from '../support/secrets';

/**
 * Rollouts that complete themselves (issue 28), on the in-memory fakes with the injected clock:
 * requests go through the real door (whoami), the usage flush writes the watched uses, and the
 * real `key-expiry` timer function runs the pass. Over HTTP on Azurite:
 * test/integration/rotation-completion.test.ts.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The usage flush interval of the test config (a use waits this long in memory at most). */
const SETTLE = 30_000;

const whoami = functionDefinitions.find((d) => d.name === 'whoami') as HttpFunctionDefinition;
const keyExpiryTimer = functionDefinitions.find((d) => d.name === 'key-expiry') as TimerFunctionDefinition;

async function setup() {
  const env = memoryServices({ USAGE_FLUSH_INTERVAL_MS: String(SETTLE) });
  const { services, repositories } = env;
  await services.useCases.customers.create({ slug: 'acme', name: 'Acme', plan: 'pro' });
  const old = await services.useCases.keys.issue('acme', { label: 'checkout', application: 'web' }, op());
  trackSecret(old.key);
  const door = bindHttpFunction(whoami, () => services);
  /** One request with `key` through the door: 'ok' or the error code. */
  const use = async (key: string): Promise<string> => {
    const request = new HttpRequest({ method: 'GET', url: 'http://localhost/v1/whoami', headers: { 'x-api-key': key } });
    const response = (await door(request, new InvocationContext({ invocationId: 'req-1', logHandler: () => {} }))) as HttpResponseInit;
    return response.status === 200 ? 'ok' : (response.jsonBody as { code: string }).code;
  };
  const timer = bindTimerFunction(keyExpiryTimer, () => services);
  /** The usage flush, then the `key-expiry` timer function (expiries, then rollouts), as the host runs them. */
  const tick = async () => {
    await services.usageRecorder.flush();
    await timer({ isPastDue: false } as Timer, new InvocationContext({ invocationId: 'timer', logHandler: () => {} }));
  };
  const roll = async (options: Partial<RollKeyRequest> = {}) => {
    const rolled = await services.useCases.keys.roll('acme', old.metadata.id, { overlapHours: 24, ...options }, op());
    trackSecret(rolled.key);
    return rolled;
  };
  const events = (type: string) => repositories.keys.audit.filter((e) => e.type === type);
  const oldRecord = async () => (await services.useCases.keys.list('acme')).find((k) => k.id === old.metadata.id)!;
  return { ...env, old, use, tick, roll, events, oldRecord, rollouts: repositories.rollouts };
}

describe('a rollout that completes itself', () => {
  it('records key.rotation_completed once the new key is used and the old one quiet for quietMinutes, and with closeWhenQuiet stops the old key then', async () => {
    const { clock, old, use, tick, roll, events, oldRecord } = await setup();
    const rolledAt = clock.now().toISOString();
    const rolled = await roll({ closeWhenQuiet: true, quietMinutes: 30 });
    expect(rolled.old.rollout).toEqual({ quietMinutes: 30, closeWhenQuiet: true });
    expect(events('key.rolled')[0]!.details).toMatchObject({ quietMinutes: 30, closeWhenQuiet: true });

    clock.advance(5 * MINUTE);
    expect(await use(old.key)).toBe('ok'); // the old key's last use: 12:05
    const lastOld = clock.now().toISOString();
    clock.advance(10 * MINUTE);
    expect(await use(rolled.key)).toBe('ok'); // the new key's first use: 12:15
    const firstNew = clock.now().toISOString();
    await tick();

    // Quiet for 30 minutes after 12:05, plus one flush interval for a use not yet written: 12:35:30.
    clock.set(new Date(Date.parse(lastOld) + 30 * MINUTE + SETTLE - 1));
    await tick();
    expect(events('key.rotation_completed')).toHaveLength(0);
    expect(await use(old.key)).toBe('ok'); // …and that use starts the quiet time again.
    const lastUse = clock.millis();

    clock.set(new Date(lastUse + 30 * MINUTE + SETTLE - 1));
    await tick();
    expect(events('key.rotation_completed')).toHaveLength(0);
    clock.advance(1);
    await tick();
    const [completed, ...more] = events('key.rotation_completed');
    expect(more).toEqual([]);
    expect(completed).toMatchObject({
      keyId: old.metadata.id,
      actor: { type: 'system', id: 'key-rollout' },
      details: {
        label: 'checkout',
        application: 'web',
        displayPrefix: old.metadata.displayPrefix,
        oldKeyId: old.metadata.id,
        newKeyId: rolled.metadata.id,
        newDisplayPrefix: rolled.metadata.displayPrefix,
        newKeyFirstUsedAt: firstNew,
        oldKeyLastUsedAt: new Date(lastUse).toISOString(),
        quietMinutes: 30,
        closedOldKey: true,
      },
    });
    expect(rolledAt < firstNew).toBe(true);

    // The old key stopped then (reason rolled, so a webhook says `roll`), at the door at once.
    expect(await use(old.key)).toBe('api_key_invalid');
    expect(await use(rolled.key)).toBe('ok');
    expect(await oldRecord()).toMatchObject({
      status: 'revoked',
      revokedReason: 'rolled',
      revokedAt: clock.now().toISOString(),
      rollout: { quietMinutes: 30, closeWhenQuiet: true, completedAt: clock.now().toISOString() },
    });
    expect(events('key.revoked').map((e) => e.details)).toEqual([
      { label: 'checkout', application: 'web', displayPrefix: old.metadata.displayPrefix, reason: 'rolled' },
    ]);

    // Exactly once: later passes, and the overlap's end, record nothing more.
    for (const step of [MINUTE, HOUR, 24 * HOUR]) {
      clock.advance(step);
      await tick();
    }
    expect(events('key.rotation_completed')).toHaveLength(1);
    expect(events('key.revoked')).toHaveLength(1);
  });

  it('without closeWhenQuiet: records the event, and the old key works on until its overlap ends (then reason expired)', async () => {
    const { clock, old, use, tick, roll, events, oldRecord } = await setup();
    const rolled = await roll(); // quietMinutes 60 by default
    expect(rolled.old.rollout).toEqual({ quietMinutes: 60, closeWhenQuiet: false });
    expect(await use(rolled.key)).toBe('ok');
    // Never used since the roll: quiet from the roll.
    clock.advance(60 * MINUTE + SETTLE - 1);
    await tick();
    expect(events('key.rotation_completed')).toHaveLength(0);
    clock.advance(1);
    await tick();
    expect(events('key.rotation_completed').map((e) => e.details)).toEqual([
      expect.objectContaining({ oldKeyLastUsedAt: null, closedOldKey: false, quietMinutes: 60 }),
    ]);
    expect(await use(old.key)).toBe('ok');
    expect((await oldRecord()).status).toBe('active');
    // Used again after completing: nothing is recorded again.
    clock.advance(2 * HOUR);
    await tick();
    expect(events('key.rotation_completed')).toHaveLength(1);

    clock.set(rolled.old.expiresAt!);
    expect(await use(old.key)).toBe('api_key_expired');
    await tick();
    expect(await oldRecord()).toMatchObject({ status: 'revoked', revokedReason: 'expired' });
    expect(events('key.rotation_completed')).toHaveLength(1);
  });

  it('records nothing while the old key is still in use', async () => {
    const { clock, old, use, tick, roll, events, oldRecord } = await setup();
    const rolled = await roll({ closeWhenQuiet: true, quietMinutes: 15 });
    expect(await use(rolled.key)).toBe('ok');
    // The old key keeps being sent every 10 minutes for 6 hours (a deployment not yet updated).
    for (let i = 0; i < 36; i++) {
      clock.advance(10 * MINUTE);
      expect(await use(old.key)).toBe('ok');
      await tick();
    }
    expect(events('key.rotation_completed')).toHaveLength(0);
    expect((await oldRecord()).status).toBe('active');
  });

  it('records nothing while the new key has never been used, however quiet the old one, and the overlap ends as it always did', async () => {
    const { clock, old, use, tick, roll, events, oldRecord, rollouts } = await setup();
    const rolled = await roll({ closeWhenQuiet: true, quietMinutes: 5 });
    for (let hours = 0; hours < 23; hours++) {
      clock.advance(HOUR);
      await tick();
    }
    expect(events('key.rotation_completed')).toHaveLength(0);
    expect(await use(old.key)).toBe('ok');
    clock.set(rolled.old.expiresAt!);
    expect(await use(old.key)).toBe('api_key_expired');
    await tick();
    expect(events('key.rotation_completed')).toHaveLength(0);
    expect(await oldRecord()).toMatchObject({ status: 'revoked', revokedReason: 'expired' });
    expect(rollouts.entries.size).toBe(0); // dropped at the overlap's end
  });

  it('records nothing when the overlap ends before the old key goes quiet: the normal stop (reason expired)', async () => {
    const { clock, old, use, tick, roll, events, oldRecord, rollouts } = await setup();
    const rolled = await roll({ overlapHours: 1, closeWhenQuiet: true, quietMinutes: 60 });
    expect(await use(rolled.key)).toBe('ok');
    clock.advance(30 * MINUTE);
    expect(await use(old.key)).toBe('ok'); // quiet from 12:30 would complete at 13:30:30, after the end at 13:00
    await tick();
    clock.set(rolled.old.expiresAt!);
    await tick();
    clock.advance(HOUR);
    await tick();
    expect(events('key.rotation_completed')).toHaveLength(0);
    expect(await oldRecord()).toMatchObject({ status: 'revoked', revokedReason: 'expired' });
    expect(rollouts.entries.size).toBe(0);
  });

  it('does not complete, nor close the old key, when the new key was revoked meanwhile', async () => {
    const { services, clock, old, use, tick, roll, events, oldRecord, rollouts } = await setup();
    const rolled = await roll({ closeWhenQuiet: true, quietMinutes: 5 });
    expect(await use(rolled.key)).toBe('ok');
    await tick();
    await services.useCases.keys.revoke('acme', rolled.metadata.id, op());
    clock.advance(HOUR);
    await tick();
    expect(events('key.rotation_completed')).toHaveLength(0);
    expect(await use(old.key)).toBe('ok');
    expect((await oldRecord()).status).toBe('active');
    expect(rollouts.entries.size).toBe(0);
  });

  it('records the event once when a pass fails after it (the old key not yet stopped): the next pass stops the old key', async () => {
    const { clock, old, use, tick, roll, events, oldRecord, repositories } = await setup();
    const rolled = await roll({ closeWhenQuiet: true, quietMinutes: 5 });
    expect(await use(rolled.key)).toBe('ok');
    clock.advance(5 * MINUTE + SETTLE);
    repositories.feed.failWith = new Error('storage down'); // the revocation path's first step fails
    await expect(tick()).rejects.toThrow('storage down');
    expect(events('key.rotation_completed')).toHaveLength(1);
    expect((await oldRecord()).status).toBe('active');
    repositories.feed.failWith = undefined;
    clock.advance(MINUTE);
    await tick();
    expect(events('key.rotation_completed')).toHaveLength(1);
    expect(await oldRecord()).toMatchObject({ status: 'revoked', revokedReason: 'rolled' });
    expect(await use(old.key)).toBe('api_key_invalid');
  });

  it('keeps reason rolled when a crash cut the close short and the revocation-completion timer finishes it', async () => {
    const { services, clock, old, use, tick, roll, events, oldRecord, repositories } = await setup();
    const rolled = await roll({ closeWhenQuiet: true, quietMinutes: 5 });
    expect(await use(rolled.key)).toBe('ok');
    clock.advance(5 * MINUTE + SETTLE);
    // The feed and the lookup row are done, then the process dies before the record is marked.
    const markRevoked = repositories.keys.markRevoked.bind(repositories.keys);
    repositories.keys.markRevoked = async () => {
      throw new Error('killed');
    };
    await expect(tick()).rejects.toThrow('killed');
    repositories.keys.markRevoked = markRevoked;
    expect(await use(old.key)).toBe('api_key_invalid');
    clock.advance(31_000);
    expect(await services.useCases.revocation.completeInterruptedRevocations()).toBe(1);
    expect(await oldRecord()).toMatchObject({ status: 'revoked', revokedReason: 'rolled' });
    expect(events('key.revoked').map((e) => e.details)).toEqual([
      {
        label: 'checkout',
        application: 'web',
        displayPrefix: old.metadata.displayPrefix,
        reason: 'rolled',
        completedAfterInterruption: true,
      },
    ]);
    await tick();
    expect(events('key.rotation_completed')).toHaveLength(1);
    expect(events('key.revoked')).toHaveLength(1);
  });

  it('costs the timer one query per pass and no key read while rollouts wait', async () => {
    const { services, clock, tick, rollouts, repositories } = await setup();
    await services.useCases.customers.create({ slug: 'bulk', name: 'Bulk', plan: 'enterprise' });
    for (let i = 0; i < 20; i++) {
      const key = await services.useCases.keys.issue('bulk', { label: `k${i}`, application: 'web' }, op());
      trackSecret(key.key);
      trackSecret((await services.useCases.keys.roll('bulk', key.metadata.id, { overlapHours: 24 }, op())).key);
    }
    let reads = 0;
    const get = repositories.keys.get.bind(repositories.keys);
    repositories.keys.get = (slug, id) => (reads++, get(slug, id));
    const before = rollouts.listCalls;
    for (let minute = 0; minute < 10; minute++) {
      clock.advance(MINUTE);
      await tick();
    }
    expect(rollouts.listCalls - before).toBe(10);
    expect(reads).toBe(0);
    expect(await services.useCases.rollouts.completeQuiet()).toEqual({ watched: 20, completed: 0, closed: 0, dropped: 0 });
  });
});

describe('the roll options', () => {
  it('takes quietMinutes from 5 to 10080 and closeWhenQuiet, only with an overlap', () => {
    const parse = (body: unknown) => parseInput(rollKeySchema, body);
    expect(parse({ overlapHours: 24 })).toEqual({ overlapHours: 24 });
    expect(parse({ overlapHours: 1, quietMinutes: 5, closeWhenQuiet: true })).toEqual({
      overlapHours: 1,
      quietMinutes: 5,
      closeWhenQuiet: true,
    });
    expect(parse({ overlapHours: 1, quietMinutes: 10_080 }).quietMinutes).toBe(10_080);
    const refused = (body: unknown) => {
      try {
        parse(body);
      } catch (error) {
        expect(error).toBeInstanceOf(ApiError);
        return ((error as ApiError).extensions as { errors: Array<{ path: string }> }).errors.map((e) => e.path);
      }
      throw new Error(`accepted ${JSON.stringify(body)}`);
    };
    expect(refused({ overlapHours: 1, quietMinutes: 4 })).toEqual(['quietMinutes']);
    expect(refused({ overlapHours: 1, quietMinutes: 10_081 })).toEqual(['quietMinutes']);
    expect(refused({ overlapHours: 1, quietMinutes: 30.5 })).toEqual(['quietMinutes']);
    expect(refused({ overlapHours: 1, closeWhenQuiet: 'yes' })).toEqual(['closeWhenQuiet']);
    expect(refused({ overlapHours: 0, closeWhenQuiet: true, quietMinutes: 60 })).toEqual(['quietMinutes', 'closeWhenQuiet']);
    expect(refused({ overlapHours: 0, closeWhenQuiet: false })).toEqual(['closeWhenQuiet']);
  });

  it('are taken by the request flow (roll-key) as by the route', async () => {
    const { services, old, events } = await setup();
    const outcome = await services.useCases.requests.submit(
      'acme',
      { action: 'roll-key', params: { keyId: old.metadata.id, overlapHours: 12, quietMinutes: 20, closeWhenQuiet: true } },
      op(),
    );
    trackSecret(outcome.issued!.key);
    expect(outcome.request).toMatchObject({ status: 'executed', result: { rollout: { quietMinutes: 20, closeWhenQuiet: true } } });
    expect(events('key.rolled')[0]!.details).toMatchObject({ overlapHours: 12, quietMinutes: 20, closeWhenQuiet: true });
  });
});
