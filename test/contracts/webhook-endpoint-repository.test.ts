import { MemoryAuditLog } from '../../shared/adapters/memory/memory-audit-log';
import { MemoryCustomerRepository } from '../../shared/adapters/memory/memory-customer-repository';
import { MemoryWebhookEndpointRepository } from '../../shared/adapters/memory/memory-webhook-endpoint-repository';
import { TableAuditLog } from '../../shared/adapters/table/table-audit-log';
import { TableCustomerRepository } from '../../shared/adapters/table/table-customer-repository';
import { TableWebhookEndpointRepository } from '../../shared/adapters/table/table-webhook-endpoint-repository';
import type { AuditEvent, AuditEventType, Customer, WebhookEndpoint } from '../../shared/domain';
import { newId } from '../../shared/ids';
import type { AuditLog } from '../../shared/ports/audit-log';
import type { CustomerRepository } from '../../shared/ports/customer-repository';
import type { WebhookEndpointRepository } from '../../shared/ports/webhook-endpoint-repository';
import { alice, at, auditEvent as eventAt0, bob, customerRecord, storedCustomer, webhookEndpointRecord } from './support/records';
import { freshTableStorage } from './support/small-ports';

/**
 * The WebhookEndpointRepository port (shared/ports/webhook-endpoint-repository.ts) as its doc
 * comments promise it, run against the in-memory fake and the Table adapter (on Azurite), each
 * over the customer repository and audit log of its kind. Every case builds a fresh adapter.
 */
interface Subject {
  endpoints: WebhookEndpointRepository;
  customers: CustomerRepository;
  audit: AuditLog;
}

let tick = 0;
/** An audit event a second after the previous one built, so the log's order (newest first) is the order of the calls. */
function auditEvent(customerSlug: string, type: AuditEventType = 'webhook_endpoint.created'): AuditEvent {
  const when = at(100 + ++tick);
  return { ...eventAt0(customerSlug, type), at: when, id: newId('evt', new Date(when)) };
}

const ADAPTERS: Array<[string, () => Promise<Subject>]> = [
  [
    'memory',
    async () => {
      const customers = new MemoryCustomerRepository();
      const audit = new MemoryAuditLog();
      return { customers, audit, endpoints: new MemoryWebhookEndpointRepository(customers, audit) };
    },
  ],
  [
    'table (Azurite)',
    async () => {
      const storage = await freshTableStorage('customers', 'webhookCustomers');
      return {
        customers: new TableCustomerRepository(storage),
        audit: new TableAuditLog(storage),
        endpoints: new TableWebhookEndpointRepository(storage),
      };
    },
  ],
];

