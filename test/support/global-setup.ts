import { startAzurite } from '../../local/azurite';

/**
 * One real Azurite (table service, in memory, on a free port) for the whole run. Test files
 * isolate themselves with a table prefix of their own; the teardown always stops it.
 */
export default async function globalSetup(): Promise<void> {
  const azurite = await startAzurite({ tablePort: 0 });
  (globalThis as { __azurite?: typeof azurite }).__azurite = azurite;
  process.env.TEST_TABLES_CONNECTION_STRING = azurite.connectionString;
  process.env.TEST_AZURITE_PORT = String(azurite.port);
}
