import { startAzurite } from '../../local/azurite';

/**
 * One real Azurite (table and queue services, in memory, on free ports) for the whole run. Test
 * files isolate themselves with a table (and queue) prefix of their own; the teardown always stops it.
 */
export default async function globalSetup(): Promise<void> {
  const azurite = await startAzurite({ tablePort: 0, queuePort: 0 });
  (globalThis as { __azurite?: typeof azurite }).__azurite = azurite;
  // Both endpoints: the queues' connection string defaults to the tables' (shared/config.ts).
  process.env.TEST_TABLES_CONNECTION_STRING = azurite.connectionString;
  process.env.TEST_AZURITE_PORT = String(azurite.port);
  process.env.TEST_AZURITE_QUEUE_PORT = String(azurite.queuePort);
}
