import { MemoryWebhookDeliveryRepository } from '../../shared/adapters/memory/memory-webhook-delivery-repository';
import { TableStorage } from '../../shared/adapters/table/table-storage';
import { TableWebhookDeliveryRepository } from '../../shared/adapters/table/table-webhook-delivery-repository';
import type { WebhookDelivery } from '../../shared/domain';
import { ApiError } from '../../shared/errors';
import { newId } from '../../shared/ids';
import { deliveryIdOf, type WebhookDeliveryRepository } from '../../shared/ports/webhook-delivery-repository';
import { testConfig, uniquePrefix } from '../support/services';

/**
 * The WebhookDeliveryRepository port (shared/ports/webhook-delivery-repository.ts) over the
 * in-memory fake and the Table adapter on Azurite. Every case builds a fresh adapter.
 */
const ADAPTERS: Array<[string, () => Promise<WebhookDeliveryRepository>]> = [
  ['memory', async () => new MemoryWebhookDeliveryRepository()],
  [
    'table (Azurite)',
    async () => {
      const storage = new TableStorage({ ...testConfig().tables, prefix: uniquePrefix() }, { tables: ['webhookDeliveries'] });
      await storage.ensureTables();
      return new TableWebhookDeliveryRepository(storage);
    },
  ],
];

const BASE = Date.parse('2026-03-01T12:00:00.000Z');

function delivery(overrides: Partial<WebhookDelivery> & { at?: number } = {}): WebhookDelivery {
  const { at = 0, ...rest } = overrides;
  const eventId = newId('evt', new Date(BASE + at));
  return {
    id: deliveryIdOf(eventId),
    customerSlug: 'acme',
    endpointId: 'we_01KBZ0000000000000000000AB',
    eventId,
    eventType: 'key.revoked',
    body: JSON.stringify({ id: eventId, type: 'key.revoked', data: { key: { id: 'key_1', label: 'ci ✓' } } }),
    createdAt: new Date(BASE + at).toISOString(),
    status: 'pending',
    attempts: [],
    attemptCount: 0,
    queuedAttempt: -1,
    autoRetry: true,
    ...rest,
  };
}

