import { AUDIT_EVENT_TYPES, WEBHOOK_EVENT_TYPES, type AuditEvent } from '../../shared/domain';
import { idPattern } from '../../shared/ids';
import {
  derivedEventId,
  keysToLookUp,
  revocationReason,
  testEvent,
  webhookEventsOf,
  type WebhookEventBody,
} from '../../shared/webhooks/events';
import { silentLogger } from '../../shared/logging';
import { AuditTrail } from '../../shared/services/audit-trail';
import { KeyExpiry } from '../../shared/services/key-expiry';
import { memoryServices } from '../support/memory-services';
import { op } from '../support/portal';

/**
 * The event catalogue (shared/webhooks/events.ts): what each audit event becomes as webhooks. The
 * audit events are made by the real services on the in-memory fakes, along every path that
 * changes a key, so a path that records its event differently (a revocation without its reason, a
 * key without its application) shows here.
 */

const DAY = 86_400_000;
const HOUR = 3_600_000;

async function setup(slug = 'acme') {
  const env = memoryServices();
  const { services, repositories, clock } = env;
  await services.useCases.customers.create({ slug, name: 'Acme', plan: 'enterprise' });
  const issue = (label: string, extra: Record<string, unknown> = {}) =>
    services.useCases.keys.issue(slug, { label, application: `app-${label}`, ...extra }, op());
  /** The customer's audit events since `mark`, oldest first, and the webhooks they become. */
  const since = (mark: number) => {
    const events = repositories.audit.events.filter((e) => e.customerSlug === slug).slice(mark);
    return { events, webhooks: events.flatMap((e) => webhookEventsOf(e)) };
  };
  const mark = () => repositories.audit.events.filter((e) => e.customerSlug === slug).length;
  return { ...env, slug, use: services.useCases, issue, since, mark, clock };
}

/** Every body names no secret: no key value, no secret hash, nothing shaped like either. */
function expectNoSecrets(bodies: WebhookEventBody[], secrets: string[]): void {
  const text = JSON.stringify(bodies);
  for (const secret of secrets) expect(text).not.toContain(secret);
  expect(text).not.toMatch(/secretHash|"hash"|vp_cust_[a-z0-9-]+\.[A-Za-z0-9]{20,}/);
}

