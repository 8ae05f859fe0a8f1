import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, isListening } from '../../local/azurite';
import { recordOutput, trackSecret } from '../support/secrets';

const ROOT = resolve(__dirname, '..', '..');
const START = join(ROOT, 'dist', 'local', 'start.js');

interface Started {
  child: ChildProcess;
  stdout: () => string;
  exited: Promise<number | null>;
}

/** Runs `npm start`'s script on its own ports and data folder, until it says where it listens. */
async function start(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, [START], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  // stderr is log output: it goes through the no-secret check. stdout carries the demo key by design.
  child.stderr!.on('data', (chunk: Buffer) => recordOutput(chunk.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 45_000;
  while (!/listening on http:\/\/localhost:\d+/.test(out)) {
    if (child.exitCode !== null) throw new Error(`start.js exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) throw new Error(`start.js did not listen in time:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, stdout: () => out, exited };
}

describe('npm start (local host with Azurite)', () => {
  beforeAll(() => {
    if (!existsSync(START)) throw new Error('dist/ is missing: run the tests with npm test (it builds first)');
  });

  it('serves the demo key on first start, keeps it across a restart, and stops Azurite on Ctrl-C', async () => {
    const port = await freePort();
    const azuritePort = await freePort();
    const env = {
      PORT: String(port),
      AZURITE_TABLE_PORT: String(azuritePort),
      LOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'vp-start-')),
      TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true',
      TABLES_PREFIX: '',
    };

    const first = await start(env);
    const key = /^\s+(vp_cust_demo\.\S+)$/m.exec(first.stdout())?.[1];
    expect(key).toBeDefined();
    trackSecret(key!);
    expect(first.stdout()).toContain(`curl -s http://localhost:${port}/v1/whoami -H "X-API-Key: ${key}"`);
    expect(first.stdout()).toContain(`listening on http://localhost:${port}`);
    const whoami = await fetch(`http://localhost:${port}/v1/whoami`, { headers: { 'X-API-Key': key! } });
    expect(whoami.status).toBe(200);
    expect(await whoami.json()).toMatchObject({ customer: { slug: 'demo' }, key: { label: 'demo' } });

    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(await isListening(azuritePort)).toBe(false);
    expect(await isListening(port)).toBe(false);

    const second = await start(env);
    try {
      expect(second.stdout()).not.toMatch(/vp_cust_demo\.[A-Za-z0-9]{32}\./); // no new key printed
      expect(second.stdout()).toMatch(/demo.*has an active key/);
      const again = await fetch(`http://localhost:${port}/v1/whoami`, { headers: { 'X-API-Key': key! } });
      expect(again.status).toBe(200);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
    expect(await isListening(azuritePort)).toBe(false);
  }, 120_000);
});
