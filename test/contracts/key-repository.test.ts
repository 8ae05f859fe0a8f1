import { MemoryCustomerRepository } from '../../shared/adapters/memory/memory-customer-repository';
import { MemoryKeyRepository } from '../../shared/adapters/memory/memory-key-repository';
import { TableCustomerRepository } from '../../shared/adapters/table/table-customer-repository';
import { TableKeyRepository } from '../../shared/adapters/table/table-key-repository';
import { TableStorage } from '../../shared/adapters/table/table-storage';
import type { Config } from '../../shared/config';
import { MAX_KEPT_EXPOSURES, type Actor, type ApiKeyRecord, type Customer, type KeyExposure } from '../../shared/domain';
import type { CustomerRepository } from '../../shared/ports/customer-repository';
import type { KeyAccess, KeyRepository } from '../../shared/ports/key-repository';
import { testConfig, uniquePrefix } from '../support/services';
import { alice, at, auditEvent, bob, customerRecord, storedCustomer, exposure, keyRecord, lookupOf, secretHashOf } from './support/records';

/**
 * The KeyRepository port (shared/ports/key-repository.ts) as its doc comments promise it, run
 * against every adapter: the in-memory fake (over a memory customer repository) and the Table
 * adapter (over the Table customer repository, on Azurite). Every case builds a fresh adapter.
 */
interface Subject {
  keys: KeyRepository;
  customers: CustomerRepository;
}

let tables: Config['tables'] | undefined;

const ADAPTERS: Array<[string, () => Promise<Subject>]> = [
  [
    'memory',
    async () => {
      const customers = new MemoryCustomerRepository();
      return { customers, keys: new MemoryKeyRepository(customers) };
    },
  ],
  [
    'table (Azurite)',
    async () => {
      tables ??= testConfig().tables;
      const storage = new TableStorage({ ...tables, prefix: uniquePrefix() }, { tables: ['customers', 'keyLookup', 'keyHashes'] });
      await storage.ensureTables();
      return { customers: new TableCustomerRepository(storage), keys: new TableKeyRepository(storage) };
    },
  ],
];

