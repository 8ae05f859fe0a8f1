import { MemoryAuditLog } from '../../shared/adapters/memory/memory-audit-log';
import { MemoryCustomerRepository } from '../../shared/adapters/memory/memory-customer-repository';
import { MemoryTrustPolicyRepository } from '../../shared/adapters/memory/memory-trust-policy-repository';
import { TableAuditLog } from '../../shared/adapters/table/table-audit-log';
import { TableCustomerRepository } from '../../shared/adapters/table/table-customer-repository';
import { TableTrustPolicyRepository } from '../../shared/adapters/table/table-trust-policy-repository';
import type { AuditEvent, AuditEventType, Customer, TrustPolicy } from '../../shared/domain';
import { newId } from '../../shared/ids';
import type { AuditLog } from '../../shared/ports/audit-log';
import type { CustomerRepository } from '../../shared/ports/customer-repository';
import type { TrustPolicyRepository } from '../../shared/ports/trust-policy-repository';
import { alice, at, auditEvent as eventAt0, bob, customerRecord, storedCustomer, trustPolicyRecord } from './support/records';
import { freshTableStorage } from './support/small-ports';

/**
 * The TrustPolicyRepository port (shared/ports/trust-policy-repository.ts) as its doc comments
 * promise it, run against the in-memory fake and the Table adapter (on Azurite), each over the
 * customer repository and audit log of its kind. Every case builds a fresh adapter.
 */
interface Subject {
  policies: TrustPolicyRepository;
  customers: CustomerRepository;
  audit: AuditLog;
}

let tick = 0;
/** An audit event a second after the previous one built, so the log's order (newest first) is the order of the calls. */
function auditEvent(customerSlug: string, type: AuditEventType = 'trust_policy.created'): AuditEvent {
  const when = at(100 + ++tick);
  return { ...eventAt0(customerSlug, type), at: when, id: newId('evt', new Date(when)) };
}

const ADAPTERS: Array<[string, () => Promise<Subject>]> = [
  [
    'memory',
    async () => {
      const customers = new MemoryCustomerRepository();
      const audit = new MemoryAuditLog();
      return { customers, audit, policies: new MemoryTrustPolicyRepository(customers, audit) };
    },
  ],
  [
    'table (Azurite)',
    async () => {
      const storage = await freshTableStorage('customers');
      return {
        customers: new TableCustomerRepository(storage),
        audit: new TableAuditLog(storage),
        policies: new TableTrustPolicyRepository(storage),
      };
    },
  ],
];

