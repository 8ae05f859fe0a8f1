import { MemoryAuditLog } from '../../shared/adapters/memory/memory-audit-log';
import { MemoryCustomerRepository } from '../../shared/adapters/memory/memory-customer-repository';
import { MemoryFederatedTokenRepository } from '../../shared/adapters/memory/memory-federated-token-repository';
import { MemoryKeyRepository } from '../../shared/adapters/memory/memory-key-repository';
import { TableAuditLog } from '../../shared/adapters/table/table-audit-log';
import { TableFederatedTokenRepository } from '../../shared/adapters/table/table-federated-token-repository';
import { TableKeyRepository } from '../../shared/adapters/table/table-key-repository';
import { NO_MASTER_COMPONENT, type Customer } from '../../shared/domain';
import type { AuditLog } from '../../shared/ports/audit-log';
import type { FederatedTokenRecord, FederatedTokenRepository, TokenExposure } from '../../shared/ports/federated-token-repository';
import type { KeyRepository } from '../../shared/ports/key-repository';
import { at, auditEvent, customerRecord, exposure, secretHashOf } from './support/records';
import { freshTableStorage } from './support/small-ports';

/**
 * The FederatedTokenRepository port (shared/ports/federated-token-repository.ts) as its doc
 * comments promise it, against the in-memory fake and the Table adapter (on Azurite), each beside
 * the key repository of its kind: a token's lookup row is what the key repository's findByHash
 * (the door's one read) finds.
 */
interface Subject {
  tokens: FederatedTokenRepository;
  keys: KeyRepository;
  audit: AuditLog;
}

const ADAPTERS: Array<[string, () => Promise<Subject>]> = [
  [
    'memory',
    async () => {
      const keys = new MemoryKeyRepository(new MemoryCustomerRepository());
      const audit = new MemoryAuditLog();
      return { keys, audit, tokens: new MemoryFederatedTokenRepository(keys, audit) };
    },
  ],
  [
    'table (Azurite)',
    async () => {
      const storage = await freshTableStorage('customers', 'keyLookup');
      return {
        keys: new TableKeyRepository(storage),
        audit: new TableAuditLog(storage),
        tokens: new TableFederatedTokenRepository(storage),
      };
    },
  ],
];

const POLICY = 'tp_01JQ8Z5M3T4V6W7X8Y9Z0A1B2C';
const OTHER_POLICY = 'tp_01JQ9B7K2N5P8R3S6T9V1W4X7Y';

function tokenRecord(customer: Customer, overrides: Partial<FederatedTokenRecord> = {}): FederatedTokenRecord {
  return {
    secretHash: secretHashOf(),
    customerId: customer.id,
    customerSlug: customer.slug,
    plan: customer.plan,
    trustPolicyId: POLICY,
    trustPolicyLabel: 'github-deploy',
    application: 'checkout',
    environment: 'live',
    expiresAt: at(900),
    policyVersion: at(0),
    ...overrides,
  };
}

const refOf = (t: FederatedTokenRecord) => ({ secretHash: t.secretHash, expiresAt: t.expiresAt, policyVersion: t.policyVersion });

