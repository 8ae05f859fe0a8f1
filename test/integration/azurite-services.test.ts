import { createServer } from 'node:net';
import { freePort, isListening, startAzurite, type RunningAzurite } from '../../local/azurite';
import { StorageWorkQueue } from '../../shared/adapters/queue/storage-queue';

/**
 * local/azurite.ts: Azurite's queue service beside its table service (what `npm start` and the
 * jest global setup run), one connection string naming both, and an Azurite already running reused.
 */
describe('Azurite table and queue services (local/azurite.ts)', () => {
  const started: RunningAzurite[] = [];
  afterAll(async () => {
    for (const azurite of started.reverse()) await azurite.stop();
  });

  it('starts both, names both in one connection string, reuses them when they run already, and stops only what it started', async () => {
    const first = await startAzurite({ tablePort: 0, queuePort: 0 });
    started.push(first);
    expect(first.reused).toBe(false);
    expect(first.connectionString).toContain(`TableEndpoint=http://127.0.0.1:${first.port}/devstoreaccount1;`);
    expect(first.connectionString).toContain(`QueueEndpoint=http://127.0.0.1:${first.queuePort}/devstoreaccount1;`);
    // The queue endpoint works: a message goes in and comes out.
    const queue = new StorageWorkQueue(
      { connectionString: first.connectionString, endpoint: undefined, prefix: '', timeoutMs: 10_000 },
      'azurite-services',
    );
    await queue.send('hello');
    expect((await queue.receive({ max: 1, visibilityTimeoutMs: 30_000 }))[0]?.body).toBe('hello');

    const again = await startAzurite({ tablePort: first.port, queuePort: first.queuePort! });
    expect(again).toMatchObject({ reused: true, child: undefined, queueChild: undefined, connectionString: first.connectionString });
    await again.stop();
    expect(await isListening(first.port)).toBe(true);
    expect(await isListening(first.queuePort!)).toBe(true);

    // A running table service, no queue service yet: the queue service is started beside it.
    const queuePort = await freePort();
    const mixed = await startAzurite({ tablePort: first.port, queuePort });
    started.push(mixed);
    expect(mixed).toMatchObject({ reused: false, child: undefined, queuePort });
    expect(mixed.queueChild).toBeDefined();
    await mixed.stop();
    expect(await isListening(queuePort)).toBe(false);
    expect(await isListening(first.port)).toBe(true);
  }, 60_000);

  it('without a queue port, starts the table service alone (the admin CLI, extra session accounts)', async () => {
    const tableOnly = await startAzurite({ tablePort: 0 });
    started.push(tableOnly);
    expect(tableOnly.queuePort).toBeUndefined();
    expect(tableOnly.connectionString).not.toContain('QueueEndpoint');
  }, 60_000);

  it('refuses a queue port taken by something that is not Azurite, naming the setting, and leaves nothing running', async () => {
    const squatter = createServer((socket) => {
      socket.on('error', () => undefined); // the probes hang up as they please
      socket.end('HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n');
    });
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as { port: number }).port;
    const tablePort = await freePort();
    try {
      await expect(startAzurite({ tablePort, queuePort: taken })).rejects.toThrow(/AZURITE_QUEUE_PORT/);
      expect(await isListening(tablePort)).toBe(false);
    } finally {
      squatter.close();
    }
  }, 60_000);
});
