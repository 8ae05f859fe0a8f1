import { MemoryAuditLog } from '../../shared/adapters/memory/memory-audit-log';
import { MemoryKeyRequestRepository } from '../../shared/adapters/memory/memory-key-request-repository';
import { TableAuditLog } from '../../shared/adapters/table/table-audit-log';
import { TableKeyRequestRepository } from '../../shared/adapters/table/table-key-request-repository';
import type { AuditEvent, KeyRequest } from '../../shared/domain';
import { newId } from '../../shared/ids';
import type { AuditLog } from '../../shared/ports/audit-log';
import type { KeyRequestRepository } from '../../shared/ports/key-request-repository';
import { at, auditEvent, customerAdmin, freshSlug, freshTableStorage, staff } from './support/small-ports';

/**
 * The KeyRequestRepository port (shared/ports/key-request-repository.ts), with the audit log its
 * writes put their events in (the customer's log, as the audit API reads it).
 */
interface Subject {
  requests: KeyRequestRepository;
  audit: AuditLog;
}

const adapters: Array<[string, () => Promise<Subject>]> = [
  [
    'memory',
    async () => {
      const audit = new MemoryAuditLog();
      return { requests: new MemoryKeyRequestRepository(audit), audit };
    },
  ],
  [
    'table (Azurite)',
    async () => {
      const storage = await freshTableStorage('customers', 'keyRequestIndex');
      return { requests: new TableKeyRequestRepository(storage), audit: new TableAuditLog(storage) };
    },
  ],
];

/** A pending request of `customerSlug` submitted `minutes` after the suite's epoch. */
function pendingRequest(customerSlug: string, minutes: number, overrides: Partial<KeyRequest> = {}): KeyRequest {
  const requestedAt = at(minutes);
  return {
    id: newId('req', new Date(requestedAt)),
    customerSlug,
    action: 'rotate-tenant-key',
    status: 'pending',
    params: { gracePeriodHours: 24 },
    requestedBy: customerAdmin,
    requestedAt,
    submittedInRequest: `req-submit-${minutes}`,
    ...overrides,
  };
}

const submitted = (request: KeyRequest): AuditEvent =>
  auditEvent(request.customerSlug, request.requestedAt, { type: 'request.submitted', keyRequestId: request.id });

/** The request decided by staff `minutes` after the epoch, with its audit event. */
function decided(request: KeyRequest, status: 'executed' | 'rejected' | 'failed', minutes: number): [KeyRequest, AuditEvent] {
  const next: KeyRequest = {
    ...request,
    status,
    decidedBy: staff,
    decidedAt: at(minutes),
    ...(status === 'executed' ? { result: { componentVersion: 'v2', keys: ['key_a', 'key_b'] } } : {}),
    ...(status === 'rejected' ? { note: 'Not now.' } : {}),
    ...(status === 'failed' ? { failure: { code: 'action_unavailable', detail: 'A grace period is running.' } } : {}),
  };
  return [next, auditEvent(request.customerSlug, at(minutes), { type: `request.${status}`, keyRequestId: request.id, actor: staff })];
}

const summaryOf = (r: KeyRequest) => ({
  id: r.id,
  customerSlug: r.customerSlug,
  action: r.action,
  status: r.status,
  requestedAt: r.requestedAt,
  requestedBy: r.requestedBy,
});