describe.each(ADAPTERS)('FederatedTokenRepository contract: %s', (_adapter, make) => {
  let s: Subject;
  const customer = customerRecord();

  beforeEach(async () => {
    s = await make();
  });

  it("stores a token as a lookup row the door's read finds: type federated, the policy as its key, its expiry, no component", async () => {
    const token = tokenRecord(customer);
    await s.tokens.insert(token);
    expect(await s.keys.findByHash(token.secretHash)).toEqual({
      secretHash: token.secretHash,
      status: 'active',
      customerId: customer.id,
      customerSlug: customer.slug,
      plan: customer.plan,
      keyId: POLICY,
      keyLabel: 'github-deploy',
      application: 'checkout',
      environment: 'live',
      keyType: 'federated',
      masterComponent: NO_MASTER_COMPONENT,
      expiresAt: token.expiresAt,
    });
  });

  it("lists a policy's tokens by expiry, earliest first, never another policy's or customer's", async () => {
    const late = tokenRecord(customer, { expiresAt: at(1800) });
    const early = tokenRecord(customer, { expiresAt: at(300) });
    const middle = tokenRecord(customer, { expiresAt: at(900), policyVersion: at(60) });
    for (const token of [late, early, middle]) await s.tokens.insert(token);
    await s.tokens.insert(tokenRecord(customer, { trustPolicyId: OTHER_POLICY }));
    await s.tokens.insert(tokenRecord(customerRecord()));
    expect(await s.tokens.list(customer.slug, POLICY)).toEqual([early, middle, late].map(refOf));
    expect(await s.tokens.list(customer.slug, 'tp_01JQAAAAAAAAAAAAAAAAAAAAAA')).toEqual([]);
  });

  it('lists the tokens expired at a time (their expiry at or before it), at most as many as asked', async () => {
    const tokens = [60, 120, 180, 240].map((seconds) => tokenRecord(customer, { expiresAt: at(seconds) }));
    for (const token of tokens) await s.tokens.insert(token);
    expect(await s.tokens.list(customer.slug, POLICY, { expiredAt: at(120) })).toEqual(tokens.slice(0, 2).map(refOf));
    expect(await s.tokens.list(customer.slug, POLICY, { expiredAt: at(119) })).toEqual(tokens.slice(0, 1).map(refOf));
    expect(await s.tokens.list(customer.slug, POLICY, { expiredAt: at(600), limit: 3 })).toEqual(tokens.slice(0, 3).map(refOf));
    expect(await s.tokens.list(customer.slug, POLICY, { expiredAt: at(0) })).toEqual([]);
  });

  it('removes a token: its lookup row and its index row; again, nothing happens', async () => {
    const token = tokenRecord(customer);
    const kept = tokenRecord(customer);
    await s.tokens.insert(token);
    await s.tokens.insert(kept);
    await s.tokens.remove(customer.slug, POLICY, refOf(token));
    expect(await s.keys.findByHash(token.secretHash)).toBeUndefined();
    expect(await s.tokens.list(customer.slug, POLICY)).toEqual([refOf(kept)]);
    await s.tokens.remove(customer.slug, POLICY, refOf(token));
    expect(await s.keys.findByHash(kept.secretHash)).toMatchObject({ keyType: 'federated' });
  });

  describe('exposures (a token found in public)', () => {
    const exposureOf = (token: FederatedTokenRecord): TokenExposure => ({
      customerSlug: token.customerSlug,
      secretHash: token.secretHash,
      trustPolicyId: token.trustPolicyId,
      trustPolicyLabel: token.trustPolicyLabel,
    });
    const events = async () => (await s.audit.list(customer.slug, { limit: 50 })).items.filter((e) => e.type === 'token.exposed');

    it('records a report once, with its audit event; the same places again (in any order) are known and write nothing', async () => {
      const token = tokenRecord(customer);
      const places = [exposure('a.env'), exposure('b.env', 'commit')];
      expect(await s.tokens.recordExposure(exposureOf(token), places, auditEvent(customer.slug, 'token.exposed'))).toBe('recorded');
      expect(await s.tokens.recordExposure(exposureOf(token), [...places].reverse(), auditEvent(customer.slug, 'token.exposed'))).toBe(
        'known',
      );
      expect(await events()).toHaveLength(1);
      // Another report (other places) is recorded again.
      expect(await s.tokens.recordExposure(exposureOf(token), [exposure('c.env')], auditEvent(customer.slug, 'token.exposed'))).toBe(
        'recorded',
      );
      expect(await events()).toHaveLength(2);
    });

    it("finds a token's exposure (its policy) after its own rows are gone, and nothing for another token or customer", async () => {
      const token = tokenRecord(customer);
      await s.tokens.insert(token);
      expect(await s.tokens.findExposed(customer.slug, token.secretHash)).toBeUndefined();
      await s.tokens.recordExposure(exposureOf(token), [exposure('a.env')], auditEvent(customer.slug, 'token.exposed'));
      await s.tokens.remove(customer.slug, POLICY, { secretHash: token.secretHash, expiresAt: token.expiresAt });
      expect(await s.keys.findByHash(token.secretHash)).toBeUndefined();
      expect(await s.tokens.list(customer.slug, POLICY)).toEqual([]);
      expect(await s.tokens.findExposed(customer.slug, token.secretHash)).toEqual(exposureOf(token));
      expect(await s.tokens.findExposed(customer.slug, secretHashOf())).toBeUndefined();
      expect(await s.tokens.findExposed(customerRecord().slug, token.secretHash)).toBeUndefined();
    });
  });
});