describe.each(ADAPTERS)('WebhookEndpointRepository contract: %s', (_adapter, make) => {
  let s: Subject;
  let customer: Customer;

  beforeEach(async () => {
    s = await make();
    customer = await newCustomer();
  });

  const newCustomer = (overrides: Partial<Customer> = {}): Promise<Customer> => storedCustomer(s.customers, overrides);

  const insert = (endpoint: WebhookEndpoint, limit = 10) =>
    s.endpoints.insert(endpoint, { limit: () => limit, audit: auditEvent(endpoint.customerSlug, 'webhook_endpoint.created') });

  /** An endpoint as the service creates it. */
  async function create(overrides: Partial<WebhookEndpoint> = {}, owner: Customer = customer): Promise<WebhookEndpoint> {
    const endpoint = webhookEndpointRecord(owner, overrides);
    expect(await insert(endpoint)).toBe('inserted');
    return endpoint;
  }

  const remove = (endpoint: WebhookEndpoint, options: { by?: typeof bob; when?: string; seen?: WebhookEndpoint[] } = {}) =>
    s.endpoints.markDeleted(endpoint.customerSlug, endpoint.id, {
      deletedBy: options.by ?? bob,
      deletedAt: options.when ?? at(1000),
      audit: (current) => {
        options.seen?.push(current);
        return auditEvent(endpoint.customerSlug, 'webhook_endpoint.deleted');
      },
    });

  const update = (endpoint: WebhookEndpoint, change: (current: WebhookEndpoint) => WebhookEndpoint | undefined, audited: unknown[] = []) =>
    s.endpoints.update(endpoint.customerSlug, endpoint.id, change, (before, after) => {
      audited.push([before, after]);
      return auditEvent(endpoint.customerSlug, 'webhook_endpoint.updated');
    });

  const disable = (endpoint: WebhookEndpoint, options: { when?: (current: WebhookEndpoint) => boolean; seen?: WebhookEndpoint[] } = {}) =>
    s.endpoints.disable(endpoint.customerSlug, endpoint.id, {
      at: at(5000),
      reason: 'failing',
      when: options.when,
      audit: (current) => {
        options.seen?.push(current);
        return auditEvent(endpoint.customerSlug, 'webhook_endpoint.disabled');
      },
    });

  const outcome = (endpoint: WebhookEndpoint, success: boolean, seconds: number) =>
    s.endpoints.recordOutcome(endpoint.customerSlug, endpoint.id, { success, at: at(seconds) });

  /** The customer's audit events, newest first. */
  const events = async (owner: Customer = customer): Promise<AuditEvent[]> => (await s.audit.list(owner.slug, { limit: 100 })).items;
  const indexed = async (): Promise<string[]> => (await s.endpoints.listCustomersWithEndpoints()).sort();

  describe('insert', () => {
    it('writes an endpoint that reads back as written, with its audit event, and takes a place under the cap', async () => {
      const endpoint = webhookEndpointRecord(customer, {
        events: ['key.revoked', 'key.exposed'],
        description: 'PagerDuty bridge',
        secrets: [{ encrypted: 'v1.sealed', createdAt: at(1) }],
      });
      const audit = auditEvent(customer.slug, 'webhook_endpoint.created');
      expect(await s.endpoints.insert(endpoint, { limit: () => 1, audit })).toBe('inserted');
      expect(await s.endpoints.get(customer.slug, endpoint.id)).toEqual(endpoint);
      expect(await s.endpoints.list(customer.slug)).toEqual([endpoint]);
      expect(await events()).toEqual([audit]);
      expect(await s.endpoints.insert(webhookEndpointRecord(customer), { limit: () => 1, audit: auditEvent(customer.slug) })).toBe(
        'limit_reached',
      );
    });

    it('answers customer_missing for a customer that does not exist, and writes nothing', async () => {
      const ghost = customerRecord();
      const endpoint = webhookEndpointRecord(ghost);
      expect(await insert(endpoint)).toBe('customer_missing');
      expect(await s.endpoints.get(ghost.slug, endpoint.id)).toBeUndefined();
      expect(await s.endpoints.list(ghost.slug)).toEqual([]);
      expect(await events(ghost)).toEqual([]);
      expect(await indexed()).not.toContain(ghost.slug);
    });

    it("answers limit_reached once the endpoints not deleted fill the cap of the customer's current row, a disabled one included", async () => {
      await s.customers.update(customer.slug, () => ({ plan: 'starter' }));
      const plans: string[] = [];
      const limited = (endpoint: WebhookEndpoint) =>
        s.endpoints.insert(endpoint, {
          limit: (current) => {
            plans.push(current.plan);
            return current.plan === 'starter' ? 2 : 100;
          },
          audit: auditEvent(customer.slug, 'webhook_endpoint.created'),
        });
      const first = webhookEndpointRecord(customer);
      expect(await limited(first)).toBe('inserted');
      expect(await limited(webhookEndpointRecord(customer))).toBe('inserted');
      expect((await disable(first)).outcome).toBe('disabled');
      const third = webhookEndpointRecord(customer);
      expect(await limited(third)).toBe('limit_reached');
      expect(await s.endpoints.get(customer.slug, third.id)).toBeUndefined();
      expect(await s.endpoints.list(customer.slug)).toHaveLength(2);
      expect((await events()).map((e) => e.type)).toEqual([
        'webhook_endpoint.disabled',
        'webhook_endpoint.created',
        'webhook_endpoint.created',
      ]);
      expect(plans).toEqual(['starter', 'starter', 'starter']);
    });

    it('holds the cap under concurrent inserts', async () => {
      const racing = await Promise.all(Array.from({ length: 12 }, () => insert(webhookEndpointRecord(customer), 5)));
      expect(racing.filter((o) => o === 'inserted')).toHaveLength(5);
      expect(racing.filter((o) => o === 'limit_reached')).toHaveLength(7);
      expect(await s.endpoints.list(customer.slug)).toHaveLength(5);
      expect(await events()).toHaveLength(5);
    });
  });

  describe('list and get', () => {
    it("lists the customer's endpoints not deleted (disabled ones too) oldest first, never another customer's", async () => {
      const first = await create();
      const other = await newCustomer();
      await create({}, other);
      const second = await create();
      const gone = await create();
      const third = await create();
      await remove(gone);
      const disabled = (await disable(second)).endpoint;
      expect(disabled?.status).toBe('disabled');
      expect(await s.endpoints.list(customer.slug)).toEqual([first, disabled, third]);
      expect(await s.endpoints.list('no-such-customer')).toEqual([]);
    });

    it("gets a deleted endpoint as deleted, and nothing for another customer's or an unknown id", async () => {
      const endpoint = await create();
      await remove(endpoint, { by: bob, when: at(1500) });
      expect(await s.endpoints.get(customer.slug, endpoint.id)).toEqual({
        ...endpoint,
        status: 'deleted',
        deletedBy: bob,
        deletedAt: at(1500),
      });
      const other = await newCustomer();
      expect(await s.endpoints.get(other.slug, endpoint.id)).toBeUndefined();
      expect(await s.endpoints.get(customer.slug, webhookEndpointRecord(customer).id)).toBeUndefined();
    });
  });

  describe('update', () => {
    it('replaces the endpoint with what the change computes from it, with the audit event, in one go', async () => {
      const endpoint = await create({ description: 'old', events: ['key.issued'] });
      const audited: unknown[] = [];
      const changed: WebhookEndpoint[] = [];
      const result = await update(
        endpoint,
        (current) => {
          changed.push(current);
          // `description` removed: an optional field cleared must not survive in storage.
          const { description: _gone, ...rest } = current;
          return {
            ...rest,
            url: 'https://hooks.example.com/new',
            events: ['key.revoked', 'key.rolled'],
            secrets: [
              { encrypted: 'new', createdAt: at(2000) },
              { ...current.secrets[0]!, expiresAt: at(2000 + 86_400) },
            ],
            updatedAt: at(2000),
          };
        },
        audited,
      );
      const updated: WebhookEndpoint = {
        ...endpoint,
        url: 'https://hooks.example.com/new',
        events: ['key.revoked', 'key.rolled'],
        secrets: [
          { encrypted: 'new', createdAt: at(2000) },
          { ...endpoint.secrets[0]!, expiresAt: at(2000 + 86_400) },
        ],
        updatedAt: at(2000),
      };
      delete updated.description;
      expect(result).toEqual({ outcome: 'updated', endpoint: updated });
      expect(changed).toEqual([endpoint]);
      expect(audited).toEqual([[endpoint, updated]]);
      expect(await s.endpoints.get(customer.slug, endpoint.id)).toEqual(updated);
      expect((await events()).map((e) => e.type)).toEqual(['webhook_endpoint.updated', 'webhook_endpoint.created']);
    });

    it('answers unchanged when the change leaves it, writing nothing', async () => {
      const endpoint = await create();
      const audited: unknown[] = [];
      expect(await update(endpoint, () => undefined, audited)).toEqual({ outcome: 'unchanged', endpoint });
      expect(audited).toEqual([]);
      expect(await events()).toHaveLength(1);
    });

    it('changes a disabled endpoint (re-enabling it clears what disabling set)', async () => {
      const endpoint = await create();
      await outcome(endpoint, false, 10);
      await disable(endpoint);
      const result = await update(endpoint, (current) => {
        const { disabledAt: _a, disabledReason: _r, failingSince: _f, ...rest } = current;
        return { ...rest, status: 'active', updatedAt: at(6000) };
      });
      expect(result.outcome).toBe('updated');
      expect(await s.endpoints.get(customer.slug, endpoint.id)).toEqual({ ...endpoint, updatedAt: at(6000) });
    });

    it("answers not_found for a deleted endpoint, another customer's or an unknown one, without calling the change", async () => {
      const endpoint = await create();
      const other = await newCustomer();
      const calls: WebhookEndpoint[] = [];
      const change = (current: WebhookEndpoint) => {
        calls.push(current);
        return { ...current, url: 'https://x.example.com' };
      };
      expect(await update({ ...endpoint, customerSlug: other.slug }, change)).toEqual({ outcome: 'not_found' });
      expect(await update(webhookEndpointRecord(customer), change)).toEqual({ outcome: 'not_found' });
      await remove(endpoint);
      expect(await update(endpoint, change)).toEqual({ outcome: 'not_found' });
      expect(calls).toEqual([]);
    });

    it('runs the change again on the fresh endpoint when another write lands first, losing neither', async () => {
      const endpoint = await create();
      const results = await Promise.all([
        update(endpoint, (current) => ({ ...current, description: `${current.description ?? ''}a` })),
        update(endpoint, (current) => ({ ...current, description: `${current.description ?? ''}b` })),
        outcome(endpoint, true, 50),
      ]);
      expect(results[0]).toMatchObject({ outcome: 'updated' });
      expect(results[1]).toMatchObject({ outcome: 'updated' });
      const stored = await s.endpoints.get(customer.slug, endpoint.id);
      expect(['ab', 'ba']).toContain(stored?.description);
      expect(stored?.lastSuccessAt).toBe(at(50));
    });
  });

  describe('markDeleted', () => {
    it('marks the endpoint deleted with who and when, audits it as it stood, and frees its place', async () => {
      const endpoint = await create();
      expect(await insert(webhookEndpointRecord(customer), 1)).toBe('limit_reached');
      const seen: WebhookEndpoint[] = [];
      const deleted = { ...endpoint, status: 'deleted', deletedBy: bob, deletedAt: at(1000) };
      expect(await remove(endpoint, { seen })).toEqual({ outcome: 'deleted', endpoint: deleted });
      expect(seen).toEqual([endpoint]);
      expect((await events()).map((e) => e.type)).toEqual(['webhook_endpoint.deleted', 'webhook_endpoint.created']);
      expect(await insert(webhookEndpointRecord(customer), 1)).toBe('inserted');
    });

    it('deletes a disabled endpoint too', async () => {
      const endpoint = await create();
      await disable(endpoint);
      expect((await remove(endpoint)).outcome).toBe('deleted');
      expect(await s.endpoints.list(customer.slug)).toEqual([]);
    });

    it('answers already_deleted when deleted before: the first deletion stands, its place is freed once', async () => {
      const endpoint = await create();
      await create();
      const first = await remove(endpoint, { by: alice, when: at(1000) });
      const again = await remove(endpoint, { by: bob, when: at(2000) });
      expect(again).toEqual({ outcome: 'already_deleted', endpoint: first.endpoint });
      expect(await events()).toHaveLength(3);
      expect(await insert(webhookEndpointRecord(customer), 2)).toBe('inserted');
      expect(await insert(webhookEndpointRecord(customer), 2)).toBe('limit_reached');
    });

    it('frees the place once under concurrent deletes of one endpoint', async () => {
      const endpoint = await create();
      await create();
      const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => remove(endpoint, { when: at(1000 + i) })));
      expect(outcomes.filter((o) => o.outcome === 'deleted')).toHaveLength(1);
      expect(outcomes.filter((o) => o.outcome === 'already_deleted')).toHaveLength(5);
      expect((await events()).filter((e) => e.type === 'webhook_endpoint.deleted')).toHaveLength(1);
      expect(await insert(webhookEndpointRecord(customer), 2)).toBe('inserted');
      expect(await insert(webhookEndpointRecord(customer), 2)).toBe('limit_reached');
    });

    it("answers not_found for another customer's or an unknown endpoint, changing nothing", async () => {
      const endpoint = await create();
      const other = await newCustomer();
      expect(await remove({ ...endpoint, customerSlug: other.slug })).toEqual({ outcome: 'not_found' });
      expect(await remove(webhookEndpointRecord(customer))).toEqual({ outcome: 'not_found' });
      expect(await s.endpoints.get(customer.slug, endpoint.id)).toEqual(endpoint);
    });
  });

  describe('listCustomersWithEndpoints', () => {
    it('names each customer with an endpoint not deleted, a disabled one included, until its last one is deleted', async () => {
      expect(await indexed()).toEqual([]);
      const first = await create();
      const second = await create();
      const other = await newCustomer();
      const theirs = await create({}, other);
      await newCustomer();
      expect(await indexed()).toEqual([customer.slug, other.slug].sort());
      await disable(theirs);
      await remove(first);
      expect(await indexed()).toEqual([customer.slug, other.slug].sort());
      await remove(second);
      expect(await indexed()).toEqual([other.slug]);
      // A customer whose every endpoint went comes back with its next one.
      await create();
      expect(await indexed()).toEqual([customer.slug, other.slug].sort());
    });

    it('never misses a customer when its last endpoint is deleted while another is created', async () => {
      for (let round = 0; round < 6; round++) {
        const owner = await newCustomer();
        const last = await create({}, owner);
        const [, created] = await Promise.all([remove(last), insert(webhookEndpointRecord(owner))]);
        expect(created).toBe('inserted');
        expect(await s.endpoints.listCustomersWithEndpoints()).toContain(owner.slug);
      }
    });
  });

  describe('recordOutcome', () => {
    it('sets failingSince on the first failure and keeps it; a success clears it and sets lastSuccessAt; no audit, updatedAt kept', async () => {
      const endpoint = await create();
      expect(await outcome(endpoint, false, 10)).toEqual({ ...endpoint, failingSince: at(10) });
      expect(await outcome(endpoint, false, 20)).toEqual({ ...endpoint, failingSince: at(10) });
      expect(await outcome(endpoint, true, 30)).toEqual({ ...endpoint, lastSuccessAt: at(30) });
      expect(await outcome(endpoint, true, 40)).toEqual({ ...endpoint, lastSuccessAt: at(40) });
      expect(await outcome(endpoint, false, 50)).toEqual({ ...endpoint, lastSuccessAt: at(40), failingSince: at(50) });
      expect(await s.endpoints.get(customer.slug, endpoint.id)).toEqual({ ...endpoint, lastSuccessAt: at(40), failingSince: at(50) });
      expect(await events()).toHaveLength(1);
    });

    it('takes outcomes out of order without undoing a later one', async () => {
      const endpoint = await create();
      await outcome(endpoint, true, 100);
      // A failure older than the last success does not start failing.
      expect(await outcome(endpoint, false, 90)).toEqual({ ...endpoint, lastSuccessAt: at(100) });
      await outcome(endpoint, false, 200);
      // A success older than failingSince does not clear it, nor move lastSuccessAt back.
      expect(await outcome(endpoint, true, 150)).toEqual({ ...endpoint, lastSuccessAt: at(150), failingSince: at(200) });
      expect(await outcome(endpoint, true, 120)).toEqual({ ...endpoint, lastSuccessAt: at(150), failingSince: at(200) });
      // An earlier failure, after the last success, moves failingSince back to it.
      expect(await outcome(endpoint, false, 180)).toEqual({ ...endpoint, lastSuccessAt: at(150), failingSince: at(180) });
    });

    it("records on a disabled endpoint, and answers undefined for a deleted, another customer's or an unknown one", async () => {
      const endpoint = await create();
      const { endpoint: disabled } = await disable(endpoint);
      expect(await outcome(endpoint, true, 10)).toEqual({ ...disabled, lastSuccessAt: at(10) });
      await remove(endpoint);
      expect(await outcome(endpoint, false, 20)).toBeUndefined();
      expect((await s.endpoints.get(customer.slug, endpoint.id))?.failingSince).toBeUndefined();
      const other = await newCustomer();
      expect(await outcome({ ...endpoint, customerSlug: other.slug }, false, 20)).toBeUndefined();
      expect(await outcome(webhookEndpointRecord(customer), false, 20)).toBeUndefined();
    });

    it('keeps the earliest failure when failures race', async () => {
      const endpoint = await create();
      await Promise.all([30, 10, 20, 40].map((seconds) => outcome(endpoint, false, seconds)));
      expect((await s.endpoints.get(customer.slug, endpoint.id))?.failingSince).toBe(at(10));
    });
  });

  describe('disable', () => {
    it('disables an active endpoint with when and why, audits it as it stood, and it is still listed', async () => {
      const endpoint = await create();
      await outcome(endpoint, false, 10);
      const seen: WebhookEndpoint[] = [];
      const result = await disable(endpoint, { seen });
      const disabled = {
        ...endpoint,
        failingSince: at(10),
        status: 'disabled',
        disabledAt: at(5000),
        disabledReason: 'failing',
        updatedAt: at(5000),
      };
      expect(result).toEqual({ outcome: 'disabled', endpoint: disabled });
      expect(seen).toEqual([{ ...endpoint, failingSince: at(10) }]);
      expect(await s.endpoints.get(customer.slug, endpoint.id)).toEqual(disabled);
      expect(await s.endpoints.list(customer.slug)).toEqual([disabled]);
      expect((await events()).map((e) => e.type)).toEqual(['webhook_endpoint.disabled', 'webhook_endpoint.created']);
    });

    it('asks `when` on the endpoint as it stands, and leaves it (unchanged, no audit) when it says no', async () => {
      const endpoint = await create();
      await outcome(endpoint, false, 10);
      await outcome(endpoint, true, 20);
      const asked: WebhookEndpoint[] = [];
      const result = await disable(endpoint, {
        when: (current) => {
          asked.push(current);
          return current.failingSince !== undefined;
        },
      });
      expect(result).toEqual({ outcome: 'unchanged', endpoint: { ...endpoint, lastSuccessAt: at(20) } });
      expect(asked).toEqual([{ ...endpoint, lastSuccessAt: at(20) }]);
      expect(await events()).toHaveLength(1);
    });

    it('answers unchanged for a disabled endpoint and not_found for a deleted or unknown one, writing nothing', async () => {
      const endpoint = await create();
      await disable(endpoint);
      const again = await disable(endpoint);
      expect(again.outcome).toBe('unchanged');
      expect(again.endpoint?.status).toBe('disabled');
      await remove(endpoint);
      expect(await disable(endpoint)).toEqual({ outcome: 'not_found' });
      expect(await disable(webhookEndpointRecord(customer))).toEqual({ outcome: 'not_found' });
      expect((await events()).filter((e) => e.type === 'webhook_endpoint.disabled')).toHaveLength(1);
    });

    it('disables once under concurrent calls', async () => {
      const endpoint = await create();
      const results = await Promise.all(Array.from({ length: 5 }, () => disable(endpoint)));
      expect(results.filter((r) => r.outcome === 'disabled')).toHaveLength(1);
      expect(results.filter((r) => r.outcome === 'unchanged')).toHaveLength(4);
      expect((await events()).filter((e) => e.type === 'webhook_endpoint.disabled')).toHaveLength(1);
    });
  });
});