describe.each(ADAPTERS)('WebhookDeliveryRepository contract: %s', (_name, make) => {
  let repo: WebhookDeliveryRepository;
  beforeEach(async () => {
    repo = await make();
  });

  it('creates a delivery once: a second create of its id answers the stored one', async () => {
    const first = delivery();
    expect(await repo.create(first)).toEqual({ created: true, delivery: first });
    const again = await repo.create({ ...first, body: '{"other":true}', queuedAttempt: 5 });
    expect(again).toEqual({ created: false, delivery: first });
    expect(await repo.get('acme', first.endpointId, first.id)).toEqual(first);
  });

  it("keeps endpoints apart: the same id for another endpoint is another delivery, and get finds only the endpoint's own", async () => {
    const one = delivery();
    const other = { ...one, endpointId: 'we_01KBZ0000000000000000000AC' };
    expect((await repo.create(one)).created).toBe(true);
    expect((await repo.create(other)).created).toBe(true);
    expect(await repo.get('acme', 'we_01KBZ0000000000000000000AD', one.id)).toBeUndefined();
    expect(await repo.get('globex', one.endpointId, one.id)).toBeUndefined();
    expect(await repo.get('acme', one.endpointId, 'dlv_not-an-id')).toBeUndefined();
  });

  it('updates with what the change computes, answering the delivery as it then stands', async () => {
    const d = delivery();
    await repo.create(d);
    const attempt = { at: '2026-03-01T12:00:01.000Z', status: 'failed' as const, durationMs: 12, responseCode: 503 };
    const updated = await repo.update('acme', d.endpointId, d.id, (current) => ({
      ...current,
      attempts: [...current.attempts, attempt],
      attemptCount: current.attemptCount + 1,
      nextAttemptAt: '2026-03-01T12:00:06.000Z',
    }));
    expect(updated).toEqual({ ...d, attempts: [attempt], attemptCount: 1, nextAttemptAt: '2026-03-01T12:00:06.000Z' });
    expect(await repo.get('acme', d.endpointId, d.id)).toEqual(updated);
    // Clearing a field clears it.
    const cleared = await repo.update('acme', d.endpointId, d.id, ({ nextAttemptAt: _next, ...rest }) => ({
      ...rest,
      status: 'delivered',
    }));
    expect(cleared!.nextAttemptAt).toBeUndefined();
    expect(await repo.get('acme', d.endpointId, d.id)).toEqual(cleared);
    // No change: nothing written, the delivery answered as it stands.
    expect(await repo.update('acme', d.endpointId, d.id, () => undefined)).toEqual(cleared);
    expect(await repo.update('acme', d.endpointId, delivery({ at: 5 }).id, (c) => c)).toBeUndefined();
  });

  it('applies concurrent updates one after the other (none is lost)', async () => {
    const d = delivery();
    await repo.create(d);
    await Promise.all(
      Array.from({ length: 5 }, () => repo.update('acme', d.endpointId, d.id, (c) => ({ ...c, attemptCount: c.attemptCount + 1 }))),
    );
    expect((await repo.get('acme', d.endpointId, d.id))!.attemptCount).toBe(5);
  });

  it('keeps a body longer than one column holds, whole', async () => {
    // ASCII: Azurite splits a multi-byte character that straddles 64 KiB of a request body into two
    // replacement characters (its bug, not the service's); short bodies are compared with theirs above.
    const body = JSON.stringify({ places: 'https://example.com/a '.repeat(3_500) });
    const d = delivery({ body });
    await repo.create(d);
    const stored = (await repo.get('acme', d.endpointId, d.id))!.body;
    expect(stored.length).toBe(body.length);
    expect(stored === body).toBe(true); // not toBe(body): a failure would print 77 kB
  });

  it('lists an endpoint’s deliveries newest event first, in pages, and refuses another endpoint’s cursor', async () => {
    const made = [delivery({ at: 1000 }), delivery({ at: 3000 }), delivery({ at: 2000 }), delivery({ at: 4000 })];
    for (const d of made) await repo.create(d);
    await repo.create({ ...delivery({ at: 5000 }), endpointId: 'we_01KBZ0000000000000000000AC' });
    const first = await repo.list('acme', made[0]!.endpointId, { limit: 3 });
    expect(first.items.map((d) => d.createdAt)).toEqual([4000, 3000, 2000].map((ms) => new Date(BASE + ms).toISOString()));
    expect(first.cursor).toEqual(expect.any(String));
    // A delivery made meanwhile shifts nothing.
    await repo.create(delivery({ at: 6000 }));
    const second = await repo.list('acme', made[0]!.endpointId, { limit: 3, cursor: first.cursor });
    expect(second.items.map((d) => d.id)).toEqual([made[0]!.id]);
    expect(second.cursor).toBeUndefined();
    const elsewhere = repo.list('acme', 'we_01KBZ0000000000000000000AC', { limit: 3, cursor: first.cursor });
    await expect(elsewhere).rejects.toBeInstanceOf(ApiError);
    expect(await repo.list('acme', 'we_01KBZ0000000000000000000AD', { limit: 3 })).toEqual({ items: [], cursor: undefined });
  });

  it('moves the checkpoint forward only, per customer', async () => {
    expect(await repo.checkpoint('acme')).toBeUndefined();
    await repo.advanceCheckpoint('acme', '2026-03-01T12:00:05.000Z');
    await repo.advanceCheckpoint('acme', '2026-03-01T12:00:03.000Z');
    expect(await repo.checkpoint('acme')).toBe('2026-03-01T12:00:05.000Z');
    await Promise.all([
      repo.advanceCheckpoint('acme', '2026-03-01T12:00:07.000Z'),
      repo.advanceCheckpoint('acme', '2026-03-01T12:00:06.000Z'),
    ]);
    expect(await repo.checkpoint('acme')).toBe('2026-03-01T12:00:07.000Z');
    expect(await repo.checkpoint('globex')).toBeUndefined();
  });
});
