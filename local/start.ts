import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DOORS } from '../functions/doors';
import { functionDefinitions } from '../functions/registry';
import { ConfigError, loadConfig } from '../shared/config';
import { describeError, processLogger } from '../shared/logging';
import { createServices } from '../app/compose';
import type { PartitionThrottleOptions } from '../shared/adapters/table/partition-throttle';
import { startAzurite, type RunningAzurite } from './azurite';
import { DEMO_SLUG, seedDemo } from './demo';
import { startLocalHost } from './host';
import { loadLocalSettings } from './settings';

/**
 * `npm start`: the app on http://localhost:7071 without Azure Functions Core Tools.
 *
 *   --port N        listen on N (default: PORT, else 7071)
 *   --no-azurite    do not start Azurite (use TABLES_CONNECTION_STRING and QUEUES_CONNECTION_STRING as they are)
 *   --no-demo       do not create the demo customer and key
 *   --no-timers     do not run timer functions
 *   --diagnostics   serve the local-only /_local/ routes of the benchmark and the tests (local/diagnostics.ts)
 *   --fault-kill-at <step>   (resilience suite) kill this process with SIGKILL when the storage
 *                   adapter reaches <step>, e.g. keys.insertLookup
 *   --fault-throttle <json>  (throttling tests, benchmark) answer like Table Storage does for a
 *                   partition over its target: {"partition":"^slug~","entitiesPerSecond":50}
 *                   (shared/adapters/table/partition-throttle.ts)
 */

const ROOT = resolve(__dirname, '..', '..');
/** What to undo on the way out, in reverse order. */
const cleanup: Array<() => Promise<void>> = [];

async function runCleanup(): Promise<void> {
  for (const step of cleanup.splice(0).reverse()) await step().catch((e: unknown) => console.error(describeError(e)));
}

async function main(): Promise<void> {
  process.chdir(ROOT);
  const { values: args } = parseArgs({
    options: {
      port: { type: 'string' },
      'no-azurite': { type: 'boolean', default: false },
      'no-demo': { type: 'boolean', default: false },
      'no-timers': { type: 'boolean', default: false },
      diagnostics: { type: 'boolean', default: false },
      'fault-kill-at': { type: 'string' },
      'fault-throttle': { type: 'string' },
    },
  });
  // npm start is a developer machine: local rules (portal tokens from the local secret, the local
  // sign-in, components in a file), switched on here rather than guessed from the environment.
  process.env.VERIPROOF_LOCAL_MODE = 'true';
  const settings = loadLocalSettings(ROOT);
  if (settings.created) console.log(`Created ${settings.file} from local.settings.sample.json.`);
  else if (settings.fromSample.length > 0) {
    console.log(`${settings.file} lacks ${settings.fromSample.join(', ')}: using the sample's values.`);
  }
  const port = Number(args.port ?? process.env.PORT ?? 7071);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`Not a port: ${args.port ?? process.env.PORT}`);

  let azurite: RunningAzurite | undefined;
  if (!args['no-azurite'] && /^UseDevelopmentStorage=true;?$/i.test(process.env.TABLES_CONNECTION_STRING ?? '')) {
    const location = resolve(ROOT, process.env.LOCAL_DATA_DIR ?? '.local', 'azurite');
    azurite = await startAzurite({
      tablePort: Number(process.env.AZURITE_TABLE_PORT ?? 10002),
      queuePort: Number(process.env.AZURITE_QUEUE_PORT ?? 10001),
      location,
    });
    // One connection string names both services; the queues' setting defaults to it (shared/config.ts).
    process.env.TABLES_CONNECTION_STRING = azurite.connectionString;
    if (/^UseDevelopmentStorage=true;?$/i.test(process.env.QUEUES_CONNECTION_STRING ?? '')) {
      process.env.QUEUES_CONNECTION_STRING = azurite.connectionString;
    }
    console.log(
      azurite.reused
        ? `Using the Azurite table and queue services already listening on 127.0.0.1:${azurite.port} and :${azurite.queuePort}.`
        : `Started Azurite (table service on 127.0.0.1:${azurite.port}, queue service on :${azurite.queuePort}), data in ${location}.`,
    );
  }

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) {
      console.log('Forced exit.');
      process.exit(1);
    }
    shuttingDown = true;
    console.log(`\n${signal}: shutting down...`);
    await runCleanup();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  if (azurite) cleanup.push(() => azurite.stop());

  const config = loadConfig();
  const killAt = args['fault-kill-at'];
  const throttle = args['fault-throttle'];
  const services = createServices(config, {
    ...(throttle ? { throttle: JSON.parse(throttle) as PartitionThrottleOptions } : {}),
    // The benchmark's partition-load model reads the operations one by one.
    ...(args.diagnostics ? { operationLog: 200_000 } : {}),
    ...(killAt
      ? {
          faultHook: (step: string) => {
            if (step === killAt) process.kill(process.pid, 'SIGKILL');
          },
        }
      : {}),
  });
  cleanup.push(() => services.dispose());
  await services.storage.ensureTables();
  await services.useCases.health.probeAll();

  if (!args['no-demo']) {
    const demo = await seedDemo(services);
    if (demo.key) {
      console.log(
        `\nDemo customer '${DEMO_SLUG}' ${demo.customerCreated ? 'created' : 'had no active key'}. Its new key, shown this once:\n`,
      );
      console.log(`  ${demo.key}\n`);
      console.log('Try it:\n');
      console.log(`  curl -s http://localhost:${port}/v1/whoami -H "X-API-Key: ${demo.key}"\n`);
    } else {
      console.log(
        `Demo customer '${DEMO_SLUG}' has an active key (issue another with: npm run admin -- key issue --customer ${DEMO_SLUG} --label my-key --application my-app).`,
      );
    }
  }

  const host = await startLocalHost({
    definitions: functionDefinitions,
    getServices: () => services,
    port,
    timers: !args['no-timers'],
    diagnostics: args.diagnostics,
  });
  cleanup.push(() => host.close());

  console.log(`\nVeriproof keys service listening on ${host.url}`);
  for (const d of functionDefinitions) {
    console.log(
      d.kind === 'http'
        ? `  ${d.methods.join(',').padEnd(7)} ${host.url}/${d.route}  (${DOORS[d.auth].label})`
        : d.kind === 'timer'
          ? `  timer   ${d.name}  [${d.schedule}]`
          : `  queue   ${d.name}  [${d.queue}]`,
    );
  }
  console.log(`\nThe portal page: ${host.url}/portal`);
  console.log(`The API reference (try any route with a key or token): ${host.url}/docs`);
  console.log('\nPress Ctrl-C to stop.');
}

main().catch(async (error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message);
  else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
    console.error(`Cannot listen: ${(error as Error).message}. Set PORT or --port.`);
  else processLogger.error('local host failed to start', describeError(error));
  await runCleanup();
  process.exit(1);
});