describe('webhook events from audit events: keys', () => {
  it('key.issued and key.updated name the key (id, label, application, display prefix) and what changed', async () => {
    const { issue, use, slug, since, mark } = await setup();
    const start = mark();
    const issued = await issue('ci', { expiresAt: '2026-03-20T00:00:00.000Z', type: 'primary' });
    await use.keys.updateAccess(slug, issued.metadata.id, { allowedIps: ['198.51.100.0/24'] }, op());
    const { events, webhooks } = since(start);
    const key = { id: issued.metadata.id, label: 'ci', application: 'app-ci', displayPrefix: issued.metadata.displayPrefix };
    expect(webhooks).toEqual([
      {
        id: events[0]!.id,
        type: 'key.issued',
        createdAt: events[0]!.at,
        customer: { slug },
        data: { key: { ...key, type: 'primary', environment: 'live', expiresAt: '2026-03-20T00:00:00.000Z' } },
      },
      {
        id: events[1]!.id,
        type: 'key.updated',
        createdAt: events[1]!.at,
        customer: { slug },
        data: {
          key,
          before: { expiresAt: '2026-03-20T00:00:00.000Z', allowedIps: [] },
          after: { expiresAt: '2026-03-20T00:00:00.000Z', allowedIps: ['198.51.100.0/24'] },
        },
      },
    ]);
    expectNoSecrets(webhooks, [issued.key, issued.key.split('.').at(-1)!]);
  });

  it('key.revoked gives each revocation path its reason: admin, roll, expiry, reset, exposure, stale', async () => {
    const { issue, use, slug, since, mark, clock, services } = await setup();
    const secrets: string[] = [];
    const reasons = async (action: () => Promise<unknown>) => {
      const start = mark();
      await action();
      return since(start)
        .webhooks.filter((w) => w.type === 'key.revoked')
        .map((w) => [(w.data.key as { label: string }).label, w.data.reason]);
    };
    const keep = await issue('keep'); // the last active key is never revoked without force
    secrets.push(keep.key);

    const admin = await issue('admin');
    expect(await reasons(() => use.keys.revoke(slug, admin.metadata.id, op()))).toEqual([['admin', 'admin']]);

    const atOnce = await issue('at-once');
    expect(await reasons(() => use.keys.roll(slug, atOnce.metadata.id, { overlapHours: 0 }, op()))).toEqual([['at-once', 'roll']]);

    // A roll with an overlap: the old key stops at the overlap's end, through its expiry, for the roll.
    const overlap = await issue('overlap');
    expect(await reasons(() => use.keys.roll(slug, overlap.metadata.id, { overlapHours: 1 }, op()))).toEqual([]);
    const plain = await issue('expires', { expiresAt: new Date(clock.millis() + 2 * HOUR).toISOString() });
    clock.advance(3 * HOUR);
    expect((await reasons(() => use.revocation.expireDue())).sort()).toEqual([
      ['expires', 'expiry'],
      ['overlap', 'roll'],
    ]);
    secrets.push(plain.key);

    // A reset replaces every active key: each old one revoked (reset), a new one issued in its place.
    const start = mark();
    const reset = await use.keys.reset(slug, op());
    const resetHooks = since(start).webhooks;
    expect(resetHooks.filter((w) => w.type === 'key.revoked').map((w) => w.data.reason)).toEqual(reset.replaced.map(() => 'reset'));
    expect(resetHooks.filter((w) => w.type === 'key.issued').map((w) => (w.data.key as { id: string }).id)).toEqual(
      reset.keys.map((k) => k.metadata.id),
    );
    expect(resetHooks.find((w) => w.type === 'key.revoked')!.data).toMatchObject({
      key: { id: reset.replaced[0]!.oldKeyId, label: expect.any(String), displayPrefix: expect.stringMatching(/^vp_cust_acme\./) },
      replacedBy: reset.replaced[0]!.newKeyId,
    });
    secrets.push(...reset.keys.map((k) => k.key));

    // Found in public: GitHub secret scanning's report revokes it (the customer's default policy).
    const leaked = reset.keys[0]!;
    const exposed = await (async () => {
      const from = mark();
      await use.leaks.handleGitHubReport(
        [{ token: leaked.key, type: 'veriproof_key', url: 'https://github.com/acme/app/blob/main/.env', source: 'content' }],
        'req-scan',
      );
      return since(from).webhooks;
    })();
    expect(exposed.map((w) => [w.type, w.data.reason ?? null])).toEqual([
      ['key.revoked', 'exposure'],
      ['key.exposed', null],
    ]);
    expect(exposed[1]!.data).toMatchObject({
      key: { id: leaked.metadata.id, application: leaked.metadata.application, displayPrefix: leaked.metadata.displayPrefix },
      url: 'https://github.com/acme/app/blob/main/.env',
      source: 'content',
      action: 'revoked',
    });

    // The daily review, with the staff switch on: stale keys revoked (never the last active one).
    await use.staff.updateCustomer(slug, { autoRevokeStaleKeys: true }, op());
    clock.advance(31 * DAY);
    await services.revocations.poll();
    const stale = await (async () => {
      const from = mark();
      await use.staleKeys.run();
      return since(from).webhooks;
    })();
    const staleRevocations = stale.filter((w) => w.type === 'key.revoked');
    expect(staleRevocations.length).toBeGreaterThan(0);
    expect(staleRevocations.every((w) => w.data.reason === 'stale')).toBe(true);
    expectNoSecrets([...resetHooks, ...exposed, ...stale], secrets);
  });

  it('key.rolled names the old key and its successor; a reset makes key.revoked and key.issued with ids of their own', async () => {
    const { issue, use, slug, since, mark } = await setup();
    const old = await issue('ci');
    const start = mark();
    const rolled = await use.keys.roll(slug, old.metadata.id, { overlapHours: 24 }, op());
    const [hook] = since(start).webhooks;
    expect(hook).toMatchObject({
      type: 'key.rolled',
      data: {
        key: { id: old.metadata.id, label: 'ci', application: 'app-ci', displayPrefix: old.metadata.displayPrefix },
        newKey: { id: rolled.metadata.id, label: 'ci', application: 'app-ci', displayPrefix: rolled.metadata.displayPrefix },
        overlapHours: 24,
        oldKeyExpiresAt: rolled.old.expiresAt,
      },
    });
    const again = mark();
    await use.keys.reset(slug, op());
    const { events, webhooks } = since(again);
    const resetEvent = events.find((e) => e.type === 'key.reset')!;
    const fromReset = webhookEventsOf(resetEvent);
    expect(fromReset.map((w) => w.type)).toEqual(['key.revoked', 'key.issued']);
    expect(new Set(fromReset.map((w) => w.id)).size).toBe(2);
    for (const w of fromReset) {
      expect(w.id).toMatch(idPattern('evt'));
      expect(w.id).not.toBe(resetEvent.id);
      // Sorted with the audit event: the same time part.
      expect(w.id.slice(0, 14)).toBe(resetEvent.id.slice(0, 14));
    }
    // The same event gives the same ids every time it is dispatched.
    expect(webhookEventsOf(resetEvent).map((w) => w.id)).toEqual(fromReset.map((w) => w.id));
    expect(webhooks.every((w) => w.customer.slug === slug)).toBe(true);
  });

  it('keys.stale becomes one key.stale per key, each with its own stable id', async () => {
    const { issue, use, since, mark, clock, services } = await setup();
    const a = await issue('a');
    const b = await issue('b');
    clock.advance(31 * DAY);
    await services.revocations.poll();
    const start = mark();
    await use.staleKeys.run();
    const { events, webhooks } = since(start);
    const staleEvent = events.find((e) => e.type === 'keys.stale')!;
    const hooks = webhooks.filter((w) => w.type === 'key.stale');
    expect(hooks.map((w) => (w.data.key as { id: string }).id).sort()).toEqual([a.metadata.id, b.metadata.id].sort());
    expect(hooks[0]!.data).toMatchObject({ key: { application: expect.stringMatching(/^app-/) }, autoRevoked: false, lastUsedAt: null });
    expect(new Set(hooks.map((w) => w.id)).size).toBe(2);
    expect(hooks.map((w) => w.id)).toEqual(webhookEventsOf(staleEvent).map((w) => w.id));
  });
});

