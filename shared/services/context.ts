import { DefaultAzureCredential } from '@azure/identity';
import { FileSecretStore } from '../adapters/local/file-secret-store';
import { TableCustomerRepository } from '../adapters/table/table-customer-repository';
import { TableKeyRepository } from '../adapters/table/table-key-repository';
import { TableSessionRepository } from '../adapters/table/table-session-repository';
import { TableStorage, type StorageFaultHook } from '../adapters/table/table-storage';
import { systemClock, type Clock } from '../clock';
import type { Config } from '../config';
import { processLogger, type Logger } from '../logging';
import type { CustomerRepository } from '../ports/customer-repository';
import type { KeyRepository } from '../ports/key-repository';
import type { SecretStore } from '../ports/secret-store';
import type { SessionRepository } from '../ports/session-repository';
import { CustomerService } from './customer-service';
import { HealthMonitor } from './health-monitor';
import { IngestService } from './ingest-service';
import { KeyAuthenticator } from './key-authenticator';
import { KeyService } from './key-service';

/**
 * Everything a handler may use, built once per process (a cold start) and handed to every
 * invocation. Tests build their own with the same function, against their own tables.
 */
export interface ServiceContext {
  config: Config;
  clock: Clock;
  log: Logger;
  storage: TableStorage;
  customers: CustomerService;
  keys: KeyService;
  authenticator: KeyAuthenticator;
  ingest: IngestService;
  health: HealthMonitor;
  /** Stops background work (probes); flushes what the process holds. */
  dispose(): Promise<void>;
}

export interface ServiceOverrides {
  clock?: Clock;
  log?: Logger;
  secrets?: SecretStore;
  faultHook?: StorageFaultHook;
  /** Replace storage adapters (unit tests use the in-memory fakes). */
  repositories?: { customers?: CustomerRepository; keys?: KeyRepository; sessions?: SessionRepository };
  /** Start background work (the health probe). On by default. */
  background?: boolean;
}

export function createServices(config: Config, overrides: ServiceOverrides = {}): ServiceContext {
  const clock = overrides.clock ?? systemClock;
  const log = overrides.log ?? processLogger;
  const storage = new TableStorage(config.tables, {
    ...(config.tables.endpoint ? { credential: new DefaultAzureCredential() } : {}),
    ...(overrides.faultHook ? { faultHook: overrides.faultHook } : {}),
  });
  const secrets = overrides.secrets ?? new FileSecretStore(config.localDataDir);
  const repositories = overrides.repositories ?? {};
  const keyRepository = repositories.keys ?? new TableKeyRepository(storage);
  const authenticator = new KeyAuthenticator(keyRepository, clock, config.authCache);
  const customers = new CustomerService(repositories.customers ?? new TableCustomerRepository(storage), secrets, clock);
  const keys = new KeyService(keyRepository, customers, secrets, authenticator, clock, log);
  const ingest = new IngestService(repositories.sessions ?? new TableSessionRepository(storage), clock, log);
  const health = new HealthMonitor(
    [{ name: 'table-storage', check: () => storage.probe() }],
    config.health.probeIntervalMs,
    clock,
    log,
  );
  if (overrides.background !== false) health.start();
  return {
    config,
    clock,
    log,
    storage,
    customers,
    keys,
    authenticator,
    ingest,
    health,
    async dispose() {
      health.stop();
    },
  };
}
