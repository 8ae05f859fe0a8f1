import { MemoryCustomerRepository } from '../../shared/adapters/memory/memory-customer-repository';
import { TableCustomerRepository } from '../../shared/adapters/table/table-customer-repository';
import type { Customer } from '../../shared/domain';
import { newId } from '../../shared/ids';
import type { CustomerRepository } from '../../shared/ports/customer-repository';
import { customerRecord } from './support/records';
import { at, freshSlug, freshTableStorage } from './support/small-ports';

/** The CustomerRepository port (shared/ports/customer-repository.ts): one behaviour, whichever adapter holds the customers. */
const adapters: Array<[string, () => Promise<CustomerRepository>]> = [
  ['memory', async () => new MemoryCustomerRepository()],
  ['table (Azurite)', async () => new TableCustomerRepository(await freshTableStorage('customers'))],
];

/** A new customer as the customer service creates it (no keys, nothing optional set), on its own slug. */
const newCustomer = (overrides: Partial<Customer> = {}): Customer => customerRecord({ slug: freshSlug(), ...overrides });

/** A customer with every optional field set. */
const fullCustomer = (): Customer =>
  newCustomer({
    plan: 'enterprise',
    componentVersion: 'v3',
    previousComponentVersion: 'v2',
    graceEndsAt: at(60),
    componentRotatedAt: at(1),
    requireComponent: true,
    autoRevokeStaleKeys: true,
    leakedKeyPolicy: 'notify',
    keyReview: { at: at(2), stale: 4, rotationDue: 1 },
    activeKeyCount: 3,
    keyLimitOverride: 25,
  });

describe.each(adapters)('CustomerRepository contract: %s', (_adapter, make) => {
  let repo: CustomerRepository;
  beforeEach(async () => {
    repo = await make();
  });

  describe('create and get', () => {
    it('creates a customer and gives it back, every field', async () => {
      const plain = newCustomer();
      const full = fullCustomer();
      expect(await repo.create(plain)).toBe('created');
      expect(await repo.create(full)).toBe('created');
      expect(await repo.get(plain.slug)).toEqual(plain);
      expect(await repo.get(full.slug)).toEqual(full);
    });

    it("answers 'exists' for a slug that is taken, and changes nothing", async () => {
      const first = newCustomer();
      await repo.create(first);
      const second = newCustomer({ slug: first.slug, id: newId('cus'), name: 'Someone Else', plan: 'starter' });
      expect(await repo.create(second)).toBe('exists');
      expect(await repo.get(first.slug)).toEqual(first);
      expect(await repo.list()).toEqual([first]);
    });

    it('gives undefined for a customer that does not exist', async () => {
      await repo.create(newCustomer());
      expect(await repo.get(freshSlug())).toBeUndefined();
    });
  });

  describe('list', () => {
    it('lists every customer, and only customers', async () => {
      expect(await repo.list()).toEqual([]);
      const customers = [newCustomer(), fullCustomer(), newCustomer()];
      for (const customer of customers) await repo.create(customer);
      await repo.update(customers[0]!.slug, () => ({ plan: 'starter' }));
      const listed = await repo.list();
      expect(listed).toHaveLength(3);
      const bySlug = (a: Customer, b: Customer) => a.slug.localeCompare(b.slug);
      expect([...listed].sort(bySlug)).toEqual([{ ...customers[0]!, plan: 'starter' as const }, customers[1]!, customers[2]!].sort(bySlug));
    });
  });

  describe('update', () => {
    it('applies the patch computed from the current row: before, after, changed; get sees the change', async () => {
      const customer = newCustomer({ activeKeyCount: 2 });
      await repo.create(customer);
      const seen: Customer[] = [];
      const result = await repo.update(customer.slug, (current) => {
        seen.push(current);
        return { plan: 'enterprise', requireComponent: true, keyReview: { at: at(5), stale: 1, rotationDue: 0 } };
      });
      const after = {
        ...customer,
        plan: 'enterprise' as const,
        requireComponent: true,
        keyReview: { at: at(5), stale: 1, rotationDue: 0 },
      };
      expect(seen).toEqual([customer]);
      expect(result).toEqual({ before: customer, after, changed: true });
      // Fields the patch does not name (the active-key count among them) are kept.
      expect(await repo.get(customer.slug)).toEqual(after);
    });

    it('clears a value patched to null (key-limit override, previous component, grace end)', async () => {
      const customer = fullCustomer();
      await repo.create(customer);
      const result = await repo.update(customer.slug, () => ({
        keyLimitOverride: null,
        previousComponentVersion: null,
        graceEndsAt: null,
      }));
      const cleared = { ...customer, keyLimitOverride: undefined, previousComponentVersion: undefined, graceEndsAt: undefined };
      expect(result?.after).toEqual(cleared);
      expect(await repo.get(customer.slug)).toEqual(cleared);
      expect(await repo.list()).toEqual([cleared]);
    });

    it('leaves the row alone when the change returns undefined (changed: false, after is before)', async () => {
      const customer = fullCustomer();
      await repo.create(customer);
      expect(await repo.update(customer.slug, () => undefined)).toEqual({ before: customer, after: customer, changed: false });
      expect(await repo.get(customer.slug)).toEqual(customer);
    });

    it('resolves undefined for a customer that does not exist, and creates none', async () => {
      const slug = freshSlug();
      expect(await repo.update(slug, () => ({ plan: 'starter' }))).toBeUndefined();
      expect(await repo.get(slug)).toBeUndefined();
      expect(await repo.list()).toEqual([]);
    });

    it('loses no update under concurrency: each change runs on the row as the previous update left it', async () => {
      const customer = newCustomer();
      await repo.create(customer);
      const writers = 8;
      const results = await Promise.all(
        Array.from({ length: writers }, () =>
          repo.update(customer.slug, (current) => ({ keyLimitOverride: (current.keyLimitOverride ?? 0) + 1 })),
        ),
      );
      expect((await repo.get(customer.slug))?.keyLimitOverride).toBe(writers);
      // Every update saw a different row, and wrote one more than it saw.
      for (const result of results) expect(result?.after.keyLimitOverride).toBe((result?.before.keyLimitOverride ?? 0) + 1);
      expect(results.map((r) => r?.after.keyLimitOverride).sort((a, b) => a! - b!)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    });
  });
});