describe('key.expiring: 7 days and 1 day before a key expires, each recorded once', () => {
  it('records the week warning, then the day warning, once each however often the timer runs', async () => {
    const { issue, use, since, mark, clock, repositories } = await setup();
    const expiresAt = new Date(clock.millis() + 10 * DAY).toISOString();
    const key = await issue('expiring', { expiresAt });
    const start = mark();
    expect(await use.revocation.expiry.warnExpiring()).toBe(0); // 10 days out: nothing yet
    clock.advance(3 * DAY - 1);
    expect(await use.revocation.expiry.warnExpiring()).toBe(0);
    clock.advance(1);
    expect(await use.revocation.expiry.warnExpiring()).toBe(1);
    expect(await use.revocation.expiry.warnExpiring()).toBe(0);
    clock.advance(5 * DAY);
    expect(await use.revocation.expiry.warnExpiring()).toBe(0);
    clock.advance(DAY);
    expect(await use.revocation.expiry.warnExpiring()).toBe(1);
    clock.advance(HOUR);
    expect(await use.revocation.expiry.warnExpiring()).toBe(0);
    const hooks = since(start).webhooks;
    expect(hooks.map((w) => [w.type, w.data.window])).toEqual([
      ['key.expiring', '7d'],
      ['key.expiring', '1d'],
    ]);
    expect(hooks[0]!.data).toMatchObject({
      key: { id: key.metadata.id, label: 'expiring', application: 'app-expiring', displayPrefix: key.metadata.displayPrefix },
      expiresAt,
    });
    // Each is recorded once in storage too: another process (no memory of this one's) records nothing again.
    const elsewhere = new KeyExpiry({
      keys: repositories.keys,
      expiries: repositories.expiries,
      audit: new AuditTrail(repositories.audit, clock),
      clock,
      log: silentLogger,
      stop: async () => undefined,
    });
    expect(await elsewhere.warnExpiring()).toBe(0);
    expect(repositories.audit.events.filter((e) => e.type === 'key.expiring')).toHaveLength(2);
  });

  it('a key given less than a day gets the day warning only; a key rolling out, or whose expiry moved, gets none for the old expiry', async () => {
    const { issue, use, slug, since, mark, clock } = await setup();
    const start = mark();
    await issue('soon', { expiresAt: new Date(clock.millis() + 12 * HOUR).toISOString() });
    const rolling = await issue('rolling');
    await use.keys.roll(slug, rolling.metadata.id, { overlapHours: 48 }, op());
    const moved = await issue('moved', { expiresAt: new Date(clock.millis() + 6 * DAY).toISOString() });
    await use.keys.updateAccess(slug, moved.metadata.id, { expiresAt: new Date(clock.millis() + 30 * DAY).toISOString() }, op());
    expect(await use.revocation.expiry.warnExpiring()).toBe(1);
    expect(
      since(start)
        .webhooks.filter((w) => w.type === 'key.expiring')
        .map((w) => [(w.data.key as { label: string }).label, w.data.window]),
    ).toEqual([['soon', '1d']]);
  });
});

