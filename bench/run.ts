/**
 * `npm run bench`: the figures behind the service's claims, measured side by side in one run
 * against local hosts (separate processes, as in production) on one Azurite. Prints one table
 * and writes it as JSON under bench/results/. See bench/README.md for what each figure means.
 *
 * This file is the runner: it starts Azurite, hands the figure modules (bench/modules.ts, in
 * order; `--only 2a,5b` for some) what they share, and stops every host at the end. With
 * `--profile` it measures no figure: it profiles the main host under whoami's and health's loads
 * (bench/profile.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startAzurite } from '../local/azurite';
import { PROJECT_ROOT, startHostProcess, type HostProcess } from '../local/host-process';
import { loadConfig } from '../shared/config';
import { silentLogger } from '../shared/logging';
import { createServices } from '../app/compose';
import type { ServiceContext } from '../app/context';
import { BENCH_OP } from './measure';
import { onlyFigures, runFigureModules, type BenchContext, type Figure, type MainTables } from './modules';
import { profileRoutes } from './profile';

const QUICK = process.env.BENCH_QUICK === '1';
/** `npm run bench -- --only 3e,5b`: only the figure modules that measure those (bench/modules.ts). */
const ONLY = onlyFigures(process.argv.slice(2));
/** `npm run bench -- --profile`: CPU profiles of the host under whoami's and health's loads, side by side (bench/profile.ts). */
const PROFILE = process.argv.includes('--profile');

const figures: Figure[] = [];
const record = (figure: Figure) => {
  figures.push(figure);
  console.log(
    `  ${figure.id.padEnd(4)} ${figure.name}: ${format(figure.value)} ${figure.unit}${figure.target ? `   (target ${figure.target}: ${figure.pass ? 'met' : 'NOT met'})` : ''}`,
  );
};
const format = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(3) : v.toFixed(4));

async function main() {
  const started = new Date();
  console.log(`Benchmark${QUICK ? ' (quick)' : ''}${PROFILE ? ' (profile)' : ''}: starting Azurite and hosts...`);
  // The queue service too: webhook deliveries (figure 12) go through it.
  const azurite = await startAzurite({ tablePort: 0, queuePort: 0 });
  const dataDir = mkdtempSync(join(tmpdir(), 'vp-bench-'));
  const baseEnv = {
    VERIPROOF_LOCAL_MODE: 'true',
    TABLES_CONNECTION_STRING: azurite.connectionString,
    LOCAL_DATA_DIR: dataDir,
    PORTAL_JWT_SECRET: `bench-${randomBytes(24).toString('hex')}`,
    PORTAL_JWT_ISSUER: 'bench',
    PORTAL_JWT_AUDIENCE: 'bench',
    PLANS: JSON.stringify({ enterprise: { keyLimit: 10_000, requestsPerSecond: 1_000_000, burst: 10_000_000 } }),
  };
  const hosts: HostProcess[] = [];
  const contexts: ServiceContext[] = [];
  const host = async (prefix: string, env: Record<string, string> = {}) => {
    const h = await startHostProcess(['--no-azurite', '--no-demo', '--no-timers', '--diagnostics', '--port', String(await freePort())], {
      ...baseEnv,
      TABLES_PREFIX: prefix,
      ...env,
    });
    hosts.push(h);
    return h;
  };
  const config = (prefix: string) => loadConfig({ ...baseEnv, TABLES_PREFIX: prefix });
  /** Services in this process on a host's tables, to seed data quickly. */
  const seeder = (prefix: string) => {
    const services = createServices(config(prefix), { background: false, log: silentLogger });
    contexts.push(services);
    return services;
  };
  const seedMain = async (): Promise<MainTables> => {
    const prefix = `b${randomBytes(4).toString('hex')}`;
    const services = seeder(prefix);
    await services.storage.ensureTables(); // the host would create them; it starts after figure 1c
    await services.useCases.customers.create({ slug: 'bench', name: 'Bench', plan: 'enterprise' });
    const issued = await services.useCases.keys.issue('bench', { label: 'bench-main', application: 'bench' }, BENCH_OP);
    return { prefix, services, key: issued.key };
  };
  let mainTables: Promise<MainTables> | undefined;
  let mainHost: Promise<HostProcess> | undefined;
  const ctx: BenchContext = {
    quick: QUICK,
    seconds: (full) => (QUICK ? Math.max(1, Math.round(full / 3)) : full),
    host,
    seeder,
    config,
    main: () => (mainTables ??= seedMain()),
    mainHost: () => (mainHost ??= ctx.main().then((m) => host(m.prefix, { USAGE_FLUSH_INTERVAL_MS: '2000' }))),
    ingestRates: {},
    record,
  };

  try {
    if (PROFILE) await profileRoutes(ctx, started);
    else await runFigureModules(ctx, ONLY);
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
    await Promise.all(contexts.map((s) => s.dispose()));
    await azurite.stop();
  }

  if (!PROFILE) summarise(started);
}

/** Writes the run's figures under bench/results/ and prints them as one table. */
function summarise(started: Date): void {
  const result = {
    startedAt: started.toISOString(),
    quick: QUICK,
    node: process.version,
    cpus: cpus().length,
    figures,
  };
  const dir = join(PROJECT_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  console.log('\nSummary');
  console.table(
    figures.map((f) => ({
      figure: f.id,
      name: f.name,
      value: Number(format(f.value)),
      unit: f.unit,
      target: f.target ?? '',
      met: f.target ? (f.pass ? 'yes' : 'NO') : '',
    })),
  );
  console.log(`Written to ${file}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