describe.each(adapters)('KeyRequestRepository contract: %s', (_adapter, make) => {
  let requests: KeyRequestRepository;
  let audit: AuditLog;
  beforeEach(async () => {
    ({ requests, audit } = await make());
  });

  /** The audit event types of the customer's log, oldest first, with the request each names. */
  const auditTrail = async (slug: string) =>
    (await audit.list(slug, { limit: 100 })).items.reverse().map((e) => `${e.type} ${e.keyRequestId ?? ''}`.trim());

  describe('create, get, findById', () => {
    it('stores a request with its audit event; get and findById give it back', async () => {
      const slug = freshSlug();
      const request = pendingRequest(slug, 1);
      expect(await requests.create(request, submitted(request))).toBeUndefined();
      expect(await requests.get(slug, request.id)).toEqual(request);
      expect(await requests.findById(request.id)).toEqual(request);
      expect(await auditTrail(slug)).toEqual([`request.submitted ${request.id}`]);
    });

    it("gives undefined for an unknown id, and for a request asked for under another customer's slug", async () => {
      const request = pendingRequest(freshSlug(), 1);
      await requests.create(request, submitted(request));
      expect(await requests.get(freshSlug(), request.id)).toBeUndefined();
      expect(await requests.get(request.customerSlug, newId('req'))).toBeUndefined();
      expect(await requests.findById(newId('req'))).toBeUndefined();
    });

    it('never blocks a request that is not exclusive: two of one action are both stored', async () => {
      const slug = freshSlug();
      const first = pendingRequest(slug, 1, { action: 'issue-key', params: { label: 'a' } });
      const second = pendingRequest(slug, 2, { action: 'issue-key', params: { label: 'b' } });
      expect(await requests.create(first, submitted(first))).toBeUndefined();
      expect(await requests.create(second, submitted(second))).toBeUndefined();
      expect((await requests.list(slug)).map((r) => r.id)).toEqual([second.id, first.id]);
    });
  });

  describe('exclusive create', () => {
    it('returns the pending request of the action instead of storing a second one (no audit event, no queue line)', async () => {
      const slug = freshSlug();
      const first = pendingRequest(slug, 1);
      const second = pendingRequest(slug, 2);
      expect(await requests.create(first, submitted(first), { exclusive: true })).toBeUndefined();
      expect(await requests.create(second, submitted(second), { exclusive: true })).toEqual(first);
      expect(await requests.get(slug, second.id)).toBeUndefined();
      expect(await requests.findById(second.id)).toBeUndefined();
      expect(await requests.list(slug)).toEqual([first]);
      expect(await requests.listByStatus('pending')).toEqual([summaryOf(first)]);
      expect(await auditTrail(slug)).toEqual([`request.submitted ${first.id}`]);
    });

    it("holds one pending request per customer and action: another action, or another customer's, is not blocked", async () => {
      const slug = freshSlug();
      const rotate = pendingRequest(slug, 1);
      const revoke = pendingRequest(slug, 2, { action: 'revoke-key', params: { keyId: 'key_x' } });
      const elsewhere = pendingRequest(freshSlug(), 3);
      for (const request of [rotate, revoke, elsewhere])
        expect(await requests.create(request, submitted(request), { exclusive: true })).toBeUndefined();
      expect((await requests.listByStatus('pending')).map((r) => r.id)).toEqual([rotate.id, revoke.id, elsewhere.id]);
    });

    it('frees the action once its pending request is decided: the next exclusive request is stored, and then holds it', async () => {
      const slug = freshSlug();
      const first = pendingRequest(slug, 1);
      await requests.create(first, submitted(first), { exclusive: true });
      const [rejected, rejection] = decided(first, 'rejected', 2);
      expect(await requests.transition(rejected, 'pending', rejection)).toBe(true);
      const second = pendingRequest(slug, 3);
      const third = pendingRequest(slug, 4);
      expect(await requests.create(second, submitted(second), { exclusive: true })).toBeUndefined();
      expect(await requests.create(third, submitted(third), { exclusive: true })).toEqual(second);
      expect((await requests.list(slug)).map((r) => [r.id, r.status])).toEqual([
        [second.id, 'pending'],
        [first.id, 'rejected'],
      ]);
    });

    it('stores exactly one of several exclusive requests submitted at once; the others get it back', async () => {
      const slug = freshSlug();
      const racing = [1, 2, 3, 4].map((minute) => pendingRequest(slug, minute));
      const outcomes = await Promise.all(racing.map((r) => requests.create(r, submitted(r), { exclusive: true })));
      const stored = await requests.list(slug);
      expect(stored).toHaveLength(1);
      const winner = stored[0]!;
      expect(outcomes.filter((o) => o === undefined)).toHaveLength(1);
      expect(outcomes.filter((o) => o !== undefined)).toEqual([winner, winner, winner]);
      expect(await requests.listByStatus('pending')).toEqual([summaryOf(winner)]);
      expect(await auditTrail(slug)).toEqual([`request.submitted ${winner.id}`]);
    });
  });

  describe('list and listByStatus', () => {
    it("lists a customer's requests newest first, whatever order they were stored in, and only that customer's", async () => {
      const slug = freshSlug();
      const [a, b, c] = [3, 1, 2].map((minute) => pendingRequest(slug, minute, { action: 'issue-key', params: { minute } }));
      const other = pendingRequest(freshSlug(), 4);
      for (const request of [a!, b!, other, c!]) await requests.create(request, submitted(request));
      expect(await requests.list(slug)).toEqual([a, c, b]);
      expect(await requests.list(freshSlug())).toEqual([]);
    });

    it("lists every customer's requests in one status, oldest first, as queue lines", async () => {
      const x = freshSlug();
      const y = freshSlug();
      const late = pendingRequest(x, 30);
      const early = pendingRequest(y, 10);
      const middle = pendingRequest(x, 20, { action: 'revoke-key', params: { keyId: 'key_y' } });
      for (const request of [late, early, middle]) await requests.create(request, submitted(request), { exclusive: true });
      expect(await requests.listByStatus('pending')).toEqual([summaryOf(early), summaryOf(middle), summaryOf(late)]);
      expect(await requests.listByStatus('executed')).toEqual([]);
    });

    it('moves a request between the status lists as it is decided', async () => {
      const slug = freshSlug();
      const stays = pendingRequest(slug, 1, { action: 'revoke-key', params: { keyId: 'key_z' } });
      const goes = pendingRequest(slug, 2);
      for (const request of [stays, goes]) await requests.create(request, submitted(request), { exclusive: true });
      const [executed, event] = decided(goes, 'executed', 5);
      expect(await requests.transition(executed, 'pending', event)).toBe(true);
      expect(await requests.listByStatus('pending')).toEqual([summaryOf(stays)]);
      expect(await requests.listByStatus('executed')).toEqual([summaryOf(executed)]);
    });
  });

  describe('transition', () => {
    it.each(['executed', 'rejected', 'failed'] as const)(
      'moves a pending request to %s with its audit event; get and findById give the new request',
      async (status) => {
        const slug = freshSlug();
        const request = pendingRequest(slug, 1);
        await requests.create(request, submitted(request), { exclusive: true });
        const [next, event] = decided(request, status, 2);
        expect(await requests.transition(next, 'pending', event)).toBe(true);
        expect(await requests.get(slug, request.id)).toEqual(next);
        expect(await requests.findById(request.id)).toEqual(next);
        expect(await auditTrail(slug)).toEqual([`request.submitted ${request.id}`, `request.${status} ${request.id}`]);
      },
    );

    it('answers false when the request is no longer in the expected status, and changes nothing', async () => {
      const slug = freshSlug();
      const request = pendingRequest(slug, 1);
      await requests.create(request, submitted(request), { exclusive: true });
      const [rejected, rejection] = decided(request, 'rejected', 2);
      await requests.transition(rejected, 'pending', rejection);
      const [executed, execution] = decided(request, 'executed', 3);
      expect(await requests.transition(executed, 'pending', execution)).toBe(false);
      expect(await requests.get(slug, request.id)).toEqual(rejected);
      expect(await requests.listByStatus('executed')).toEqual([]);
      expect(await auditTrail(slug)).toEqual([`request.submitted ${request.id}`, `request.rejected ${request.id}`]);
    });

    it('answers false for a request that was never stored, and stores nothing', async () => {
      const slug = freshSlug();
      const [executed, event] = decided(pendingRequest(slug, 1), 'executed', 2);
      expect(await requests.transition(executed, 'pending', event)).toBe(false);
      expect(await requests.get(slug, executed.id)).toBeUndefined();
      expect(await requests.list(slug)).toEqual([]);
      expect(await auditTrail(slug)).toEqual([]);
    });

    it('lets exactly one of two concurrent decisions win', async () => {
      const slug = freshSlug();
      const request = pendingRequest(slug, 1);
      await requests.create(request, submitted(request), { exclusive: true });
      const [executed, execution] = decided(request, 'executed', 2);
      const [rejected, rejection] = decided(request, 'rejected', 2);
      const [executedWon, rejectedWon] = await Promise.all([
        requests.transition(executed, 'pending', execution),
        requests.transition(rejected, 'pending', rejection),
      ]);
      expect([executedWon, rejectedWon].filter(Boolean)).toHaveLength(1);
      const winner = executedWon ? executed : rejected;
      expect(await requests.get(slug, request.id)).toEqual(winner);
      expect(await requests.listByStatus(winner.status)).toEqual([summaryOf(winner)]);
      expect(await auditTrail(slug)).toEqual([`request.submitted ${request.id}`, `request.${winner.status} ${request.id}`]);
    });
  });
});
