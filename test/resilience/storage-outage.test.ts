import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startAzurite, type RunningAzurite } from '../../local/azurite';
import { TableSessionRepository } from '../../shared/adapters/table/table-session-repository';
import { loadConfig } from '../../shared/config';
import { createServices } from '../../app/compose';
import type { ServiceContext } from '../../app/context';
import { startHostProcess, type HostProcess } from '../support/host-process';
import { op } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { testEnv } from '../support/services';

const STALENESS_SECONDS = 5;

/**
 * Stop the storage under load, bring it back: uncached keys get 503 with Retry-After (never
 * 200, never 500), cached keys keep working and then get 503 (at the staleness bound, counted
 * from the last good feed read: test/unit/revocation-listener.test.ts shows the bound on an
 * injected clock), the host resumes by itself when storage returns, and every ingest answered
 * 200 is stored. Each step waits for what it needs to have happened (answers, ingests), never
 * for a length of time: a call to a stopped storage takes its own time bound (STORAGE_TIMEOUT_MS).
 */
describe('storage outage', () => {
  let azurite: RunningAzurite;
  let host: HostProcess;
  let services: ServiceContext;
  const location = mkdtempSync(join(tmpdir(), 'vp-outage-azurite-'));
  let port: number;
  let env: Record<string, string>;
  /** Ends the test's ingest loop (also after a failure, so that nothing keeps running). */
  let stopIngest = (): unknown => undefined;

  beforeAll(async () => {
    port = await freePort();
    azurite = await startAzurite({ tablePort: port, location });
    env = testEnv({
      TABLES_CONNECTION_STRING: azurite.connectionString,
      REVOCATION_FEED_MAX_STALENESS_SECONDS: String(STALENESS_SECONDS),
      HEALTH_PROBE_INTERVAL_MS: '300',
      STORAGE_TIMEOUT_MS: '2000',
      USAGE_FLUSH_INTERVAL_MS: '1000',
    });
    services = createServices(loadConfig(env), { background: false });
    host = await startHostProcess(['--no-azurite', '--no-demo', '--no-timers', '--port', String(await freePort())], env);
  }, 60_000);
  afterAll(async () => {
    stopIngest();
    await host?.stop();
    await services?.dispose();
    await azurite?.stop();
  });

  it('degrades to 503 within its bounds and recovers without a restart, losing no acknowledged ingest', async () => {
    await services.useCases.customers.create({ slug: 'outage', name: 'Outage', plan: 'enterprise' });
    const issue = async (label: string) =>
      trackSecret((await services.useCases.keys.issue('outage', { label, application: 'load' }, op())).key);
    const warm = await issue('warm');
    const cold = await issue('cold');
    const whoami = (key: string) => fetch(`${host.url}/v1/whoami`, { headers: { 'x-api-key': key } });
    const statusOf = async (answer: Promise<Response>) => {
      const response = await answer;
      await response.arrayBuffer();
      return response.status;
    };
    const health = () => statusOf(fetch(`${host.url}/v1/health`));
    expect((await whoami(warm)).status).toBe(200); // cached on the host from now on

    // Ingest runs throughout; every session answered 200 must be found in storage at the end.
    const acknowledged: string[] = [];
    const statuses = new Map<number, number>();
    let ingesting = true;
    stopIngest = () => (ingesting = false);
    let n = 0;
    /** Resolves once `count` more ingests than now have been acknowledged. */
    let onAcknowledged = (): void => undefined;
    const moreAcknowledged = async (count: number) => {
      const target = acknowledged.length + count;
      while (acknowledged.length < target) await new Promise<void>((resolve) => (onAcknowledged = resolve));
    };
    const ingest = (async () => {
      while (ingesting) {
        const session = `outage-${n++}`;
        const body = JSON.stringify({
          resourceSpans: [
            {
              scopeSpans: [
                {
                  spans: [
                    {
                      traceId: (n + 1).toString(16).padStart(32, '0'),
                      spanId: (n + 1).toString(16).padStart(16, '0'),
                      name: 's',
                      startTimeUnixNano: '1',
                      endTimeUnixNano: '2',
                      attributes: [{ key: 'session.id', value: { stringValue: session } }],
                    },
                  ],
                },
              ],
            },
          ],
        });
        const response = await fetch(`${host.url}/v1/traces`, {
          method: 'POST',
          headers: { 'x-api-key': warm, 'content-type': 'application/json' },
          body,
        }).catch(() => undefined);
        if (!response) continue;
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        await response.arrayBuffer();
        if (response.status === 200) {
          acknowledged.push(session);
          onAcknowledged();
        }
      }
    })();
    await moreAcknowledged(5);

    // --- Storage goes away mid-load.
    await azurite.stop();

    // Until the cached key is refused and health says so: the uncached key is refused every time
    // (503 with Retry-After), the cached one works and then is refused, never the other way round.
    const warmDuring: number[] = [];
    let healthDuring = 200;
    while (warmDuring.at(-1) !== 503 || healthDuring !== 503) {
      // The cached key first: its first answer comes right after the stop, well inside the bound.
      const warmStatus = await statusOf(whoami(warm));
      if (warmStatus !== warmDuring.at(-1)) warmDuring.push(warmStatus);
      const coldDuring = await whoami(cold);
      expect(coldDuring.status).toBe(503);
      expect(Number(coldDuring.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await coldDuring.json()) as { code: string }).toMatchObject({ code: 'dependency_unavailable' });
      healthDuring = await health();
    }
    expect(warmDuring).toEqual([200, 503]); // served from the cache while it could be trusted, then not

    // --- Storage comes back on the same port and data folder; the host is not restarted.
    azurite = await startAzurite({ tablePort: port, location });
    // Each key until it is served again (a refusal takes the storage call's own time bound), never a 500.
    const recovering = new Set<number>();
    for (const key of [cold, warm]) {
      for (let status = 0; status !== 200; status = await statusOf(whoami(key))) if (status) recovering.add(status);
    }
    expect([...recovering].filter((status) => status !== 503)).toEqual([]);
    while ((await health()) !== 200); // until the next probe that succeeds
    await moreAcknowledged(5);
    stopIngest();
    await ingest;

    // Never a 500; 200s before and after the outage, 503s during it.
    expect([...statuses.keys()].sort()).toEqual([200, 503]);
    const sessions = new TableSessionRepository([services.storage]);
    const missing: string[] = [];
    for (const session of acknowledged) if (!(await sessions.get('outage', session))) missing.push(session);
    console.log(
      `storage outage: ${acknowledged.length} ingests acknowledged, ${statuses.get(503) ?? 0} answered 503, ${missing.length} acknowledged but missing`,
    );
    expect(missing).toEqual([]);
  }, 120_000);
});
