import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, isListening } from '../../local/azurite';
import { startHostProcess } from '../support/host-process';
import { trackSecret } from '../support/secrets';

describe('npm start (local host with Azurite)', () => {
  it('serves the demo key on first start, keeps it across a restart, and stops Azurite on Ctrl-C', async () => {
    const port = await freePort();
    const azuritePort = await freePort();
    const queuePort = await freePort();
    const env = {
      PORT: String(port),
      AZURITE_TABLE_PORT: String(azuritePort),
      AZURITE_QUEUE_PORT: String(queuePort),
      LOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'vp-start-')),
      TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true',
      TABLES_PREFIX: '',
    };

    const first = await startHostProcess([], env);
    const key = /^\s+(vp_cust_demo\.\S+)$/m.exec(first.stdout())?.[1];
    expect(key).toBeDefined();
    trackSecret(key!);
    expect(first.stdout()).toContain(`curl -s http://localhost:${port}/v1/whoami -H "X-API-Key: ${key}"`);
    expect(first.url).toBe(`http://localhost:${port}`);
    const whoami = await fetch(`http://localhost:${port}/v1/whoami`, { headers: { 'X-API-Key': key! } });
    expect(whoami.status).toBe(200);
    expect(await whoami.json()).toMatchObject({ customer: { slug: 'demo' }, key: { label: 'demo' } });
    // The portal page, and its local sign-in (the sample settings carry the local signing secret).
    // The banner ends after the "listening" line the start waits for.
    await first.printed(/Press Ctrl-C/);
    expect(first.stdout()).toContain(`The portal page: http://localhost:${port}/portal`);
    const portal = await fetch(`http://localhost:${port}/portal`);
    expect(portal.status).toBe(200);
    expect(await portal.text()).toContain('/portal/app/main.js');
    expect((await fetch(`http://localhost:${port}/portal/app/main.js`)).status).toBe(200);
    const signIn = (await (await fetch(`http://localhost:${port}/v1/local/sign-in`)).json()) as { customers: Array<{ slug: string }> };
    expect(signIn.customers.map((c) => c.slug)).toContain('demo');

    // Azurite's queue service runs beside its table service (webhook deliveries go through it).
    expect(await isListening(queuePort)).toBe(true);
    expect(first.stdout()).toContain(`queue service on :${queuePort}`);

    expect(await first.stop('SIGINT')).toBe(0);
    expect(await isListening(azuritePort)).toBe(false);
    expect(await isListening(queuePort)).toBe(false);
    expect(await isListening(port)).toBe(false);

    const second = await startHostProcess([], env);
    try {
      expect(second.stdout()).not.toMatch(/vp_cust_demo\.[A-Za-z0-9]{32}\./); // no new key printed
      expect(second.stdout()).toMatch(/demo.*has an active key/);
      const again = await fetch(`http://localhost:${port}/v1/whoami`, { headers: { 'X-API-Key': key! } });
      expect(again.status).toBe(200);
    } finally {
      expect(await second.stop('SIGTERM')).toBe(0);
    }
    expect(await isListening(azuritePort)).toBe(false);
    expect(await isListening(queuePort)).toBe(false);
  }, 120_000);
});
