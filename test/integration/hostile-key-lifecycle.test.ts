import { TableExpirySchedule } from '../../shared/adapters/table/table-expiry-schedule';
import { TableGraceSchedule } from '../../shared/adapters/table/table-grace-schedule';
import { TableKeyRepository } from '../../shared/adapters/table/table-key-repository';
import type { ServiceContext } from '../../app/context';
import { problemOf, serveApp } from '../support/http';
import { portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { customerWithKey, testServices } from '../support/services';
import { SteppingClock } from '../support/stepping-clock';

const HOUR = 3_600_000;

interface KeyBody {
  id: string;
  status: string;
  expiresAt: string | null;
  allowedIps: string[] | null;
  revokedReason: string | null;
}
interface Listing {
  activeKeyCount: number;
  keyLimit: number;
  keys: KeyBody[];
}

/** The same instant written with another UTC offset (`+14:00`, `-05:00`), as a client may send it. */
function withOffset(iso: string, offsetMinutes: number): string {
  const local = new Date(Date.parse(iso) + offsetMinutes * 60_000).toISOString().slice(0, 19);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/**
 * The key lifecycle as an attacker or a careless customer would use it (issue 24, items 2, 3, 8
 * and 9), against real Azurite and the local host on a clock moved by hand. Each case failed on
 * the code before its fix.
 */
describe('hostile key lifecycle: the cap, a management key, expiry and time zones', () => {
  let clock: SteppingClock;
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;

  const whoami = (key: string) => app.fetch('/v1/whoami', { headers: { 'x-api-key': key } });
  const codeOf = async (response: Response) => (response.status < 300 ? 'ok' : (await problemOf(response)).code);
  const admin = (slug: string) => portalToken(services, { customer: slug, roles: ['CustomerAdmin'] });
  /** A call with a portal token or (`vp_cust_…`) a management key. */
  const call = async (credential: string, method: string, path: string, body?: unknown) =>
    app.fetch(path, {
      method,
      headers: {
        ...(credential.startsWith('vp_cust_') ? { 'x-api-key': credential } : { authorization: `Bearer ${credential}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const roll = (token: string, keyId: string, overlapHours: number) =>
    call(token, 'POST', `/v1/customer-keys/${keyId}/roll`, { overlapHours });
  const issue = (token: string, label: string, extra: Record<string, unknown> = {}) =>
    call(token, 'POST', '/v1/customer-keys/issue', { label, application: 'hostile', ...extra });
  const patch = (credential: string, keyId: string, body: Record<string, unknown>) =>
    call(credential, 'PATCH', `/v1/customer-keys/${keyId}`, body);
  const listing = async (token: string) => (await (await call(token, 'GET', '/v1/customer-keys')).json()) as Listing;
  /** The key value of a 201 (tracked so no log may show it), or the error code. */
  const outcome = async (response: Response): Promise<{ code: string; key?: string; id?: string; old?: KeyBody }> => {
    if (response.status !== 201) return { code: (await problemOf(response)).code };
    const body = (await response.json()) as { key: string; metadata: { id: string }; old?: KeyBody };
    trackSecret(body.key);
    return { code: 'created', key: body.key, id: body.metadata.id, ...(body.old ? { old: body.old } : {}) };
  };

  /**
   * What holds at every step: the keys that authenticate are within the cap, and the listing
   * counts exactly them (its count, and the keys it lists as active).
   */
  async function expectWithinCap(token: string, keys: string[]): Promise<number> {
    await services.revocations.poll();
    const codes = await Promise.all(keys.map(async (k) => codeOf(await whoami(k))));
    const working = codes.filter((c) => c === 'ok').length;
    const listed = await listing(token);
    expect(working).toBeLessThanOrEqual(listed.keyLimit);
    expect({ activeKeyCount: listed.activeKeyCount, listedActive: listed.keys.filter((k) => k.status === 'active').length }).toEqual({
      activeKeyCount: working,
      listedActive: working,
    });
    return working;
  }

  beforeAll(async () => {
    clock = new SteppingClock();
    services = testServices({}, { clock });
    await services.revocations.poll();
    app = await serveApp(services, { timers: false }); // the tests run the timers themselves, on the moved clock
  });
  afterAll(async () => {
    await app?.close();
    await services?.dispose();
  });

  describe('item 2: rolling never makes more working keys than the plan pays for', () => {
    it('a chain of rolls on a starter customer (cap 2): the successor cannot be rolled while its predecessor rolls out', async () => {
      const { customer, key, keyId } = await customerWithKey(services, { plan: 'starter', label: 'chain' });
      const token = await admin(customer.slug);
      const values = [key];
      let latest = keyId;
      const codes: string[] = [];
      for (let i = 0; i < 10; i++) {
        const rolled = await outcome(await roll(token, latest, 24));
        codes.push(rolled.code);
        if (rolled.key) values.push(rolled.key);
        if (rolled.id) latest = rolled.id;
        await expectWithinCap(token, values);
      }
      expect(codes).toEqual(['created', ...Array(9).fill('key_rolling_out')]);
      // Nor can a third key come in beside the pair.
      expect((await outcome(await issue(token, 'extra'))).code).toBe('key_limit_reached');
      expect(await expectWithinCap(token, values)).toBe(2);
    });

    it('revoking the successor frees only its own place: the key rolling out still holds one', async () => {
      const { customer, key, keyId } = await customerWithKey(services, { plan: 'starter', label: 'pair' });
      const token = await admin(customer.slug);
      const rolled = await outcome(await roll(token, keyId, 24));
      expect(rolled.code).toBe('created');
      expect((await call(token, 'DELETE', `/v1/customer-keys/${rolled.id!}`)).status).toBe(204);
      const values = [key, rolled.key!];
      expect(await expectWithinCap(token, values)).toBe(1);
      const issued = [await outcome(await issue(token, 'after-1')), await outcome(await issue(token, 'after-2'))];
      expect(issued.map((i) => i.code)).toEqual(['created', 'key_limit_reached']);
      values.push(...issued.flatMap((i) => (i.key ? [i.key] : [])));
      expect(await expectWithinCap(token, values)).toBe(2);
    });

    it('at the cap a roll with an overlap is 409 key_limit_reached, one without replaces at once; a stopped predecessor frees its place before the timer runs', async () => {
      const { customer, key, keyId } = await customerWithKey(services, { plan: 'starter', label: 'full-a' });
      const token = await admin(customer.slug);
      const second = await outcome(await issue(token, 'full-b'));
      const values = [key, second.key!];
      const refused = await roll(token, keyId, 24);
      expect(refused.status).toBe(409);
      const problem = await problemOf(refused);
      expect(problem.code).toBe('key_limit_reached');
      expect(problem.detail).toMatch(/overlapHours 0/);
      expect(await expectWithinCap(token, values)).toBe(2);

      const atOnce = await outcome(await roll(token, keyId, 0));
      expect(atOnce.code).toBe('created');
      expect(atOnce.old).toMatchObject({ status: 'revoked', revokedReason: 'rolled' });
      values.push(atOnce.key!);
      expect(await codeOf(await whoami(key))).toBe('api_key_invalid');
      expect(await expectWithinCap(token, values)).toBe(2);

      // Free a place, roll with an overlap, and let the overlap end (the timer does not run here).
      expect((await call(token, 'DELETE', `/v1/customer-keys/${second.id!}`)).status).toBe(204);
      const overlapping = await outcome(await roll(token, atOnce.id!, 1));
      expect(overlapping.code).toBe('created');
      values.push(overlapping.key!);
      expect(await expectWithinCap(token, values)).toBe(2);
      expect((await outcome(await roll(token, overlapping.id!, 1))).code).toBe('key_rolling_out');
      clock.moveTo(overlapping.old!.expiresAt!);
      expect(await codeOf(await whoami(atOnce.key!))).toBe('api_key_expired');
      // The listing counts what authenticates; the successor can now be rolled (the stopped key gave its place back).
      expect(await expectWithinCap(token, values)).toBe(1);
      const next = await outcome(await roll(token, overlapping.id!, 1));
      expect(next.code).toBe('created');
      values.push(next.key!);
      expect(await expectWithinCap(token, values)).toBe(2);
    });

    it('under concurrency: rolls of every key and issues at once never pass the cap, and the count stays exact', async () => {
      const { customer, key, keyId } = await customerWithKey(services, { plan: 'pro', label: 'race-0' });
      const token = await admin(customer.slug);
      const others = [await outcome(await issue(token, 'race-1')), await outcome(await issue(token, 'race-2'))];
      const ids = [keyId, ...others.map((o) => o.id!)];
      const values = [key, ...others.map((o) => o.key!)];
      const limit = (await listing(token)).keyLimit;
      expect(limit).toBe(5);
      const results = await Promise.all([
        ...ids.flatMap((id) => Array.from({ length: 5 }, () => roll(token, id, 24).then(outcome))),
        ...Array.from({ length: 4 }, (_, i) => issue(token, `race-new-${i}`).then(outcome)),
      ]);
      values.push(...results.flatMap((r) => (r.key ? [r.key] : [])));
      expect(results.filter((r) => r.code === 'created').length).toBe(2);
      for (const r of results) expect(['created', 'key_rolling_out', 'key_limit_reached']).toContain(r.code);
      expect(await expectWithinCap(token, values)).toBe(5);

      // When the overlaps end the timer stops the old keys and gives their places back.
      clock.forward(25 * HOUR);
      await services.useCases.revocation.expireDue();
      const working = await expectWithinCap(token, values);
      expect((await services.useCases.customers.require(customer.slug)).activeKeyCount).toBe(working);
    });
  });

  describe('item 3: a management key may narrow a management key’s limits, never loosen them', () => {
    it('refuses a later or cleared expiry and a wider or cleared allowlist with 403 forbidden, on itself and on another management key', async () => {
      const { customer, keyId: ingestId } = await customerWithKey(services, { plan: 'enterprise', label: 'ingest' });
      const token = await admin(customer.slug);
      const inHour = new Date(clock.millis() + HOUR).toISOString();
      const management = await outcome(
        await issue(token, 'ops', { type: 'management', expiresAt: inHour, allowedIps: ['127.0.0.0/8', '::1'] }),
      );
      const other = await outcome(await issue(token, 'ops-2', { type: 'management', expiresAt: inHour, allowedIps: ['10.0.0.0/8'] }));
      const self = management.key!;

      const widening: Array<[string, Record<string, unknown>]> = [
        [management.id!, { expiresAt: new Date(clock.millis() + 360 * 24 * HOUR).toISOString() }],
        [management.id!, { expiresAt: null }],
        [management.id!, { allowedIps: null }],
        [management.id!, { allowedIps: [] }],
        [management.id!, { allowedIps: ['127.0.0.0/8', '::1', '192.0.2.1'] }],
        [management.id!, { allowedIps: ['0.0.0.0/0'] }],
        [other.id!, { expiresAt: null }],
        [other.id!, { allowedIps: null }],
        [other.id!, { allowedIps: ['10.0.0.0/7'] }],
        [other.id!, { allowedIps: ['10.1.0.0/16', '11.0.0.0/24'] }],
        [other.id!, { expiresAt: new Date(clock.millis() + 2 * HOUR).toISOString() }],
      ];
      for (const [id, body] of widening) {
        const response = await patch(self, id, body);
        expect({ id, body, status: response.status, code: (await problemOf(response)).code }).toEqual({
          id,
          body,
          status: 403,
          code: 'forbidden',
        });
      }
      const keys = (await listing(token)).keys;
      expect(keys.find((k) => k.id === management.id)).toMatchObject({ expiresAt: inHour, allowedIps: ['127.0.0.0/8', '::1'] });
      expect(keys.find((k) => k.id === other.id)).toMatchObject({ expiresAt: inHour, allowedIps: ['10.0.0.0/8'] });

      // Narrowing is allowed: an earlier expiry, an allowlist within the current one.
      const sooner = new Date(clock.millis() + HOUR / 2).toISOString();
      expect((await patch(self, management.id!, { expiresAt: sooner, allowedIps: ['127.0.0.1', '::1'] })).status).toBe(200);
      expect((await patch(self, other.id!, { allowedIps: ['10.1.0.0/16', '10.2.3.4'] })).status).toBe(200);
      expect(await codeOf(await whoami(self))).toBe('ok');
      // A portal admin may loosen them; a management key still administers ingest keys as before.
      expect((await patch(token, management.id!, { expiresAt: null, allowedIps: null })).status).toBe(200);
      expect((await patch(self, ingestId, { allowedIps: ['198.51.100.0/24'] })).status).toBe(200);
      expect((await patch(self, ingestId, { allowedIps: null })).status).toBe(200);
    });
  });

  describe('item 8: an expired key cannot be rolled', () => {
    it('between the expiry and the timer, roll (and PATCH) answer 409 key_expired and make no key', async () => {
      const { customer } = await customerWithKey(services, { label: 'keeper' });
      const token = await admin(customer.slug);
      const at = new Date(clock.millis() + 120_000).toISOString();
      const short = await outcome(await issue(token, 'short-lived', { expiresAt: at }));
      const before = (await listing(token)).keys.length;
      clock.moveTo(at, 1000); // the timer does not run (nor does the listing, which would retire it)
      for (const response of [
        await roll(token, short.id!, 24),
        await roll(token, short.id!, 0),
        await patch(token, short.id!, { expiresAt: null }),
      ]) {
        expect(response.status).toBe(409);
        expect((await problemOf(response)).code).toBe('key_expired');
      }
      expect(await codeOf(await whoami(short.key!))).toBe('api_key_expired');
      const after = (await listing(token)).keys;
      expect(after).toHaveLength(before);
      expect(after.find((k) => k.id === short.id)).toMatchObject({ status: 'revoked', revokedReason: 'expired' });
    });
  });

  describe('item 9: every timestamp is an instant, whatever offset it was written with', () => {
    it('stores an expiry sent as +14:00 (or -05:00) as its UTC instant, and the timer retires it at that instant', async () => {
      const { customer } = await customerWithKey(services, { label: 'zones' });
      const token = await admin(customer.slug);
      const at = new Date(Math.ceil((clock.millis() + 10 * 60_000) / 1000) * 1000).toISOString();
      const east = await outcome(await issue(token, 'east', { expiresAt: withOffset(at, 14 * 60) }));
      const utc = await outcome(await issue(token, 'utc', { expiresAt: at }));
      const west = await outcome(await issue(token, 'west'));
      const patched = await patch(token, west.id!, { expiresAt: withOffset(at, -5 * 60) });
      expect(patched.status).toBe(200);
      expect(((await patched.json()) as KeyBody).expiresAt).toBe(at);
      // The records as stored (KeyService.list would retire expired keys itself: only the timer may here).
      const records = new TableKeyRepository(services.storage);
      const stored = (await records.list(customer.slug)).filter((k) => [east.id, utc.id, west.id].includes(k.id));
      expect(stored.map((k) => k.expiresAt)).toEqual([at, at, at]);

      clock.moveTo(at, -1000);
      await services.useCases.revocation.expireDue();
      expect((await records.list(customer.slug)).filter((k) => k.status === 'revoked')).toHaveLength(0);
      clock.moveTo(at);
      await services.useCases.revocation.expireDue();
      const after = await records.list(customer.slug);
      expect(after.filter((k) => [east.id, utc.id, west.id].includes(k.id)).map((k) => [k.status, k.revokedReason])).toEqual([
        ['revoked', 'expired'],
        ['revoked', 'expired'],
        ['revoked', 'expired'],
      ]);
    });

    it('orders the schedules by instant: an entry written with an offset is due at its instant, not by its text', async () => {
      const expiries = new TableExpirySchedule(services.storage);
      const grace = new TableGraceSchedule(services.storage);
      const slug = `zones-${clock.millis()}`;
      const at = new Date(Math.ceil((clock.millis() + HOUR) / 1000) * 1000).toISOString();
      const later = new Date(Date.parse(at) + 60_000).toISOString();
      await expiries.add({ customerSlug: slug, keyId: 'key_east', expiresAt: withOffset(at, 14 * 60) });
      await expiries.add({ customerSlug: slug, keyId: 'key_west', expiresAt: withOffset(later, -5 * 60) });
      await grace.add({ customerSlug: slug, version: 'v-east', endsAt: withOffset(at, 14 * 60) });
      const mine = <E extends { customerSlug: string }>(entries: E[]) => entries.filter((e) => e.customerSlug === slug);
      expect(mine(await expiries.due(new Date(Date.parse(at) - 1)))).toEqual([]);
      expect(mine(await expiries.due(new Date(at))).map((e) => e.keyId)).toEqual(['key_east']);
      expect(mine(await grace.due(new Date(at))).map((e) => e.version)).toEqual(['v-east']);
      expect(mine(await expiries.due(new Date(later))).map((e) => e.keyId)).toEqual(['key_east', 'key_west']);
      for (const entry of mine(await expiries.due(new Date(later)))) await expiries.remove(entry);
      expect(mine(await expiries.due(new Date(later)))).toEqual([]);
    });
  });
});