describe.each(ADAPTERS)('KeyRepository contract: %s', (_adapter, make) => {
  let s: Subject;
  let customer: Customer;

  beforeEach(async () => {
    s = await make();
    customer = await newCustomer();
  });

  const newCustomer = (overrides: Partial<Customer> = {}): Promise<Customer> => storedCustomer(s.customers, overrides);

  const insert = (record: ApiKeyRecord, limit = 10) =>
    s.keys.insertRecord(record, { keyLimit: () => limit, audit: auditEvent(record.customerSlug, 'key.issued', record.id) });

  /** A key as the service issues it: its record, then its lookup row. */
  async function issue(overrides: Partial<ApiKeyRecord> = {}, owner: Customer = customer): Promise<ApiKeyRecord> {
    const record = keyRecord(owner, overrides);
    expect(await insert(record)).toBe('inserted');
    await s.keys.insertLookup(lookupOf(record, owner));
    return record;
  }

  const revoke = (key: ApiKeyRecord, options: { by?: Actor; when?: string; reason?: string } = {}) =>
    s.keys.markRevoked(key.customerSlug, key.id, {
      revokedBy: options.by ?? bob,
      revokedAt: options.when ?? at(1000),
      audit: auditEvent(key.customerSlug, 'key.revoked', key.id),
      ...(options.reason ? { reason: options.reason } : {}),
    });

  const roll = (old: ApiKeyRecord, successor: ApiKeyRecord, limit = 10, oldExpiresAt = at(5000)) =>
    s.keys.rollRecord(old.customerSlug, old.id, successor, {
      oldExpiresAt: () => oldExpiresAt,
      keyLimit: () => limit,
      audit: auditEvent(old.customerSlug, 'key.rolled', successor.id),
    });

  const successorOf = (old: ApiKeyRecord, owner: Customer = customer) => keyRecord(owner, { label: old.label, rolledFrom: old.id });

  const replace = (old: ApiKeyRecord, replacement: ApiKeyRecord, rolled?: boolean) =>
    s.keys.replaceRecord(old.customerSlug, old.id, replacement, {
      revokedBy: bob,
      audit: [auditEvent(old.customerSlug, 'key.reset', replacement.id), auditEvent(old.customerSlug, 'key.revoked', old.id)],
      ...(rolled ? { rolled } : {}),
    });

  /** The places under the cap the customer's keys hold, as its row counts them. */
  const placesTaken = async (owner: Customer = customer) => (await s.customers.get(owner.slug))!.activeKeyCount;

  const report = (key: ApiKeyRecord, places: KeyExposure[]) =>
    s.keys.recordExposures(key.customerSlug, key.id, places, auditEvent(key.customerSlug, 'key.exposed', key.id));

  describe('insertRecord', () => {
    it('inserts a record that reads back as written and takes a place under the cap', async () => {
      const record = keyRecord(customer, {
        label: 'Production ingest',
        type: 'management',
        environment: 'test',
        expiresAt: at(86_400),
        allowedIps: ['10.0.0.0/8', '2001:db8::1'],
        rateLimit: { requestsPerSecond: 20, burst: 40 },
      });
      expect(await insert(record)).toBe('inserted');
      expect(await s.keys.get(customer.slug, record.id)).toEqual(record);
      expect(await s.keys.list(customer.slug)).toEqual([record]);
      expect(await placesTaken()).toBe(1);
    });

    it('answers customer_missing for a customer that does not exist, and writes nothing', async () => {
      const ghost = customerRecord();
      const record = keyRecord(ghost);
      expect(await insert(record)).toBe('customer_missing');
      expect(await s.keys.get(ghost.slug, record.id)).toBeUndefined();
      expect(await s.keys.list(ghost.slug)).toEqual([]);
    });

    it("answers key_limit_reached once the active keys fill the cap of the customer's current row", async () => {
      await s.customers.update(customer.slug, () => ({ keyLimitOverride: 2 }));
      const limits: Array<[number | undefined, number]> = [];
      const insertUnderOverride = (record: ApiKeyRecord) =>
        s.keys.insertRecord(record, {
          keyLimit: (current) => {
            limits.push([current.keyLimitOverride, current.activeKeyCount]);
            return current.keyLimitOverride ?? 100;
          },
          audit: auditEvent(customer.slug),
        });
      expect(await insertUnderOverride(keyRecord(customer))).toBe('inserted');
      expect(await insertUnderOverride(keyRecord(customer))).toBe('inserted');
      const third = keyRecord(customer);
      expect(await insertUnderOverride(third)).toBe('key_limit_reached');
      expect(await s.keys.get(customer.slug, third.id)).toBeUndefined();
      expect(await placesTaken()).toBe(2);
      // Each time the customer as it stands (its override, its count so far).
      expect(limits).toEqual([
        [2, 0],
        [2, 1],
        [2, 2],
      ]);
    });

    it('answers label_taken for a label an active key of the customer holds, compared as labels normalize', async () => {
      await issue({ label: 'Prod' });
      for (const label of ['Prod', 'prod', '  PROD ', 'ＰＲＯＤ', 'pro\u200Bd']) {
        const clash = keyRecord(customer, { label });
        expect([label, await insert(clash)]).toEqual([label, 'label_taken']);
        expect(await s.keys.get(customer.slug, clash.id)).toBeUndefined();
      }
      expect(await placesTaken()).toBe(1);
      // Another label, or the same label at another customer, is free.
      expect(await insert(keyRecord(customer, { label: 'Prod 2' }))).toBe('inserted');
      expect(await insert(keyRecord(await newCustomer(), { label: 'Prod' }))).toBe('inserted');
    });
  });

  describe('insertLookup, findByHash, deleteLookup', () => {
    it('finds the lookup row by its secret hash, with everything authentication needs', async () => {
      const rotated = await newCustomer({
        plan: 'enterprise',
        componentVersion: 'v2',
        previousComponentVersion: 'v1',
        graceEndsAt: at(3600),
        requireComponent: true,
      });
      const record = keyRecord(rotated, {
        expiresAt: at(7200),
        allowedIps: ['192.0.2.0/24'],
        rateLimit: { requestsPerSecond: 3, burst: 6 },
      });
      expect(await insert(record)).toBe('inserted');
      const lookup = lookupOf(record, rotated);
      await s.keys.insertLookup(lookup);
      expect(await s.keys.findByHash(record.secretHash)).toEqual(lookup);
      expect(lookup.masterComponent).toEqual({
        componentVersion: 'v2',
        previousComponentVersion: 'v1',
        graceEndsAt: at(3600),
        requireComponent: true,
      });
    });

    it('finds nothing for a hash it was never given, nor for one that differs in case only', async () => {
      const key = await issue();
      expect(await s.keys.findByHash(secretHashOf())).toBeUndefined();
      expect(await s.keys.findByHash(key.secretHash.toUpperCase())).toBeUndefined();
    });

    it('deletes a lookup row idempotently, leaving the record and the key-hash index as they were', async () => {
      const key = await issue();
      await s.keys.deleteLookup(key.secretHash);
      expect(await s.keys.findByHash(key.secretHash)).toBeUndefined();
      await s.keys.deleteLookup(key.secretHash);
      await s.keys.deleteLookup(secretHashOf());
      expect(await s.keys.get(customer.slug, key.id)).toEqual(key);
      expect(await s.keys.findIndexed(key.secretHash)).toEqual({ customerSlug: customer.slug, keyId: key.id });
    });
  });

  describe('markRevoked', () => {
    it('marks the record revoked with who, when and why, and answers it', async () => {
      const key = await issue();
      const revoked = { ...key, status: 'revoked', revokedBy: bob, revokedAt: at(1000), revokedReason: 'exposed' };
      expect(await revoke(key, { reason: 'exposed' })).toEqual({ outcome: 'revoked', record: revoked });
      expect(await s.keys.get(customer.slug, key.id)).toEqual(revoked);
    });

    it('gives no reason when none is given', async () => {
      const key = await issue();
      const { record } = await revoke(key);
      expect(record).toEqual({ ...key, status: 'revoked', revokedBy: bob, revokedAt: at(1000) });
      expect((await s.keys.get(customer.slug, key.id))!.revokedReason).toBeUndefined();
    });

    it('answers already_revoked when revoked before: the first revocation stands, its place is released once', async () => {
      const key = await issue();
      await issue();
      const first = await revoke(key, { by: alice, when: at(1000), reason: 'expired' });
      expect(await placesTaken()).toBe(1);
      const again = await revoke(key, { by: bob, when: at(2000), reason: 'exposed' });
      expect(again).toEqual({ outcome: 'already_revoked', record: first.record });
      expect(await s.keys.get(customer.slug, key.id)).toEqual(first.record);
      expect(await placesTaken()).toBe(1);
    });

    it('answers not_found for a key the customer does not have, or a customer that does not exist', async () => {
      const key = await issue();
      expect(
        await s.keys.markRevoked(customer.slug, keyRecord(customer).id, {
          revokedBy: bob,
          revokedAt: at(1),
          audit: auditEvent(customer.slug),
        }),
      ).toEqual({
        outcome: 'not_found',
      });
      const other = await newCustomer();
      expect(await s.keys.markRevoked(other.slug, key.id, { revokedBy: bob, revokedAt: at(1), audit: auditEvent(other.slug) })).toEqual({
        outcome: 'not_found',
      });
      expect(
        await s.keys.markRevoked('no-such-customer', key.id, { revokedBy: bob, revokedAt: at(1), audit: auditEvent('no-such-customer') }),
      ).toEqual({
        outcome: 'not_found',
      });
      expect((await s.keys.get(customer.slug, key.id))!.status).toBe('active');
    });

    it('releases the label and the place under the cap', async () => {
      const key = keyRecord(customer, { label: 'only' });
      expect(await insert(key, 1)).toBe('inserted');
      expect(await insert(keyRecord(customer, { label: 'other' }), 1)).toBe('key_limit_reached');
      expect(await insert(keyRecord(customer, { label: 'only' }), 2)).toBe('label_taken');
      await revoke(key);
      expect(await placesTaken()).toBe(0);
      expect(await insert(keyRecord(customer, { label: 'ONLY' }), 1)).toBe('inserted');
    });

    it('releases the place of a key rolling out too (each side of a roll holds one)', async () => {
      const old = await issue();
      const successor = successorOf(old);
      expect((await roll(old, successor)).outcome).toBe('rolled');
      expect(await placesTaken()).toBe(2);
      expect(await insert(keyRecord(customer), 2)).toBe('key_limit_reached');
      await revoke(old);
      expect(await placesTaken()).toBe(1);
      expect(await insert(keyRecord(customer), 2)).toBe('inserted');
      await revoke(successor);
      expect(await placesTaken()).toBe(1);
    });
  });

  describe('rollRecord', () => {
    it('gives the old key its end and a link to its successor, written with its label and a place of its own', async () => {
      const old = await issue({ label: 'ingest', rateLimit: { requestsPerSecond: 9, burst: 9 } });
      const successor = successorOf(old);
      const seen: ApiKeyRecord[] = [];
      const result = await s.keys.rollRecord(customer.slug, old.id, successor, {
        oldExpiresAt: (current) => {
          seen.push(current);
          return at(6000);
        },
        keyLimit: () => 2,
        audit: auditEvent(customer.slug, 'key.rolled', successor.id),
      });
      const rolling = { ...old, expiresAt: at(6000), rolledTo: successor.id };
      expect(result).toEqual({ outcome: 'rolled', old: rolling });
      expect(seen).toEqual([old]);
      expect(await s.keys.get(customer.slug, old.id)).toEqual(rolling);
      expect(await s.keys.get(customer.slug, successor.id)).toEqual(successor);
      expect(await placesTaken()).toBe(2);
      expect(await insert(keyRecord(customer, { label: 'Ingest' }))).toBe('label_taken');
    });

    it('hands the label to the successor: revoking the successor frees it while the old key rolls out', async () => {
      const old = await issue({ label: 'ingest' });
      const successor = successorOf(old);
      await roll(old, successor);
      await revoke(old);
      expect(await insert(keyRecord(customer, { label: 'ingest' }))).toBe('label_taken');
      const second = await issue({ label: 'second' });
      const next = successorOf(second);
      await roll(second, next);
      await revoke(next);
      expect(await insert(keyRecord(customer, { label: 'second' }))).toBe('inserted');
    });

    it('answers key_limit_reached when no place is free (the old key keeps its own), and writes nothing', async () => {
      const old = await issue();
      await issue();
      const successor = successorOf(old);
      expect(await roll(old, successor, 2)).toEqual({ outcome: 'key_limit_reached', old });
      expect(await s.keys.get(customer.slug, old.id)).toEqual(old);
      expect(await s.keys.get(customer.slug, successor.id)).toBeUndefined();
      expect(await placesTaken()).toBe(2);
    });

    it('answers rolling_out for a key rolled already, not_active for a revoked key, not_found for a missing one', async () => {
      const old = await issue();
      const first = successorOf(old);
      const { old: rolling } = await roll(old, first);
      const again = successorOf(old);
      expect(await roll(old, again)).toEqual({ outcome: 'rolling_out', old: rolling });
      expect(await s.keys.get(customer.slug, again.id)).toBeUndefined();

      const gone = await issue();
      const { record: revoked } = await revoke(gone);
      const late = successorOf(gone);
      expect(await roll(gone, late)).toEqual({ outcome: 'not_active', old: revoked });
      expect(await s.keys.get(customer.slug, late.id)).toBeUndefined();

      const missing = keyRecord(customer);
      expect(await roll(missing, successorOf(missing))).toEqual({ outcome: 'not_found' });
      const ghost = customerRecord();
      const ghostKey = keyRecord(ghost);
      expect(await roll(ghostKey, successorOf(ghostKey, ghost))).toEqual({ outcome: 'not_found' });
      expect(await placesTaken()).toBe(2);
    });
  });

  describe('updateAccess', () => {
    const audited = (slug: string, calls: Array<[ApiKeyRecord, KeyAccess]>) => (before: ApiKeyRecord, after: KeyAccess) => {
      calls.push([before, after]);
      return auditEvent(slug, 'key.updated', before.id);
    };

    it('replaces the expiry and allowlist with what the change computes from the record, and copies them to the lookup row', async () => {
      const key = await issue({ rateLimit: { requestsPerSecond: 4, burst: 8 } });
      const access = { expiresAt: at(7200), allowedIps: ['10.0.0.0/8', '192.0.2.7'] };
      const seen: ApiKeyRecord[] = [];
      const calls: Array<[ApiKeyRecord, KeyAccess]> = [];
      const result = await s.keys.updateAccess(
        customer.slug,
        key.id,
        (current) => {
          seen.push(current);
          return access;
        },
        audited(customer.slug, calls),
      );
      const updated = { ...key, ...access };
      expect(result).toEqual({ outcome: 'updated', record: updated });
      expect(seen).toEqual([key]);
      expect(calls).toEqual([[key, access]]);
      expect(await s.keys.get(customer.slug, key.id)).toEqual(updated);
      expect(await s.keys.findByHash(key.secretHash)).toEqual(lookupOf(updated, customer));
    });

    it('clears both with an access that has none (an empty allowlist is none)', async () => {
      const key = await issue({ expiresAt: at(7200), allowedIps: ['10.0.0.1'] });
      const result = await s.keys.updateAccess(customer.slug, key.id, () => ({ allowedIps: [] }), audited(customer.slug, []));
      const { expiresAt: _e, allowedIps: _a, ...cleared } = key;
      expect(result).toEqual({ outcome: 'updated', record: cleared });
      const stored = await s.keys.get(customer.slug, key.id);
      expect(stored).toEqual(cleared);
      expect([stored!.expiresAt, stored!.allowedIps]).toEqual([undefined, undefined]);
      const lookup = await s.keys.findByHash(key.secretHash);
      expect(lookup).toEqual(lookupOf(cleared, customer));
      expect([lookup!.expiresAt, lookup!.allowedIps]).toEqual([undefined, undefined]);
    });

    it('answers unchanged when the change leaves it, writing nothing', async () => {
      const key = await issue({ expiresAt: at(7200) });
      const calls: Array<[ApiKeyRecord, KeyAccess]> = [];
      expect(await s.keys.updateAccess(customer.slug, key.id, () => undefined, audited(customer.slug, calls))).toEqual({
        outcome: 'unchanged',
        record: key,
      });
      expect(calls).toEqual([]);
      expect(await s.keys.get(customer.slug, key.id)).toEqual(key);
      expect(await s.keys.findByHash(key.secretHash)).toEqual(lookupOf(key, customer));
    });

    it('answers not_active for a revoked key and not_found for a missing one, changing nothing', async () => {
      const key = await issue();
      const { record: revoked } = await revoke(key);
      const change = () => ({ expiresAt: at(9000) });
      expect(await s.keys.updateAccess(customer.slug, key.id, change, audited(customer.slug, []))).toEqual({
        outcome: 'not_active',
        record: revoked,
      });
      expect(await s.keys.get(customer.slug, key.id)).toEqual(revoked);
      expect(await s.keys.updateAccess(customer.slug, keyRecord(customer).id, change, audited(customer.slug, []))).toEqual({
        outcome: 'not_found',
      });
    });

    it('never creates a lookup row for a key that has none', async () => {
      const key = keyRecord(customer);
      expect(await insert(key)).toBe('inserted');
      const result = await s.keys.updateAccess(customer.slug, key.id, () => ({ expiresAt: at(7200) }), audited(customer.slug, []));
      expect(result.outcome).toBe('updated');
      expect(await s.keys.findByHash(key.secretHash)).toBeUndefined();
    });
  });

  describe('syncLookup', () => {
    it('copies the one part named from the record to the lookup row, and nothing else', async () => {
      const key = await issue({ rateLimit: { requestsPerSecond: 5, burst: 10 } });
      const changed: ApiKeyRecord = {
        ...key,
        expiresAt: at(999),
        allowedIps: ['203.0.113.0/24'],
        rateLimit: { requestsPerSecond: 50, burst: 100 },
        label: 'renamed',
      };
      await s.keys.syncLookup(changed, 'access');
      expect(await s.keys.findByHash(key.secretHash)).toEqual(
        lookupOf({ ...key, expiresAt: at(999), allowedIps: ['203.0.113.0/24'] }, customer),
      );
      await s.keys.syncLookup(changed, 'rateLimit');
      expect(await s.keys.findByHash(key.secretHash)).toEqual(lookupOf({ ...changed, label: key.label }, customer));
      // A part the record no longer has is removed from the row.
      await s.keys.syncLookup({ ...changed, rateLimit: undefined, expiresAt: undefined }, 'rateLimit');
      const lookup = await s.keys.findByHash(key.secretHash);
      expect(lookup!.rateLimit).toBeUndefined();
      expect(lookup!.expiresAt).toBe(at(999));
      // The record is not the repository's to change here.
      expect(await s.keys.get(customer.slug, key.id)).toEqual(key);
    });

    it('does nothing for a key without a lookup row (a revoked key stays without one)', async () => {
      const key = await issue();
      await s.keys.deleteLookup(key.secretHash);
      await revoke(key);
      const withAccess = { ...key, expiresAt: at(999), rateLimit: { requestsPerSecond: 1, burst: 1 } };
      await s.keys.syncLookup(withAccess, 'access');
      await s.keys.syncLookup(withAccess, 'rateLimit');
      expect(await s.keys.findByHash(key.secretHash)).toBeUndefined();
    });
  });

  describe('replaceRecord', () => {
    it('revokes the old key and writes its replacement with the same label and the same place', async () => {
      const old = await issue({ label: 'ingest' });
      const replacement = keyRecord(customer, { label: old.label });
      expect(await replace(old, replacement)).toBe('replaced');
      const stored = await s.keys.get(customer.slug, old.id);
      expect(stored).toEqual({ ...old, status: 'revoked', revokedBy: bob, revokedAt: replacement.createdAt });
      expect([stored!.revokedReason, stored!.rolledTo]).toEqual([undefined, undefined]);
      expect(await s.keys.get(customer.slug, replacement.id)).toEqual(replacement);
      expect(await placesTaken()).toBe(1);
      // The replacement holds the label: taken while it is active, free once it is revoked.
      expect(await insert(keyRecord(customer, { label: 'INGEST' }))).toBe('label_taken');
      await revoke(replacement);
      expect(await placesTaken()).toBe(0);
      expect(await insert(keyRecord(customer, { label: 'ingest' }))).toBe('inserted');
    });

    it('with rolled, marks the old key rolled to its replacement', async () => {
      const old = await issue();
      const replacement = keyRecord(customer, { label: old.label, rolledFrom: old.id });
      expect(await replace(old, replacement, true)).toBe('replaced');
      expect(await s.keys.get(customer.slug, old.id)).toEqual({
        ...old,
        status: 'revoked',
        revokedBy: bob,
        revokedAt: replacement.createdAt,
        revokedReason: 'rolled',
        rolledTo: replacement.id,
      });
      expect(await s.keys.get(customer.slug, replacement.id)).toEqual(replacement);
      expect(await placesTaken()).toBe(1);
    });

    it('with rolled, answers rolling_out for a key rolling out already, and writes nothing', async () => {
      const old = await issue();
      const { old: rolling } = await roll(old, successorOf(old));
      const replacement = keyRecord(customer, { label: old.label });
      expect(await replace(old, replacement, true)).toBe('rolling_out');
      expect(await s.keys.get(customer.slug, old.id)).toEqual(rolling);
      expect(await s.keys.get(customer.slug, replacement.id)).toBeUndefined();
    });

    it('answers not_active for a revoked key or a missing one, and writes nothing', async () => {
      const old = await issue();
      const { record: revoked } = await revoke(old);
      const replacement = keyRecord(customer, { label: old.label });
      expect(await replace(old, replacement)).toBe('not_active');
      expect(await replace(old, replacement, true)).toBe('not_active');
      expect(await s.keys.get(customer.slug, old.id)).toEqual(revoked);
      expect(await s.keys.get(customer.slug, replacement.id)).toBeUndefined();
      const missing = keyRecord(customer);
      expect(await replace(missing, keyRecord(customer))).toBe('not_active');
    });
  });

  describe('list and get', () => {
    it("lists every key of the customer, active and revoked, oldest first, and no other customer's", async () => {
      const [first, second, third] = [keyRecord(customer, {}, 10), keyRecord(customer, {}, 20), keyRecord(customer, {}, 30)];
      // Written out of order: the order is the keys' age, not the writes'.
      for (const record of [second, third, first]) expect(await insert(record)).toBe('inserted');
      const { record: revoked } = await revoke(second);
      const sibling = await newCustomer({ slug: `${customer.slug}-2` });
      await issue({}, sibling);
      expect(await s.keys.list(customer.slug)).toEqual([first, revoked, third]);
    });

    it('lists nothing for a customer without keys or one that does not exist', async () => {
      expect(await s.keys.list(customer.slug)).toEqual([]);
      expect(await s.keys.list('no-such-customer')).toEqual([]);
    });

    it("gets nothing for a missing key, or another customer's key", async () => {
      const key = await issue();
      const other = await newCustomer();
      expect(await s.keys.get(customer.slug, keyRecord(customer).id)).toBeUndefined();
      expect(await s.keys.get(other.slug, key.id)).toBeUndefined();
      expect(await s.keys.get(customer.slug, key.id)).toEqual(key);
    });
  });

  describe('setRateLimit', () => {
    it('sets a key’s own rate limit on its record and its lookup row, and removes it with undefined', async () => {
      const key = await issue({ expiresAt: at(7200) });
      const setting = { requestsPerSecond: 25, burst: 50 };
      const set = await s.keys.setRateLimit(customer.slug, key.id, setting, auditEvent(customer.slug, 'key.rate-limit-changed', key.id));
      expect(set).toEqual({ ...key, rateLimit: setting });
      expect(await s.keys.get(customer.slug, key.id)).toEqual({ ...key, rateLimit: setting });
      expect(await s.keys.findByHash(key.secretHash)).toEqual(lookupOf({ ...key, rateLimit: setting }, customer));

      const removed = await s.keys.setRateLimit(
        customer.slug,
        key.id,
        undefined,
        auditEvent(customer.slug, 'key.rate-limit-changed', key.id),
      );
      expect(removed).toEqual(key);
      expect(removed!.rateLimit).toBeUndefined();
      expect((await s.keys.get(customer.slug, key.id))!.rateLimit).toBeUndefined();
      const lookup = await s.keys.findByHash(key.secretHash);
      expect(lookup).toEqual(lookupOf(key, customer));
      expect(lookup!.rateLimit).toBeUndefined();
    });

    it('answers undefined when the customer has no such key', async () => {
      const key = await issue();
      const other = await newCustomer();
      const setting = { requestsPerSecond: 1, burst: 1 };
      expect(await s.keys.setRateLimit(customer.slug, keyRecord(customer).id, setting, auditEvent(customer.slug))).toBeUndefined();
      expect(await s.keys.setRateLimit(other.slug, key.id, setting, auditEvent(other.slug))).toBeUndefined();
      expect(await s.keys.get(customer.slug, key.id)).toEqual(key);
    });

    it('sets it on a revoked key’s record without giving it a lookup row again', async () => {
      const key = await issue();
      await s.keys.deleteLookup(key.secretHash);
      const { record: revoked } = await revoke(key);
      const setting = { requestsPerSecond: 2, burst: 3 };
      expect(await s.keys.setRateLimit(customer.slug, key.id, setting, auditEvent(customer.slug))).toEqual({
        ...revoked,
        rateLimit: setting,
      });
      expect(await s.keys.findByHash(key.secretHash)).toBeUndefined();
    });
  });

  describe('recordExposures', () => {
    it('records the places of a report on the key, in the report’s order, and counts them', async () => {
      const key = await issue();
      const places = [exposure('b', 'commit'), exposure('a'), exposure('c', 'npm')];
      const result = await report(key, places);
      expect(result).toEqual({ outcome: 'recorded', record: { ...key, exposures: places, exposureCount: 3 } });
      expect(await s.keys.get(customer.slug, key.id)).toEqual(result.record);
    });

    it('records the same report once, delivered twice or to two instances at once', async () => {
      const key = await issue();
      const places = [exposure('a'), exposure('b')];
      const recorded = await report(key, places);
      expect(await report(key, places)).toEqual({ outcome: 'known', record: recorded.record });

      const other = await issue();
      const outcomes = await Promise.all([report(other, places), report(other, places)]);
      expect(outcomes.map((o) => o.outcome).sort()).toEqual(['known', 'recorded']);
      expect((await s.keys.get(customer.slug, other.id))!.exposureCount).toBe(2);
    });

    it('counts a place named twice in one report once', async () => {
      const key = await issue();
      const result = await report(key, [exposure('a'), exposure('b'), exposure('a', 'content', 60)]);
      expect(result).toEqual({ outcome: 'recorded', record: { ...key, exposures: [exposure('a'), exposure('b')], exposureCount: 2 } });
    });

    it('counts only the places a later report adds, and knows a report of kept places only', async () => {
      const key = await issue();
      await report(key, [exposure('a'), exposure('b')]);
      const later = await report(key, [exposure('b', 'content', 60), exposure('c', 'content', 60)]);
      expect(later).toEqual({
        outcome: 'recorded',
        record: { ...key, exposures: [exposure('a'), exposure('b'), exposure('c', 'content', 60)], exposureCount: 3 },
      });
      const known = await report(key, [exposure('a', 'content', 120), exposure('c', 'content', 120)]);
      expect(known).toEqual({ outcome: 'known', record: later.record });
      expect(await s.keys.get(customer.slug, key.id)).toEqual(later.record);
      // Another source at the same address is another place.
      expect((await report(key, [exposure('a', 'commit', 120)])).record!.exposureCount).toBe(4);
    });

    it('keeps the first places and counts the others; a full record still knows a report delivered again', async () => {
      const key = await issue();
      const places = Array.from({ length: MAX_KEPT_EXPOSURES + 2 }, (_, i) => exposure(`p${i}`));
      const result = await report(key, places);
      expect(result).toEqual({
        outcome: 'recorded',
        record: { ...key, exposures: places.slice(0, MAX_KEPT_EXPOSURES), exposureCount: MAX_KEPT_EXPOSURES + 2 },
      });
      expect(await report(key, places)).toEqual({ outcome: 'known', record: result.record });
      const next = await report(key, [exposure('new')]);
      expect(next).toEqual({ outcome: 'recorded', record: { ...result.record, exposureCount: MAX_KEPT_EXPOSURES + 3 } });
      expect(await s.keys.get(customer.slug, key.id)).toEqual(next.record);
    });

    it('records on a revoked key, and answers not_found for a missing one', async () => {
      const key = await issue();
      const { record: revoked } = await revoke(key);
      expect(await report(key, [exposure('a')])).toEqual({
        outcome: 'recorded',
        record: { ...revoked, exposures: [exposure('a')], exposureCount: 1 },
      });
      expect(await report(keyRecord(customer), [exposure('a')])).toEqual({ outcome: 'not_found' });
    });
  });

  describe('recordExpiryWarning', () => {
    const warn = (key: ApiKeyRecord, windows: Array<'7d' | '1d'>, expiresAt = key.expiresAt!) =>
      s.keys.recordExpiryWarning(key.customerSlug, key.id, {
        expiresAt,
        windows,
        audit: auditEvent(key.customerSlug, 'key.expiring', key.id),
      });

    it('records a warning once per expiry, concurrent timers included, and reads it back with the key', async () => {
      const key = await issue({ expiresAt: at(86_400 * 10) });
      const first = await warn(key, ['7d']);
      expect(first).toEqual({ outcome: 'recorded', record: { ...key, expiryWarned: { expiresAt: key.expiresAt, windows: ['7d'] } } });
      expect(await s.keys.get(customer.slug, key.id)).toEqual(first.record);
      expect(await warn(key, ['7d'])).toEqual({ outcome: 'unchanged', record: first.record });
      // The same expiry written with another offset is the same instant.
      expect((await warn(key, ['7d'], key.expiresAt!.replace('Z', '+00:00'))).outcome).toBe('unchanged');

      const other = await issue({ expiresAt: at(86_400 * 10) });
      const outcomes = await Promise.all([warn(other, ['1d', '7d']), warn(other, ['1d', '7d'])]);
      expect(outcomes.map((o) => o.outcome).sort()).toEqual(['recorded', 'unchanged']);
    });

    it('adds a later window to those recorded, and starts again for a new expiry', async () => {
      const key = await issue({ expiresAt: at(86_400 * 10) });
      await warn(key, ['7d']);
      expect((await warn(key, ['1d', '7d'])).record!.expiryWarned).toEqual({ expiresAt: key.expiresAt, windows: ['7d', '1d'] });
      const moved = await s.keys.updateAccess(
        customer.slug,
        key.id,
        () => ({ expiresAt: at(86_400 * 20) }),
        () => auditEvent(customer.slug, 'key.updated', key.id),
      );
      expect(moved.outcome).toBe('updated');
      expect((await warn(key, ['7d'], at(86_400 * 20))).outcome).toBe('recorded');
      expect((await s.keys.get(customer.slug, key.id))!.expiryWarned).toEqual({ expiresAt: at(86_400 * 20), windows: ['7d'] });
    });

    it('writes nothing for an expiry the key no longer has, a revoked key or a missing one', async () => {
      const key = await issue({ expiresAt: at(86_400 * 10) });
      expect((await warn(key, ['7d'], at(86_400 * 11))).outcome).toBe('unchanged');
      const { record: revoked } = await revoke(key);
      expect(await warn(key, ['7d'])).toEqual({ outcome: 'unchanged', record: revoked });
      expect(await warn(keyRecord(customer, { expiresAt: at(86_400) }), ['7d'])).toEqual({ outcome: 'not_found' });
    });
  });

  describe('findIndexed, isIndexed, indexCustomer', () => {
    it('finds a key given a lookup row by its hash, active or revoked, its lookup row gone', async () => {
      const key = await issue();
      const indexed = { customerSlug: customer.slug, keyId: key.id };
      expect(await s.keys.findIndexed(key.secretHash)).toEqual(indexed);
      await s.keys.deleteLookup(key.secretHash);
      await revoke(key);
      expect(await s.keys.findIndexed(key.secretHash)).toEqual(indexed);
      expect(await s.keys.findIndexed(secretHashOf())).toBeUndefined();
      expect(await s.keys.findIndexed(key.secretHash.toUpperCase())).toBeUndefined();
    });

    it('indexes the keys of a customer listed to it (keys from before the index)', async () => {
      const older = [keyRecord(customer), keyRecord(customer)];
      for (const record of older) expect(await insert(record)).toBe('inserted');
      await revoke(older[1]!);
      for (const record of older) expect(await s.keys.findIndexed(record.secretHash)).toBeUndefined();
      await s.keys.indexCustomer(customer.slug, await s.keys.list(customer.slug));
      for (const record of older)
        expect(await s.keys.findIndexed(record.secretHash)).toEqual({ customerSlug: customer.slug, keyId: record.id });
      expect(await s.keys.isIndexed(customer.slug)).toBe(true);
    });

    it('knows a customer indexed from its creation (no keys yet) or once indexCustomer marked it, and no other', async () => {
      expect(await s.keys.isIndexed(customer.slug)).toBe(true);
      const unknown = customerRecord();
      expect(await s.keys.isIndexed(unknown.slug)).toBe(false);
      const key = keyRecord(unknown);
      await s.keys.indexCustomer(unknown.slug, [key]);
      expect(await s.keys.isIndexed(unknown.slug)).toBe(true);
      expect(await s.keys.findIndexed(key.secretHash)).toEqual({ customerSlug: unknown.slug, keyId: key.id });
      expect(await s.keys.isIndexed(customerRecord().slug)).toBe(false);
    });
  });

  describe('touchLastUsed', () => {
    it('records the hour each key was last used in, across customers, leaving the others', async () => {
      const [a, b] = [await issue(), await issue()];
      const other = await newCustomer();
      const c = await issue({}, other);
      await s.keys.touchLastUsed([
        { customerSlug: customer.slug, keyId: a.id, hour: at(3600) },
        { customerSlug: other.slug, keyId: c.id, hour: at(3600) },
      ]);
      expect(await s.keys.get(customer.slug, a.id)).toEqual({ ...a, lastUsedAt: at(3600) });
      expect(await s.keys.get(customer.slug, b.id)).toEqual(b);
      expect(await s.keys.get(other.slug, c.id)).toEqual({ ...c, lastUsedAt: at(3600) });
      await s.keys.touchLastUsed([{ customerSlug: customer.slug, keyId: a.id, hour: at(7200) }]);
      expect((await s.keys.get(customer.slug, a.id))!.lastUsedAt).toBe(at(7200));
      expect(await s.keys.touchLastUsed([])).toBeUndefined();
    });
  });

  describe('refreshLookups', () => {
    it("rewrites the customer's plan and master-component state in the lookup rows named, and nothing else", async () => {
      const a = await issue({ expiresAt: at(7200), rateLimit: { requestsPerSecond: 7, burst: 14 } });
      const b = await issue({ allowedIps: ['10.1.0.0/16'] });
      const untouched = await issue();
      const gone = await issue();
      await s.keys.deleteLookup(gone.secretHash);
      const data = {
        plan: 'enterprise' as const,
        masterComponent: { componentVersion: 'v2', previousComponentVersion: 'v1', graceEndsAt: at(86_400), requireComponent: true },
      };
      await s.keys.refreshLookups([a.secretHash, b.secretHash, gone.secretHash, secretHashOf()], data);
      expect(await s.keys.findByHash(a.secretHash)).toEqual(lookupOf(a, customer, data));
      expect(await s.keys.findByHash(b.secretHash)).toEqual(lookupOf(b, customer, data));
      expect(await s.keys.findByHash(untouched.secretHash)).toEqual(lookupOf(untouched, customer));
      expect(await s.keys.findByHash(gone.secretHash)).toBeUndefined();
      // And back: a state without a previous version or grace end clears them.
      const back = {
        plan: 'pro' as const,
        masterComponent: { componentVersion: 'v3', previousComponentVersion: undefined, graceEndsAt: undefined, requireComponent: false },
      };
      await s.keys.refreshLookups([a.secretHash], back);
      expect(await s.keys.findByHash(a.secretHash)).toEqual(lookupOf(a, customer, back));
    });
  });
});