describe('webhook events from audit events: tenant key and key requests', () => {
  it('tenant_key.rotated, tenant_key.grace_ended and key_request.created|executed|rejected', async () => {
    const { use, slug, since, mark } = await setup();
    const start = mark();
    const submitted = await use.requests.submit(slug, { action: 'rotate-tenant-key', params: {} } as never, op());
    await use.requests.rejectById(submitted.request.id, { reason: 'not now' }, op('staff'));
    const second = await use.requests.submit(slug, { action: 'rotate-tenant-key', params: {} } as never, op());
    await use.requests.executeById(second.request.id, {}, op('staff'));
    await use.masterComponents.endGrace(slug, op('staff'));
    const hooks = since(start).webhooks;
    expect(hooks.map((w) => w.type)).toEqual([
      'key_request.created',
      'key_request.rejected',
      'key_request.created',
      'tenant_key.rotated',
      'key_request.executed',
      'tenant_key.grace_ended',
    ]);
    expect(hooks[0]!.data).toEqual({ request: { id: submitted.request.id, action: 'rotate-tenant-key' } });
    expect(hooks[1]!.data).toEqual({ request: { id: submitted.request.id, action: 'rotate-tenant-key' }, reason: 'not now' });
    expect(hooks[3]!.data).toMatchObject({ graceEndsAt: expect.any(String), keyRequestId: second.request.id });
    expect(hooks[4]!.data).toMatchObject({ request: { id: second.request.id, action: 'rotate-tenant-key' }, result: expect.any(Object) });
    expect(hooks[5]!.data).toEqual({ early: true });
  });
});

