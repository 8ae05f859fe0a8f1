import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { signLocalPortalToken } from '../../shared/auth/portal-tokens';
import { loadConfig } from '../../shared/config';
import { freePort } from '../../local/azurite';
import { startHostProcess, type HostProcess } from '../support/host-process';
import { TEST_PORTAL_ENV } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { azuriteConnectionString, uniquePrefix } from '../support/services';

const LIMIT = 50; // requests per second for the key under test
const BURST = 5;
const SECONDS = 10;

/**
 * Three instances (host processes) on one Azurite, one key limited to LIMIT per second,
 * saturated for 10 s through all three: the admitted count stays within 10% of 10 x LIMIT.
 */
describe('rate limits hold across instances', () => {
  const env = {
    TABLES_CONNECTION_STRING: azuriteConnectionString(),
    TABLES_PREFIX: uniquePrefix(),
    LOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'vp-rl-')),
    ...TEST_PORTAL_ENV,
  };
  const portal = loadConfig(env).portal;
  let hosts: HostProcess[] = [];

  beforeAll(async () => {
    hosts = await Promise.all(
      [0, 1, 2].map(async () => startHostProcess(['--no-azurite', '--no-demo', '--no-timers', '--port', String(await freePort())], env)),
    );
  }, 90_000);
  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
  });

  it(`admits ${SECONDS} x ${LIMIT} (within 10%) through three instances under saturation`, async () => {
    const slug = `r${randomBytes(4).toString('hex')}`;
    const staff = await signLocalPortalToken(portal, { sub: 'staff', roles: ['Staff'] });
    const admin = await signLocalPortalToken(portal, { sub: 'admin', customer: slug, roles: ['CustomerAdmin'] });
    const [a] = hosts;
    const post = (path: string, token: string, body: unknown, method = 'POST') =>
      fetch(`${a!.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post('/v1/staff/customers', staff, { slug, name: 'Accuracy', plan: 'pro' })).status).toBe(201);
    const issued = (await (await post('/v1/customer-keys/issue', admin, { label: 'saturated', application: 'load' })).json()) as {
      key: string;
      metadata: { id: string };
    };
    trackSecret(issued.key);
    expect(
      (
        await post(
          `/v1/staff/customers/${slug}/keys/${issued.metadata.id}`,
          staff,
          { rateLimit: { requestsPerSecond: LIMIT, burst: BURST } },
          'PATCH',
        )
      ).status,
    ).toBe(200);

    // Every instance authenticates the key once, sees the others (heartbeats), and refills.
    for (const host of hosts) await fetch(`${host.url}/v1/whoami`, { headers: { 'x-api-key': issued.key } });
    await new Promise((r) => setTimeout(r, 3000));

    let admitted = 0;
    let limited = 0;
    let other = 0;
    const deadline = performance.now() + SECONDS * 1000;
    const worker = async (w: number) => {
      for (let i = w; performance.now() < deadline; i++) {
        const response = await fetch(`${hosts[i % 3]!.url}/v1/whoami`, { headers: { 'x-api-key': issued.key } });
        await response.arrayBuffer();
        if (response.status === 200) admitted++;
        else if (response.status === 429) limited++;
        else other++;
      }
    };
    await Promise.all(Array.from({ length: 24 }, (_, w) => worker(w)));
    const ratio = admitted / (SECONDS * LIMIT);
    console.log(
      `rate-limit accuracy: admitted ${admitted} of ${SECONDS * LIMIT} allowed over ${SECONDS} s on 3 instances (ratio ${ratio.toFixed(3)}; ${limited} refused)`,
    );
    expect(other).toBe(0);
    expect(limited).toBeGreaterThan(admitted); // saturated
    expect(ratio).toBeGreaterThanOrEqual(0.9);
    expect(ratio).toBeLessThanOrEqual(1.1);
  }, 120_000);
});