describe.each(ADAPTERS)('TrustPolicyRepository contract: %s', (_adapter, make) => {
  let s: Subject;
  let customer: Customer;

  beforeEach(async () => {
    s = await make();
    customer = await newCustomer();
  });

  const newCustomer = (overrides: Partial<Customer> = {}): Promise<Customer> => storedCustomer(s.customers, overrides);

  const insert = (policy: TrustPolicy, limit = 10) =>
    s.policies.insert(policy, { limit: () => limit, audit: auditEvent(policy.customerSlug, 'trust_policy.created') });

  /** A policy as the service creates it. */
  async function create(overrides: Partial<TrustPolicy> = {}, owner: Customer = customer): Promise<TrustPolicy> {
    const policy = trustPolicyRecord(owner, overrides);
    expect(await insert(policy)).toBe('inserted');
    return policy;
  }

  const remove = (policy: TrustPolicy, options: { by?: typeof bob; when?: string; seen?: TrustPolicy[] } = {}) =>
    s.policies.markDeleted(policy.customerSlug, policy.id, {
      deletedBy: options.by ?? bob,
      deletedAt: options.when ?? at(1000),
      audit: (current) => {
        options.seen?.push(current);
        return auditEvent(policy.customerSlug, 'trust_policy.deleted');
      },
    });

  /** An update that sets `fields`, recording what `change` and `audit` were given. */
  function update(
    policy: TrustPolicy,
    fields: Partial<TrustPolicy> | undefined,
    calls: { changed: TrustPolicy[]; audited: Array<[TrustPolicy, TrustPolicy]> },
  ) {
    return s.policies.update(
      policy.customerSlug,
      policy.id,
      (current) => {
        calls.changed.push(current);
        return fields ? { ...current, ...fields, updatedAt: at(2000) } : undefined;
      },
      (before, after) => {
        calls.audited.push([before, after]);
        return auditEvent(policy.customerSlug, 'trust_policy.updated');
      },
    );
  }
  const noCalls = () => ({ changed: [] as TrustPolicy[], audited: [] as Array<[TrustPolicy, TrustPolicy]> });

  /** The customer's audit events, newest first. */
  const events = async (owner: Customer = customer): Promise<AuditEvent[]> => (await s.audit.list(owner.slug, { limit: 100 })).items;

  describe('insert', () => {
    it('writes a policy that reads back as written, with its audit event, and takes a place under the cap', async () => {
      const policy = trustPolicyRecord(customer, {
        label: 'GitHub deploys',
        claims: { repository_owner: 'acme', job_workflow_ref: 'acme/checkout/.github/workflows/deploy.yml@refs/heads/main' },
        environment: 'test',
        tokenLifetimeMinutes: 60,
        subject: 'repo:acme/*',
      });
      const audit = auditEvent(customer.slug, 'trust_policy.created');
      expect(await s.policies.insert(policy, { limit: () => 1, audit })).toBe('inserted');
      expect(await s.policies.get(customer.slug, policy.id)).toEqual(policy);
      expect(await s.policies.list(customer.slug)).toEqual([policy]);
      expect(await events()).toEqual([audit]);
      // The one place is taken.
      expect(await s.policies.insert(trustPolicyRecord(customer), { limit: () => 1, audit: auditEvent(customer.slug) })).toBe(
        'limit_reached',
      );
    });

    it('answers customer_missing for a customer that does not exist, and writes nothing', async () => {
      const ghost = customerRecord();
      const policy = trustPolicyRecord(ghost);
      expect(await insert(policy)).toBe('customer_missing');
      expect(await s.policies.get(ghost.slug, policy.id)).toBeUndefined();
      expect(await s.policies.list(ghost.slug)).toEqual([]);
      expect(await events(ghost)).toEqual([]);
    });

    it("answers limit_reached once the active policies fill the cap of the customer's current row, writing nothing", async () => {
      await s.customers.update(customer.slug, () => ({ plan: 'starter' }));
      const seen: Array<[string, number]> = [];
      const limited = (policy: TrustPolicy) =>
        s.policies.insert(policy, {
          limit: (current) => {
            seen.push([current.plan, current.slug === customer.slug ? 1 : 0]);
            return current.plan === 'starter' ? 2 : 100;
          },
          audit: auditEvent(customer.slug, 'trust_policy.created'),
        });
      expect(await limited(trustPolicyRecord(customer))).toBe('inserted');
      expect(await limited(trustPolicyRecord(customer))).toBe('inserted');
      const third = trustPolicyRecord(customer);
      expect(await limited(third)).toBe('limit_reached');
      expect(await s.policies.get(customer.slug, third.id)).toBeUndefined();
      expect(await s.policies.list(customer.slug)).toHaveLength(2);
      expect(await events()).toHaveLength(2);
      // Each time the customer as it stands (its plan as staff set it).
      expect(seen).toEqual([
        ['starter', 1],
        ['starter', 1],
        ['starter', 1],
      ]);
    });

    it('answers label_taken for a label an active policy of the customer holds, compared as labels normalize', async () => {
      await create({ label: 'Deploy' });
      for (const label of ['Deploy', 'deploy', '  DEPLOY ', 'ＤＥＰＬＯＹ', 'dep\u200Bloy']) {
        const clash = trustPolicyRecord(customer, { label });
        expect([label, await insert(clash)]).toEqual([label, 'label_taken']);
        expect(await s.policies.get(customer.slug, clash.id)).toBeUndefined();
      }
      expect(await s.policies.list(customer.slug)).toHaveLength(1);
      expect(await events()).toHaveLength(1);
      // Another label, or the same label at another customer, is free.
      expect(await insert(trustPolicyRecord(customer, { label: 'Deploy 2' }))).toBe('inserted');
      expect(await insert(trustPolicyRecord(await newCustomer(), { label: 'Deploy' }))).toBe('inserted');
    });

    it('holds the cap and the labels under concurrent inserts', async () => {
      const racing = await Promise.all(Array.from({ length: 12 }, () => insert(trustPolicyRecord(customer), 5)));
      expect(racing.filter((o) => o === 'inserted')).toHaveLength(5);
      expect(racing.filter((o) => o === 'limit_reached')).toHaveLength(7);
      expect(await s.policies.list(customer.slug)).toHaveLength(5);

      const other = await newCustomer();
      const sameLabel = await Promise.all(Array.from({ length: 8 }, () => insert(trustPolicyRecord(other, { label: 'only once' }))));
      expect(sameLabel.filter((o) => o === 'inserted')).toHaveLength(1);
      expect(sameLabel.filter((o) => o === 'label_taken')).toHaveLength(7);
      expect(await s.policies.list(other.slug)).toHaveLength(1);
      expect(await events(other)).toHaveLength(1);
    });
  });

  describe('list and get', () => {
    it("lists the customer's active policies oldest first, never another customer's nor a deleted one", async () => {
      const first = await create({}, customer);
      const other = await newCustomer();
      await create({}, other);
      const second = await create();
      const gone = await create();
      const third = await create();
      await remove(gone);
      expect(await s.policies.list(customer.slug)).toEqual([first, second, third]);
      expect(await s.policies.list('no-such-customer')).toEqual([]);
    });

    it("gets a deleted policy as deleted, and nothing for another customer's or an unknown id", async () => {
      const policy = await create();
      await remove(policy, { by: bob, when: at(1500) });
      expect(await s.policies.get(customer.slug, policy.id)).toEqual({ ...policy, status: 'deleted', deletedBy: bob, deletedAt: at(1500) });
      const other = await newCustomer();
      expect(await s.policies.get(other.slug, policy.id)).toBeUndefined();
      expect(await s.policies.get(customer.slug, trustPolicyRecord(customer).id)).toBeUndefined();
    });
  });

  describe('touchLastUsed', () => {
    it("records the hour a policy's tokens were last used in, a deleted policy's too, in batches over customers", async () => {
      const first = await create();
      const gone = await create();
      await remove(gone);
      const other = await newCustomer();
      const theirs = await create({}, other);
      await s.policies.touchLastUsed([
        { customerSlug: customer.slug, trustPolicyId: first.id, hour: at(3600) },
        { customerSlug: customer.slug, trustPolicyId: gone.id, hour: at(3600) },
        { customerSlug: other.slug, trustPolicyId: theirs.id, hour: at(7200) },
      ]);
      expect((await s.policies.get(customer.slug, first.id))?.lastUsedAt).toBe(at(3600));
      expect(await s.policies.get(customer.slug, gone.id)).toMatchObject({ status: 'deleted', lastUsedAt: at(3600) });
      expect((await s.policies.get(other.slug, theirs.id))?.lastUsedAt).toBe(at(7200));
      expect(await s.policies.touchLastUsed([])).toBeUndefined();
    });
  });

  describe('update', () => {
    it('replaces the policy with what the change computes from it, with the audit event, in one go', async () => {
      const policy = await create({ claims: { ref: 'refs/heads/main' } });
      const calls = noCalls();
      const fields = {
        issuer: 'https://login.microsoftonline.com/tenant/v2.0',
        claims: {},
        tokenLifetimeMinutes: 5,
        environment: 'test' as const,
      };
      const result = await update(policy, fields, calls);
      const updated = { ...policy, ...fields, updatedAt: at(2000) };
      expect(result).toEqual({ outcome: 'updated', policy: updated });
      expect(calls.changed).toEqual([policy]);
      expect(calls.audited).toEqual([[policy, updated]]);
      expect(await s.policies.get(customer.slug, policy.id)).toEqual(updated);
      expect(await s.policies.list(customer.slug)).toEqual([updated]);
      expect((await events()).map((e) => e.type)).toEqual(['trust_policy.updated', 'trust_policy.created']);
    });

    it('answers unchanged when the change leaves it, writing nothing', async () => {
      const policy = await create();
      const calls = noCalls();
      expect(await update(policy, undefined, calls)).toEqual({ outcome: 'unchanged', policy });
      expect(calls.audited).toEqual([]);
      expect(await s.policies.get(customer.slug, policy.id)).toEqual(policy);
      expect(await events()).toHaveLength(1);
    });

    it('moves the label: the old one is free, the new one held; a change of case keeps its own', async () => {
      const policy = await create({ label: 'old name' });
      expect((await update(policy, { label: 'new name' }, noCalls())).outcome).toBe('updated');
      expect(await insert(trustPolicyRecord(customer, { label: 'NEW NAME' }))).toBe('label_taken');
      expect(await insert(trustPolicyRecord(customer, { label: 'Old Name' }))).toBe('inserted');
      const recased = await update(policy, { label: 'New Name' }, noCalls());
      expect(recased.policy?.label).toBe('New Name');
      expect(await insert(trustPolicyRecord(customer, { label: 'new name' }))).toBe('label_taken');
    });

    it('answers label_taken for a label another active policy holds, writing nothing', async () => {
      await create({ label: 'taken' });
      const policy = await create({ label: 'mine' });
      const calls = noCalls();
      expect(await update(policy, { label: ' TAKEN ', audience: 'changed' }, calls)).toEqual({ outcome: 'label_taken' });
      expect(await s.policies.get(customer.slug, policy.id)).toEqual(policy);
      expect(await events()).toHaveLength(2);
      // Its own label is still its own.
      expect(await insert(trustPolicyRecord(customer, { label: 'Mine' }))).toBe('label_taken');
    });

    it("answers not_found for a deleted policy, another customer's or an unknown one, without calling the change", async () => {
      const policy = await create();
      const other = await newCustomer();
      const calls = noCalls();
      expect(await update({ ...policy, customerSlug: other.slug }, { audience: 'x' }, calls)).toEqual({ outcome: 'not_found' });
      expect(await update(trustPolicyRecord(customer), { audience: 'x' }, calls)).toEqual({ outcome: 'not_found' });
      await remove(policy);
      expect(await update(policy, { audience: 'x' }, calls)).toEqual({ outcome: 'not_found' });
      expect(calls).toEqual(noCalls());
    });
  });

  describe('markDeleted', () => {
    it('marks the policy deleted with who and when, audits it as it stood, and frees its label and place', async () => {
      const policy = await create({ label: 'only' });
      expect(await insert(trustPolicyRecord(customer, { label: 'other' }), 1)).toBe('limit_reached');
      const seen: TrustPolicy[] = [];
      const deleted = { ...policy, status: 'deleted', deletedBy: bob, deletedAt: at(1000) };
      expect(await remove(policy, { seen })).toEqual({ outcome: 'deleted', policy: deleted });
      expect(seen).toEqual([policy]);
      expect((await events()).map((e) => e.type)).toEqual(['trust_policy.deleted', 'trust_policy.created']);
      expect(await insert(trustPolicyRecord(customer, { label: 'ONLY' }), 1)).toBe('inserted');
    });

    it('answers already_deleted when deleted before: the first deletion stands, its place is freed once', async () => {
      const policy = await create();
      await create();
      const first = await remove(policy, { by: alice, when: at(1000) });
      const again = await remove(policy, { by: bob, when: at(2000) });
      expect(again).toEqual({ outcome: 'already_deleted', policy: first.policy });
      expect(await s.policies.get(customer.slug, policy.id)).toEqual(first.policy);
      expect(await events()).toHaveLength(3);
      // One place freed: a cap of 2 has room for exactly one more.
      expect(await insert(trustPolicyRecord(customer), 2)).toBe('inserted');
      expect(await insert(trustPolicyRecord(customer), 2)).toBe('limit_reached');
    });

    it('frees the place once under concurrent deletes of one policy', async () => {
      const policy = await create();
      await create();
      const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => remove(policy, { when: at(1000 + i) })));
      expect(outcomes.filter((o) => o.outcome === 'deleted')).toHaveLength(1);
      expect(outcomes.filter((o) => o.outcome === 'already_deleted')).toHaveLength(5);
      expect((await events()).filter((e) => e.type === 'trust_policy.deleted')).toHaveLength(1);
      expect(await insert(trustPolicyRecord(customer), 2)).toBe('inserted');
      expect(await insert(trustPolicyRecord(customer), 2)).toBe('limit_reached');
    });

    it("answers not_found for another customer's or an unknown policy, changing nothing", async () => {
      const policy = await create();
      const other = await newCustomer();
      expect(await remove({ ...policy, customerSlug: other.slug })).toEqual({ outcome: 'not_found' });
      expect(await remove(trustPolicyRecord(customer))).toEqual({ outcome: 'not_found' });
      expect(await s.policies.get(customer.slug, policy.id)).toEqual(policy);
    });
  });
});
