import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { KeyVaultSecretStore } from '../adapters/keyvault/key-vault-secret-store';
import { ApiKeyDoor } from '../auth/api-key-door';
import { ComponentCheck } from '../auth/component-check';
import { TableGraceSchedule } from '../adapters/table/table-grace-schedule';
import { TableRateLimitStore } from '../adapters/table/table-rate-limit-store';
import { TableUsageStore } from '../adapters/table/table-usage-store';
import { FileSecretStore } from '../adapters/local/file-secret-store';
import { TableAuditLog } from '../adapters/table/table-audit-log';
import { TableCustomerRepository } from '../adapters/table/table-customer-repository';
import { TableKeyRepository } from '../adapters/table/table-key-repository';
import { TableKeyRequestRepository } from '../adapters/table/table-key-request-repository';
import { TableRevocationFeed } from '../adapters/table/table-revocation-feed';
import { TableSessionRepository } from '../adapters/table/table-session-repository';
import { TableStorage, type StorageFaultHook } from '../adapters/table/table-storage';
import { PortalTokenVerifier } from '../auth/portal-tokens';
import { systemClock, type Clock } from '../clock';
import type { Config } from '../config';
import { processLogger, type Logger } from '../logging';
import type { AuditLog } from '../ports/audit-log';
import type { CustomerRepository } from '../ports/customer-repository';
import type { GraceSchedule } from '../ports/grace-schedule';
import type { RateLimitStore } from '../ports/rate-limit-store';
import type { UsageStore } from '../ports/usage-store';
import type { KeyRepository } from '../ports/key-repository';
import type { KeyRequestRepository } from '../ports/key-request-repository';
import type { RevocationFeed } from '../ports/revocation-feed';
import type { SecretStore } from '../ports/secret-store';
import type { SessionRepository } from '../ports/session-repository';
import { ComponentCache } from './component-cache';
import { CustomerService } from './customer-service';
import { FailedAuthThrottle } from './failed-auth-throttle';
import { HealthMonitor } from './health-monitor';
import { IngestAdmission } from './ingest-admission';
import { IngestService } from './ingest-service';
import { KeyAuthenticator } from './key-authenticator';
import { KeyRequestService } from './key-request-service';
import { KeyService } from './key-service';
import { RevocationListener } from './revocation-listener';
import { RateLimiter } from './rate-limiter';
import { StaffService } from './staff-service';
import { StaleKeyReview } from './stale-key-review';
import { UsageRecorder } from './usage-recorder';
import { UsageService } from './usage-service';
import { TenantKeyService } from './tenant-key-service';

/** How long an ingest request waits for memory before it is answered 503 `server_busy`. */
const INGEST_ADMISSION_WAIT_MS = 10_000;

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
  requests: KeyRequestService;
  staff: StaffService;
  tenantKeys: TenantKeyService;
  /** Master-component values in memory (Key Vault is never called per request). */
  components: ComponentCache;
  authenticator: KeyAuthenticator;
  /** API-key authentication: from what a request presents to a verdict (shared/auth/api-key-door.ts). */
  door: ApiKeyDoor;
  portalTokens: PortalTokenVerifier;
  ingest: IngestService;
  /** Read side of sessions (the Decisions explorer). */
  sessions: SessionRepository;
  audit: AuditLog;
  revocations: RevocationListener;
  revocationFeed: RevocationFeed;
  rateLimiter: RateLimiter;
  usageRecorder: UsageRecorder;
  usage: UsageService;
  usageStore: UsageStore;
  staleKeys: StaleKeyReview;
  health: HealthMonitor;
  /** Stops background work (probes, feed reads); flushes what the process holds. */
  dispose(): Promise<void>;
}

export interface ServiceOverrides {
  clock?: Clock;
  log?: Logger;
  secrets?: SecretStore;
  faultHook?: StorageFaultHook;
  /** Replace storage adapters (unit tests use the in-memory fakes). */
  repositories?: {
    customers?: CustomerRepository;
    keys?: KeyRepository;
    sessions?: SessionRepository;
    audit?: AuditLog;
    requests?: KeyRequestRepository;
    feed?: RevocationFeed;
    grace?: GraceSchedule;
    rateLimits?: RateLimitStore;
    usage?: UsageStore;
  };
  /** Start background work (health probe, revocation feed reads). On by default. */
  background?: boolean;
}

