import { app } from '@azure/functions';
import { loadConfig } from '../shared/config';
import { startAzureMonitor } from '../app/azure-monitor';
import { createServices } from '../app/compose';
import { Telemetry } from '../shared/telemetry/telemetry';
import type { ServiceContext } from '../app/context';
import { queueName } from '../shared/adapters/queue/queue-names';
import { bindHttpFunction, bindQueueFunction, bindTimerFunction } from './bind';

/** The app setting (prefix) of the storage connection queue triggers listen through: the host's own. */
export const QUEUE_TRIGGER_CONNECTION = 'AzureWebJobsStorage';
import type { FunctionDefinition } from '../app/function-contract';
import { functionDefinitions } from './registry';

/**
 * Registers every declared function with the Azure Functions host. This module is the app's
 * entry point (package.json `main`). Configuration is parsed here, at start-up, so a bad
 * setting stops the app with its name instead of failing requests one by one.
 */
export function registerFunctions(
  definitions: readonly FunctionDefinition[],
  getServices: () => ServiceContext,
  registrar: Pick<typeof app, 'http' | 'timer' | 'storageQueue'> = app,
  options: { queuePrefix: string } = { queuePrefix: '' },
): void {
  for (const definition of definitions) {
    if (definition.kind === 'queue') {
      // The host's storage connection (AzureWebJobsStorage: the managed identity in Azure, Azurite
      // locally) is the account the service sends to (QUEUES_ENDPOINT / QUEUES_CONNECTION_STRING; infra/ sets both alike).
      registrar.storageQueue(definition.name, {
        queueName: queueName(options.queuePrefix, definition.queue),
        connection: QUEUE_TRIGGER_CONNECTION,
        handler: bindQueueFunction(definition, getServices),
      });
    } else if (definition.kind === 'http') {
      registrar.http(definition.name, {
        route: definition.route,
        methods: [...definition.methods],
        authLevel: 'anonymous',
        handler: bindHttpFunction(definition, getServices),
      });
    } else {
      registrar.timer(definition.name, {
        schedule: definition.schedule,
        runOnStartup: definition.runOnStartup ?? false,
        useMonitor: true,
        handler: bindTimerFunction(definition, getServices),
      });
    }
  }
}

// Request bodies arrive as streams: the Functions host hands the request over before its body is
// read, the door runs on the headers, and each handler reads the body with its route's own bound
// (shared/http/body.ts). Without this the host would buffer every body (up to
// FUNCTIONS_REQUEST_BODY_SIZE_LIMIT) before any of our code runs.
app.setup({ enableHttpStream: true });

const config = loadConfig();
// In Azure: traces and metrics to Application Insights through the Azure Monitor distro.
const exporting = startAzureMonitor(config, process.env);
let services: ServiceContext | undefined;
registerFunctions(
  functionDefinitions,
  () =>
    (services ??= createServices(config, {
      telemetry: new Telemetry({ readers: exporting ? [exporting.reader] : [] }),
      ...(exporting ? { tracing: exporting.tracing } : {}),
    })),
  app,
  { queuePrefix: config.queues.prefix },
);
// A graceful stop of the worker writes the usage counts it holds.
app.hook.appTerminate(async () => {
  await services?.dispose();
});
