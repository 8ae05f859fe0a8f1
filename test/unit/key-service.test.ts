import type { Operation } from '../../shared/domain';
import { ApiError } from '../../shared/errors';
import { memoryServices } from '../support/memory-services';
import { op } from '../support/portal';

/**
 * KeyService's rules on the in-memory fakes (no storage): the cap, labels and the last active
 * key at issue and revoke; a roll's overlap and what stops one; who may loosen a management
 * key's access; a reset. The Table adapters' side of the same rules is in the integration tests.
 */

const HOUR = 3_600_000;

/** As the door hands it: an operation made with a key of this customer. */
const byKey = (keyId: string): Operation => ({ actor: { type: 'key', id: keyId, name: 'ops' }, requestId: 'req-key' });

async function setup(plan: 'starter' | 'pro' = 'pro') {
  const env = memoryServices();
  await env.services.useCases.customers.create({ slug: 'acme', name: 'Acme', plan });
  const issue = (label: string, extra: Record<string, unknown> = {}, operation = op()) =>
    env.services.useCases.keys.issue('acme', { label, application: 'web', ...extra }, operation);
  // Key events are written with the key's own write (in one batch on Table Storage): the fake keeps them with its keys.
  const events = async (type: string) => env.repositories.keys.audit.filter((e) => e.type === type);
  return { ...env, keys: env.services.useCases.keys, issue, events };
}

/** The ApiError a call fails with (the test fails when it does not). */
async function failure(call: Promise<unknown>): Promise<ApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe('KeyService.issue', () => {
  it('refuses a key over the plan cap (key_limit_reached, naming the cap) and issues again once one is revoked', async () => {
    const { issue, keys } = await setup('starter'); // starter: 2 active keys
    const first = await issue('one');
    await issue('two');
    const over = await failure(issue('three'));
    expect(over.code).toBe('key_limit_reached');
    expect(over.extensions).toEqual({ keyLimit: 2 });
    await keys.revoke('acme', first.metadata.id, op());
    expect((await issue('three')).metadata.status).toBe('active');
  });

  it('refuses a label an active key holds (label_taken), and frees it when that key is revoked', async () => {
    const { issue, keys } = await setup();
    const first = await issue('checkout-ci');
    await issue('spare');
    const taken = await failure(issue('checkout-ci'));
    expect(taken.code).toBe('label_taken');
    expect(taken.extensions).toEqual({ label: 'checkout-ci' });
    await keys.revoke('acme', first.metadata.id, op());
    expect((await issue('checkout-ci')).metadata.label).toBe('checkout-ci');
  });

  it('applies the issue defaults (secondary, live) to a key whose input names none, and a management key cannot issue a management key', async () => {
    const { issue } = await setup();
    const issued = await issue('defaults');
    expect(issued.metadata).toMatchObject({ type: 'secondary', environment: 'live', status: 'active' });
    expect(issued.key.startsWith('vp_cust_acme.')).toBe(true);
    const management = await issue('ops', { type: 'management' });
    expect((await failure(issue('successor', { type: 'management' }, byKey(management.metadata.id)))).code).toBe('forbidden');
    expect((await issue('ingest', {}, byKey(management.metadata.id))).metadata.type).toBe('secondary');
  });
});

describe('KeyService.revoke', () => {
  it('refuses the last active key (last_active_key) unless forced; forced, the audit event says so', async () => {
    const { issue, keys, events } = await setup();
    const only = await issue('only');
    expect((await failure(keys.revoke('acme', only.metadata.id, op()))).code).toBe('last_active_key');
    expect((await keys.list('acme'))[0]!.status).toBe('active');
    const revoked = await keys.revoke('acme', only.metadata.id, op(), { force: true });
    expect(revoked.status).toBe('revoked');
    expect((await events('key.revoked')).map((e) => e.details)).toEqual([
      { label: 'only', application: 'web', displayPrefix: only.metadata.displayPrefix, forced: true },
    ]);
  });

  it('is idempotent: revoking a revoked key answers the same key and writes no second event', async () => {
    const { issue, keys, events, clock } = await setup();
    const key = await issue('twice');
    await issue('spare');
    const first = await keys.revoke('acme', key.metadata.id, op());
    clock.advance(60_000);
    const second = await keys.revoke('acme', key.metadata.id, op());
    expect(second).toEqual(first);
    expect(second.revokedAt).toBe('2026-03-01T12:00:00.000Z');
    expect(await events('key.revoked')).toHaveLength(1);
  });
});