export function createServices(config: Config, overrides: ServiceOverrides = {}): ServiceContext {
  const clock = overrides.clock ?? systemClock;
  const log = overrides.log ?? processLogger;
  let credential: TokenCredential | undefined;
  const azureCredential = () =>
    (credential ??= new DefaultAzureCredential(
      config.managedIdentityClientId ? { managedIdentityClientId: config.managedIdentityClientId } : {},
    ));
  const storage = new TableStorage(config.tables, {
    ...(config.tables.endpoint ? { credential: azureCredential() } : {}),
    ...(overrides.faultHook ? { faultHook: overrides.faultHook } : {}),
  });
  const secrets =
    overrides.secrets ??
    (config.tenantKey.vaultUrl
      ? new KeyVaultSecretStore(new SecretClient(config.tenantKey.vaultUrl, azureCredential()))
      : new FileSecretStore(config.localDataDir));
  const components = new ComponentCache(secrets, clock, { ttlMs: config.tenantKey.cacheTtlMs, maxEntries: 20_000 });
  const repositories = overrides.repositories ?? {};
  const keyRepository = repositories.keys ?? new TableKeyRepository(storage);
  const feed = repositories.feed ?? new TableRevocationFeed(storage, clock);
  const audit = repositories.audit ?? new TableAuditLog(storage);
  const sessions = repositories.sessions ?? new TableSessionRepository(storage);

  let listener: RevocationListener | undefined;
  const authenticator = new KeyAuthenticator(keyRepository, clock, {
    ...config.authCache,
    trusted: () => listener?.trusted() ?? false,
  });
  listener = new RevocationListener(
    feed,
    (entry) => (entry.reason === 'revoked' ? authenticator.revoke(entry.secretHash) : authenticator.evict(entry.secretHash)),
    clock,
    config.revocationFeed,
    log,
  );

  const sharedCustomers = repositories.customers ?? new TableCustomerRepository(storage);
  const customers = new CustomerService(sharedCustomers, secrets, clock);
  const door = new ApiKeyDoor({
    authenticator,
    components: new ComponentCheck(components, customers, clock),
    failedAuth: new FailedAuthThrottle(config.authCache.failuresPerMinute, clock),
  });
  const keys = new KeyService(keyRepository, customers, components, authenticator, feed, config.plans, clock, log);
  const requests = new KeyRequestService(repositories.requests ?? new TableKeyRequestRepository(storage), keys, customers, clock, log);
  const tenantKeys = new TenantKeyService(
    customers,
    keys,
    secrets,
    components,
    repositories.grace ?? new TableGraceSchedule(storage),
    audit,
    clock,
    config.tenantKey.gracePeriodMs,
    log,
  );
  requests.setRotator(tenantKeys);
  const rateLimiter = new RateLimiter(repositories.rateLimits ?? new TableRateLimitStore(storage), config.plans, clock, config.rateLimit, log);
  const usageStore = repositories.usage ?? new TableUsageStore(storage);
  const usageRecorder = new UsageRecorder(usageStore, keyRepository, clock, rateLimiter.instanceId, config.usage.flushIntervalMs, log);
  const usage = new UsageService(usageStore, keys, clock, config.staleKeyDays * 24 * 3_600_000);
  const health = new HealthMonitor(
    [{ name: 'table-storage', check: () => storage.probe() }],
    config.health.probeIntervalMs,
    clock,
    log,
  );
  if (overrides.background !== false) {
    health.start();
    listener.start();
    rateLimiter.start();
    usageRecorder.start();
  }
  return {
    config,
    clock,
    log,
    storage,
    customers,
    keys,
    requests,
    staff: new StaffService(customers, keys, audit, clock),
    tenantKeys,
    components,
    authenticator,
    door,
    portalTokens: new PortalTokenVerifier(config.portal),
    ingest: new IngestService(sessions, new IngestAdmission(config.ingest.memoryBudgetBytes, INGEST_ADMISSION_WAIT_MS), clock, log),
    sessions,
    audit,
    revocations: listener,
    revocationFeed: feed,
    rateLimiter,
    usageRecorder,
    usage,
    usageStore,
    staleKeys: new StaleKeyReview(sharedCustomers, keys, usage, audit, clock, log),
    health,
    async dispose() {
      health.stop();
      listener?.stop();
      rateLimiter.stop();
      await usageRecorder.stop();
    },
  };
}