describe('the catalogue itself', () => {
  const event = (type: AuditEvent['type'], details: Record<string, unknown> = {}, extra: Partial<AuditEvent> = {}): AuditEvent => ({
    id: 'evt_01KBZ0000000000000000000AB',
    customerSlug: 'acme',
    type,
    at: '2026-03-01T12:00:00.000Z',
    actor: { type: 'user', id: 'usr_1', name: 'Ann' },
    requestId: 'req-1',
    ...extra,
    details,
  });

  it('gives every webhook type but the test event and rotation completion a source among the audit types', () => {
    const produced = new Set<string>();
    const samples: AuditEvent[] = AUDIT_EVENT_TYPES.map((type) =>
      event(
        type,
        { keys: [{ id: 'key_01KBZ0000000000000000000AB' }], replacedKeyId: 'key_01KBZ0000000000000000000AC', newKeyId: 'key_x' },
        { keyId: 'key_01KBZ0000000000000000000AD' },
      ),
    );
    for (const sample of samples) for (const w of webhookEventsOf(sample)) produced.add(w.type);
    expect(WEBHOOK_EVENT_TYPES.filter((t) => !produced.has(t)).sort()).toEqual(['key.rotation_completed', 'webhook.test']);
    // Changes customers make to their own settings, staff changes and token traffic are not webhooks.
    for (const type of ['trust_policy.created', 'token.exchanged', 'customer.updated', 'webhook_endpoint.disabled'] as const) {
      expect(webhookEventsOf(event(type))).toEqual([]);
    }
  });

  it('reads the reason of a revocation a crash cut short from who started it', () => {
    const completed = (actorId: string) =>
      revocationReason(
        event('key.revoked', { completedAfterInterruption: true }, { actor: { type: 'system', id: actorId, name: actorId } }),
      );
    expect(completed('key-expiry')).toBe('expiry');
    expect(completed('stale-keys')).toBe('stale');
    expect(completed('github-secret-scanning')).toBe('exposure');
    expect(revocationReason(event('key.revoked', { completedAfterInterruption: true }))).toBe('admin');
  });

  it('fills in key facts an older event lacks from the key, and says which keys it needs', () => {
    const old = event('key.revoked', { label: 'ci' }, { keyId: 'key_01KBZ0000000000000000000AD' });
    expect(keysToLookUp(old)).toEqual(['key_01KBZ0000000000000000000AD']);
    const facts = new Map([
      ['key_01KBZ0000000000000000000AD', { label: 'renamed?', application: 'web', displayPrefix: 'vp_cust_acme.…abcd…wxyz' }],
    ]);
    expect(webhookEventsOf(old, facts)[0]!.data.key).toEqual({
      id: 'key_01KBZ0000000000000000000AD',
      label: 'ci', // the event's own facts first
      application: 'web',
      displayPrefix: 'vp_cust_acme.…abcd…wxyz',
    });
    const complete = event('key.revoked', { label: 'ci', application: 'web', displayPrefix: 'vp_cust_acme.…' }, { keyId: 'key_1' });
    expect(keysToLookUp(complete)).toEqual([]);
  });

  it('derives ids that differ per item and per event, and keep the event time', () => {
    const a = derivedEventId('evt_01KBZ0000000000000000000AB', 'stale:key_1');
    expect(a).toMatch(idPattern('evt'));
    expect(a).toBe(derivedEventId('evt_01KBZ0000000000000000000AB', 'stale:key_1'));
    expect(a).not.toBe(derivedEventId('evt_01KBZ0000000000000000000AB', 'stale:key_2'));
    expect(a).not.toBe(derivedEventId('evt_01KBZ0000000000000000000AC', 'stale:key_1'));
    expect(a.slice(0, 14)).toBe('evt_01KBZ00000');
  });

  it('builds the test event', () => {
    expect(testEvent('acme', 'evt_01KBZ0000000000000000000AB', new Date('2026-03-01T12:00:00.000Z'), 'we_1')).toEqual({
      id: 'evt_01KBZ0000000000000000000AB',
      type: 'webhook.test',
      createdAt: '2026-03-01T12:00:00.000Z',
      customer: { slug: 'acme' },
      data: { endpoint: { id: 'we_1' }, message: expect.any(String) },
    });
  });
});