describe('KeyService.roll', () => {
  it('with an overlap: a successor now, the old key active until the overlap ends and linked to it; both count', async () => {
    const { issue, keys, clock } = await setup();
    const old = await issue('payments', { allowedIps: ['203.0.113.0/24'] });
    const rolled = await keys.roll('acme', old.metadata.id, { overlapHours: 24 }, op());
    expect(rolled.old).toMatchObject({
      id: old.metadata.id,
      status: 'active',
      rolledTo: rolled.metadata.id,
      expiresAt: new Date(clock.millis() + 24 * HOUR).toISOString(),
    });
    expect(rolled.metadata).toMatchObject({
      label: 'payments',
      allowedIps: ['203.0.113.0/24'],
      rolledFrom: old.metadata.id,
      status: 'active',
    });
    expect(rolled.key).not.toBe(old.key);
    expect((await keys.list('acme')).filter((k) => k.status === 'active')).toHaveLength(2);
  });

  it('without an overlap: the old key stops at once (revoked, reason rolled)', async () => {
    const { issue, keys } = await setup();
    const old = await issue('payments');
    const rolled = await keys.roll('acme', old.metadata.id, { overlapHours: 0 }, op());
    expect(rolled.old).toMatchObject({ status: 'revoked', revokedReason: 'rolled', rolledTo: rolled.metadata.id });
    expect((await keys.list('acme')).filter((k) => k.status === 'active').map((k) => k.id)).toEqual([rolled.metadata.id]);
  });

  it('refuses a key already rolling out, and its successor while it rolls out (key_rolling_out)', async () => {
    const { issue, keys } = await setup();
    const old = await issue('payments');
    const rolled = await keys.roll('acme', old.metadata.id, { overlapHours: 24 }, op());
    const again = await failure(keys.roll('acme', old.metadata.id, { overlapHours: 24 }, op()));
    expect(again.code).toBe('key_rolling_out');
    expect(again.extensions).toEqual({ rolledTo: rolled.metadata.id });
    const successor = await failure(keys.roll('acme', rolled.metadata.id, { overlapHours: 1 }, op()));
    expect(successor.code).toBe('key_rolling_out');
    expect(successor.extensions).toMatchObject({ rolledFrom: old.metadata.id });
  });

  it('refuses a key past its expiry (key_expired), before the timer has revoked it', async () => {
    const { issue, keys, clock } = await setup();
    const key = await issue('short', { expiresAt: new Date(clock.millis() + HOUR).toISOString() });
    clock.advance(2 * HOUR);
    expect((await failure(keys.roll('acme', key.metadata.id, { overlapHours: 1 }, op()))).code).toBe('key_expired');
  });
});

describe('KeyService.updateAccess', () => {
  it("lets a management key only narrow a management key's allowlist and expiry; a portal admin may loosen them", async () => {
    const { issue, keys, clock } = await setup();
    const expiresAt = new Date(clock.millis() + 48 * HOUR).toISOString();
    const target = await issue('ops', { type: 'management', allowedIps: ['10.0.0.0/8'], expiresAt });
    const actor = byKey(target.metadata.id);
    const narrowed = await keys.updateAccess('acme', target.metadata.id, { allowedIps: ['10.1.0.0/16'] }, actor);
    expect(narrowed.allowedIps).toEqual(['10.1.0.0/16']);
    const sooner = new Date(clock.millis() + 24 * HOUR).toISOString();
    expect((await keys.updateAccess('acme', target.metadata.id, { expiresAt: sooner }, actor)).expiresAt).toBe(sooner);
    for (const loosening of [{ allowedIps: ['192.0.2.0/24'] }, { allowedIps: null }, { expiresAt: null }, { expiresAt }]) {
      expect((await failure(keys.updateAccess('acme', target.metadata.id, loosening, actor))).code).toBe('forbidden');
    }
    const loosened = await keys.updateAccess('acme', target.metadata.id, { allowedIps: null, expiresAt: null }, op());
    expect(loosened.allowedIps).toBeUndefined();
    expect(loosened.expiresAt).toBeUndefined();
  });

  it('lets a management key loosen an ingest key (the narrowing rule guards management keys)', async () => {
    const { issue, keys } = await setup();
    const management = await issue('ops', { type: 'management' });
    const ingest = await issue('ingest', { allowedIps: ['10.0.0.0/8'] });
    const updated = await keys.updateAccess('acme', ingest.metadata.id, { allowedIps: null }, byKey(management.metadata.id));
    expect(updated.allowedIps).toBeUndefined();
  });
});

describe('KeyService.reset', () => {
  it('replaces every active key with a new one of the same label and type; the old ones are revoked', async () => {
    const { issue, keys, events } = await setup();
    const ingest = await issue('ingest');
    const management = await issue('ops', { type: 'management' });
    const result = await keys.reset('acme', op());
    expect(result.replaced.map((r) => r.oldKeyId).sort()).toEqual([ingest.metadata.id, management.metadata.id].sort());
    expect(result.keys.map((k) => [k.metadata.label, k.metadata.type]).sort()).toEqual([
      ['ingest', 'secondary'],
      ['ops', 'management'],
    ]);
    const listed = await keys.list('acme');
    expect(
      listed
        .filter((k) => k.status === 'active')
        .map((k) => k.id)
        .sort(),
    ).toEqual(result.keys.map((k) => k.metadata.id).sort());
    expect(await events('key.reset')).toHaveLength(2);
  });

  it('called with a management key, replaces the ingest keys only', async () => {
    const { issue, keys } = await setup();
    const ingest = await issue('ingest');
    const management = await issue('ops', { type: 'management' });
    const result = await keys.reset('acme', byKey(management.metadata.id));
    expect(result.replaced.map((r) => r.oldKeyId)).toEqual([ingest.metadata.id]);
    const listed = await keys.list('acme');
    expect(listed.find((k) => k.id === management.metadata.id)?.status).toBe('active');
  });
});
