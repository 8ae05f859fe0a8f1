import { MemoryWorkQueue } from '../../shared/adapters/memory/memory-work-queue';
import { QueueOperationCounter, StorageWorkQueue } from '../../shared/adapters/queue/storage-queue';
import { ManualClock } from '../../shared/clock';
import type { WorkQueue } from '../../shared/ports/work-queue';
import { azuriteConnectionString, uniquePrefix } from '../support/services';

/**
 * The WorkQueue port (shared/ports/work-queue.ts) over the in-memory fake and the Azure Storage
 * queue adapter on Azurite's queue service. Visibility is exercised with delays far ahead (never
 * reached) and with `release` (a receiver giving a message back, as a crashed one does when its
 * timeout passes); the fake alone also runs its clock forward.
 */
interface Subject {
  queue: WorkQueue;
  /** Moves time forward, where the adapter's time can be moved (the fake's clock). */
  advance?: (ms: number) => void;
}

const adapters: Array<[string, () => Subject]> = [
  [
    'memory',
    () => {
      const clock = new ManualClock('2026-03-01T12:00:00.000Z');
      return { queue: new MemoryWorkQueue(clock), advance: (ms) => clock.advance(ms) };
    },
  ],
  [
    'azure storage queue (Azurite)',
    () => ({
      queue: new StorageWorkQueue(
        { connectionString: azuriteConnectionString(), endpoint: undefined, prefix: '', timeoutMs: 10_000 },
        `${uniquePrefix()}-contract`,
      ),
    }),
  ],
];

const LONG = 3_600_000;

describe.each(adapters)('WorkQueue contract: %s', (_name, make) => {
  let queue: WorkQueue;
  let advance: Subject['advance'];
  beforeEach(() => {
    ({ queue, advance } = make());
  });

  it('gives nothing while empty', async () => {
    expect(await queue.receive({ max: 32, visibilityTimeoutMs: 30_000 })).toEqual([]);
  });

  it('hands a message out whole, once, and hides it while it is leased', async () => {
    const body = JSON.stringify({ d: 'dlv_1', text: 'é ✓ '.repeat(500) });
    await queue.send(body);
    const [message, ...rest] = await queue.receive({ max: 32, visibilityTimeoutMs: LONG });
    expect(rest).toEqual([]);
    expect(message).toMatchObject({ body, dequeueCount: 1 });
    expect(typeof message!.id).toBe('string');
    expect(await queue.receive({ max: 32, visibilityTimeoutMs: LONG })).toEqual([]);
  });

  it('gives a released message out again, counting its receives, until it is deleted', async () => {
    await queue.send('work');
    const [first] = await queue.receive({ max: 1, visibilityTimeoutMs: LONG });
    const released = await queue.release(first!, 0);
    expect(released).toMatchObject({ id: first!.id, body: 'work' });
    const [again] = await queue.receive({ max: 1, visibilityTimeoutMs: LONG });
    expect(again).toMatchObject({ id: first!.id, body: 'work', dequeueCount: 2 });
    await queue.delete(again!);
    // Gone: releasing it finds nothing, and nothing comes back.
    expect(await queue.release(again!, 0)).toBeUndefined();
    expect(await queue.receive({ max: 32, visibilityTimeoutMs: LONG })).toEqual([]);
  });

  it('keeps a message that a stale claim tries to delete or release (someone received it since)', async () => {
    await queue.send('contested');
    const [stale] = await queue.receive({ max: 1, visibilityTimeoutMs: LONG });
    const current = await queue.release(stale!, 0);
    expect(current).toBeDefined();
    await queue.delete(stale!);
    expect(await queue.release(stale!, 0)).toBeUndefined();
    const [still] = await queue.receive({ max: 1, visibilityTimeoutMs: LONG });
    expect(still).toMatchObject({ id: stale!.id, body: 'contested' });
  });

  it('holds a delayed message back, and gives the others meanwhile', async () => {
    await queue.send('later', { delayMs: LONG });
    await queue.send('now');
    const received = await queue.receive({ max: 32, visibilityTimeoutMs: LONG });
    expect(received.map((m) => m.body)).toEqual(['now']);
  });

  it('gives at most `max` messages a receive', async () => {
    for (const body of ['a', 'b', 'c']) await queue.send(body);
    const first = await queue.receive({ max: 2, visibilityTimeoutMs: LONG });
    const second = await queue.receive({ max: 2, visibilityTimeoutMs: LONG });
    expect(first).toHaveLength(2);
    expect([...first, ...second].map((m) => m.body).sort()).toEqual(['a', 'b', 'c']);
  });

  it('a release can hide a message for longer', async () => {
    await queue.send('retry me');
    const [message] = await queue.receive({ max: 1, visibilityTimeoutMs: 30_000 });
    expect(await queue.release(message!, LONG)).toBeDefined();
    expect(await queue.receive({ max: 1, visibilityTimeoutMs: 30_000 })).toEqual([]);
  });

  it('over time: a delayed message appears when its delay passes, a leased one when its timeout does', async () => {
    if (!advance) return; // the service's own clock: covered by the cases above without waiting
    await queue.send('delayed', { delayMs: 5000 });
    advance(4999);
    expect(await queue.receive({ max: 1, visibilityTimeoutMs: 30_000 })).toEqual([]);
    advance(1);
    const [message] = await queue.receive({ max: 1, visibilityTimeoutMs: 30_000 });
    expect(message?.body).toBe('delayed');
    advance(29_999);
    expect(await queue.receive({ max: 1, visibilityTimeoutMs: 30_000 })).toEqual([]);
    advance(1);
    expect(await queue.receive({ max: 1, visibilityTimeoutMs: 30_000 })).toMatchObject([{ body: 'delayed', dequeueCount: 2 }]);
  });
});

describe('StorageWorkQueue', () => {
  it('counts its operations by kind (the benchmark reads them)', async () => {
    const operations = new QueueOperationCounter();
    const queue = new StorageWorkQueue(
      { connectionString: azuriteConnectionString(), endpoint: undefined, prefix: '', timeoutMs: 10_000 },
      `${uniquePrefix()}-counted`,
      { operations },
    );
    await queue.send('x');
    const [message] = await queue.receive({ max: 1, visibilityTimeoutMs: 30_000 });
    await queue.delete(message!);
    expect(operations.counts).toEqual({ create: 1, send: 1, receive: 1, delete: 1, update: 0 });
  });

  it('sends bodies base64-encoded, as the Functions queue trigger decodes them', async () => {
    const queue = new StorageWorkQueue(
      { connectionString: azuriteConnectionString(), endpoint: undefined, prefix: '', timeoutMs: 10_000 },
      `${uniquePrefix()}-encoded`,
    );
    await queue.send('{"d":"dlv_1"}');
    const peeked = await queue.client.peekMessages();
    expect(peeked.peekedMessageItems[0]?.messageText).toBe(Buffer.from('{"d":"dlv_1"}').toString('base64'));
  });
});
