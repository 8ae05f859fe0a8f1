import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { GitHubPublicKeys } from '../shared/adapters/github/github-public-keys';
import { FileSecretStore } from '../shared/adapters/local/file-secret-store';
import { HttpPublicDocumentFetch } from '../shared/adapters/oidc/http-public-document-fetch';
import { DnsHostResolver } from '../shared/adapters/net/dns-host-resolver';
import { GuardedHttpClient } from '../shared/adapters/net/guarded-http-client';
import { OutboundGuard } from '../shared/net/outbound-guard';
import { KeyVaultSecretStore } from '../shared/adapters/keyvault/key-vault-secret-store';
import { TableAuditLog } from '../shared/adapters/table/table-audit-log';
import { TableCustomerRepository } from '../shared/adapters/table/table-customer-repository';
import { TableExpirySchedule } from '../shared/adapters/table/table-expiry-schedule';
import { TableFederatedTokenRepository } from '../shared/adapters/table/table-federated-token-repository';
import { TableGraceSchedule } from '../shared/adapters/table/table-grace-schedule';
import { TableKeyRepository } from '../shared/adapters/table/table-key-repository';
import { TableKeyRequestRepository } from '../shared/adapters/table/table-key-request-repository';
import { TableRateLimitStore } from '../shared/adapters/table/table-rate-limit-store';
import { TableRevocationFeed } from '../shared/adapters/table/table-revocation-feed';
import { TableSessionRepository } from '../shared/adapters/table/table-session-repository';
import { TableStorage, type StorageFaultHook } from '../shared/adapters/table/table-storage';
import { TableTrustPolicyRepository } from '../shared/adapters/table/table-trust-policy-repository';
import { TableWebhookEndpointRepository } from '../shared/adapters/table/table-webhook-endpoint-repository';
import type { PartitionThrottleOptions } from '../shared/adapters/table/partition-throttle';
import { TableUsageStore } from '../shared/adapters/table/table-usage-store';
import { ApiKeyDoor } from '../shared/auth/api-key-door';
import { ComponentCheck } from '../shared/auth/component-check';
import { PortalTokenVerifier } from '../shared/auth/portal-tokens';
import { ReportSignatureVerifier } from '../shared/secret-scanning/report-signature';
import { systemClock, type Clock } from '../shared/clock';
import type { Config } from '../shared/config';
import { processLogger, type Logger } from '../shared/logging';
import type { AuditLog } from '../shared/ports/audit-log';
import type { CustomerRepository } from '../shared/ports/customer-repository';
import type { ExpirySchedule } from '../shared/ports/expiry-schedule';
import type { FederatedTokenRepository } from '../shared/ports/federated-token-repository';
import type { GraceSchedule } from '../shared/ports/grace-schedule';
import type { KeyRepository } from '../shared/ports/key-repository';
import type { KeyRequestRepository } from '../shared/ports/key-request-repository';
import type { HostResolver } from '../shared/ports/host-resolver';
import type { OutboundHttp } from '../shared/ports/outbound-http';
import type { PublicDocumentFetch } from '../shared/ports/public-documents';
import type { RateLimitStore } from '../shared/ports/rate-limit-store';
import type { RevocationFeed } from '../shared/ports/revocation-feed';
import type { PublishedKeySource } from '../shared/ports/signing-keys';
import type { SecretStore } from '../shared/ports/secret-store';
import type { SessionRepository } from '../shared/ports/session-repository';
import type { TrustPolicyRepository } from '../shared/ports/trust-policy-repository';
import type { UsageStore } from '../shared/ports/usage-store';
import type { WebhookEndpointRepository } from '../shared/ports/webhook-endpoint-repository';
import { AuditTrail } from '../shared/services/audit-trail';
import { ComponentCache } from '../shared/auth/component-cache';
import type { ServiceContext, UseCases } from './context';
import { isId } from '../shared/ids';
import { CustomerService } from '../shared/services/customer-service';
import { FailedAuthThrottle } from '../shared/auth/failed-auth-throttle';
import { FederatedTokens } from '../shared/services/federated-tokens';
import { HealthMonitor } from '../shared/services/health-monitor';
import { INTAKE_BODIES, IngestMemory } from '../shared/services/ingest-memory';
import { IngestService } from '../shared/services/ingest-service';
import { KeyAuthenticator } from '../shared/auth/key-authenticator';
import { KeyRequestService } from '../shared/services/key-request-service';
import { KeyRevocation } from '../shared/services/key-revocation';
import { KeyService } from '../shared/services/key-service';
import { LeakedKeyService } from '../shared/secret-scanning/leaked-key-service';
import { RateLimiter } from '../shared/services/rate-limiter';
import { RevocationListener } from '../shared/services/revocation-listener';
import { SessionService } from '../shared/services/session-service';
import { StaffService } from '../shared/services/staff-service';
import { StaleKeyReview } from '../shared/services/stale-key-review';
import { TokenExchange } from '../shared/services/token-exchange';
import { TrustPolicyService } from '../shared/services/trust-policy-service';
import { WebhookEndpointService } from '../shared/services/webhook-endpoints';
import { WebhookSecretVault } from '../shared/webhooks/secrets';
import { queueName, type QueueName } from '../shared/adapters/queue/queue-names';
import { QueueOperationCounter, StorageWorkQueue } from '../shared/adapters/queue/storage-queue';
import { TableWebhookDeliveryRepository } from '../shared/adapters/table/table-webhook-delivery-repository';
import type { WebhookDeliveryRepository } from '../shared/ports/webhook-delivery-repository';
import type { WorkQueue } from '../shared/ports/work-queue';
import { WebhookDeliveryService } from '../shared/services/webhook-delivery';
import { WebhookDispatcher } from '../shared/services/webhook-dispatch';
import { SubjectTokenVerifier } from '../shared/trust/oidc-verifier';
import { MasterComponentService } from '../shared/services/master-component-service';
import { UsageRecorder } from '../shared/services/usage-recorder';
import { UsageService } from '../shared/services/usage-service';
import { ServiceStatus } from '../shared/services/service-status';
import { Telemetry } from '../shared/telemetry/telemetry';
import { Tracing } from '../shared/telemetry/tracing';

/**
 * The composition root: the one place that knows every adapter and service, and wires them
 * together once per process (a cold start). The Functions entry point (functions/index.ts), the
 * local host, the admin CLI, the benchmark and the tests all build their services here.
 */

/** How long an ingest request waits for memory before it is answered 503 `server_busy`. */
const INGEST_ADMISSION_WAIT_MS = 10_000;
const DAY_MS = 86_400_000;

/**
 * The most storage operations one instance's background work makes per second, from the
 * configured intervals: one feed read per revocation poll; per rate-limit sync at its fastest
 * interval, a publish, a read-back and (amortised, counted whole) a prune; one read per health
 * probe. Usage flushes are not in it: a flush writes what requests counted (at most a batch per
 * 100 key-hours of a customer), and is counted with the requests.
 */
export function backgroundOperationsPerSecond(config: Config): number {
  return 1000 / config.revocationFeed.pollIntervalMs + (3 * 1000) / config.rateLimit.syncIntervalMs + 1000 / config.health.probeIntervalMs;
}

export interface ServiceOverrides {
  clock?: Clock;
  log?: Logger;
  secrets?: SecretStore;
  /** Where GitHub's secret-scanning keys are read (default: GITHUB_SECRET_SCANNING_KEYS_URL). */
  scannerKeys?: PublishedKeySource;
  /** How issuers' discovery documents and key sets are read (default: over HTTP; unit tests: in memory). */
  documents?: PublicDocumentFetch;
  /**
   * How the host names of outbound requests (issuers, webhook endpoints) are resolved before the
   * outbound guard checks their addresses (default: the system resolver; tests: in memory, so a
   * name can resolve to 127.0.0.1 or 169.254.169.254 without DNS).
   */
  resolver?: HostResolver;
  /** Every outbound request (issuers, webhook endpoints); default: the guarded client under the runtime's rules. Tests pass one with production rules. */
  outbound?: OutboundHttp;
  /** Replace the queues (unit tests use the in-memory fake). */
  queues?: Partial<Record<QueueName, WorkQueue>>;
  /** A number in [0, 1) for the webhook retries' jitter (default Math.random). */
  random?: () => number;
  faultHook?: StorageFaultHook;
  /** Tests and the benchmark: answer like a partition over Table Storage's scalability target. */
  throttle?: PartitionThrottleOptions;
  /** Keep this many storage operations one by one for the benchmark's load model (0: none). */
  operationLog?: number;
  /** Replace storage adapters (unit tests use the in-memory fakes). */
  repositories?: {
    customers?: CustomerRepository;
    keys?: KeyRepository;
    sessions?: SessionRepository;
    audit?: AuditLog;
    requests?: KeyRequestRepository;
    feed?: RevocationFeed;
    grace?: GraceSchedule;
    expiries?: ExpirySchedule;
    rateLimits?: RateLimitStore;
    usage?: UsageStore;
    trustPolicies?: TrustPolicyRepository;
    federatedTokens?: FederatedTokenRepository;
    webhookEndpoints?: WebhookEndpointRepository;
    webhookDeliveries?: WebhookDeliveryRepository;
  };
  /** The metrics (tests read them back; the entry point may add exporting readers). */
  telemetry?: Telemetry;
  /** Where spans go (the entry point passes the distro's API in Azure; tests an in-memory one). */
  tracing?: Tracing;
  /** Start background work (health probe, revocation feed reads). On by default. */
  background?: boolean;
}

/** What every step shares: the clock, the log, the metrics and the spans (and, in tests, the jitter's randomness). */
interface Runtime {
  clock: Clock;
  log: Logger;
  telemetry: Telemetry;
  tracing: Tracing;
  random?: () => number;
}

/** Each port's adapter (or its override), and the storage accounts behind them. */
interface Adapters {
  storage: TableStorage;
  /** The accounts sessions are written to: the main one, or the sessions accounts. */
  sessionAccounts: TableStorage[];
  secrets: SecretStore;
  keys: KeyRepository;
  customers: CustomerRepository;
  feed: RevocationFeed;
  sessions: SessionRepository;
  /** The sessions adapter when it is the Table one (its deferred writes are settled on dispose). */
  tableSessions: TableSessionRepository | undefined;
  usage: UsageStore;
  audit: AuditLog;
  expiries: ExpirySchedule;
  grace: GraceSchedule;
  requests: KeyRequestRepository;
  rateLimits: RateLimitStore;
  trustPolicies: TrustPolicyRepository;
  federatedTokens: FederatedTokenRepository;
  webhookEndpoints: WebhookEndpointRepository;
  webhookDeliveries: WebhookDeliveryRepository;
  /** The service's queues, and the operations made on them. */
  queues: Record<QueueName, WorkQueue>;
  queueOperations: QueueOperationCounter;
  /** Every request to an address someone else chose, under the outbound guard's rules (pinned, bounded). */
  outbound: OutboundHttp;
  /** Issuers' public documents (the token exchange's discovery and key sets), read through `outbound`. */
  documents: PublicDocumentFetch;
}

/** The API-key door and what keeps its cache honest (the revocation-feed listener). */
interface Door {
  components: ComponentCache;
  authenticator: KeyAuthenticator;
  listener: RevocationListener;
  door: ApiKeyDoor;
}

/** What meters authenticated requests: the shared rate limits and the usage counts. */
interface Metering {
  rateLimiter: RateLimiter;
  usageRecorder: UsageRecorder;
}

/** Background work, each with a start and a stop. */
interface Background {
  health: HealthMonitor;
  listener: RevocationListener;
  rateLimiter: RateLimiter;
  usageRecorder: UsageRecorder;
}

/** Step 1: the adapters, each port's Table (or Key Vault, or file) adapter unless the overrides replace it. */
function buildAdapters(config: Config, overrides: ServiceOverrides, { clock, log, telemetry, tracing }: Runtime): Adapters {
  const metrics = telemetry.metrics;
  let credential: TokenCredential | undefined;
  const azureCredential = () =>
    (credential ??= new DefaultAzureCredential(
      config.managedIdentityClientId ? { managedIdentityClientId: config.managedIdentityClientId } : {},
    ));
  const storage = new TableStorage(config.tables, {
    ...(config.tables.endpoint ? { credential: azureCredential() } : {}),
    ...(overrides.faultHook ? { faultHook: overrides.faultHook } : {}),
    ...(overrides.throttle ? { throttle: overrides.throttle } : {}),
    operationLog: overrides.operationLog ?? 0,
    metrics,
    tracing,
  });
  // Sessions accounts, when configured, share the main account's operation counter.
  const sessionAccounts =
    config.sessionAccounts.length === 0
      ? [storage]
      : config.sessionAccounts.map(
          (account, i) =>
            new TableStorage(
              { ...config.tables, connectionString: account.connectionString, endpoint: account.endpoint },
              {
                ...(account.endpoint ? { credential: azureCredential() } : {}),
                ...(overrides.throttle ? { throttle: overrides.throttle } : {}),
                tables: ['sessions'],
                account: `sessions-${i + 1}`,
                operations: storage.operations,
                metrics,
                tracing,
              },
            ),
        );
  const secrets =
    overrides.secrets ??
    (config.masterComponent.vaultUrl
      ? new KeyVaultSecretStore(new SecretClient(config.masterComponent.vaultUrl, azureCredential()))
      : new FileSecretStore(config.localDataDir));
  const repositories = overrides.repositories ?? {};
  const tableSessions = repositories.sessions ? undefined : new TableSessionRepository(sessionAccounts, { log });
  // Outside local mode: https only, to hosts whose every address is public, the connection pinned to them.
  const outbound =
    overrides.outbound ??
    new GuardedHttpClient(new OutboundGuard(overrides.resolver ?? new DnsHostResolver(), { localMode: config.runtime === 'local' }));
  const queueOperations = new QueueOperationCounter();
  const queues: Record<QueueName, WorkQueue> = {
    webhookDeliveries:
      overrides.queues?.webhookDeliveries ??
      new StorageWorkQueue(config.queues, queueName(config.queues.prefix, 'webhookDeliveries'), {
        ...(config.queues.endpoint ? { credential: azureCredential() } : {}),
        operations: queueOperations,
      }),
  };
  return {
    storage,
    sessionAccounts,
    secrets,
    keys: repositories.keys ?? new TableKeyRepository(storage),
    customers: repositories.customers ?? new TableCustomerRepository(storage),
    feed: repositories.feed ?? new TableRevocationFeed(storage, clock),
    sessions: repositories.sessions ?? tableSessions!,
    tableSessions,
    usage: repositories.usage ?? new TableUsageStore(storage),
    audit: repositories.audit ?? new TableAuditLog(storage),
    expiries: repositories.expiries ?? new TableExpirySchedule(storage),
    grace: repositories.grace ?? new TableGraceSchedule(storage),
    requests: repositories.requests ?? new TableKeyRequestRepository(storage),
    rateLimits: repositories.rateLimits ?? new TableRateLimitStore(storage),
    trustPolicies: repositories.trustPolicies ?? new TableTrustPolicyRepository(storage),
    federatedTokens: repositories.federatedTokens ?? new TableFederatedTokenRepository(storage),
    webhookEndpoints: repositories.webhookEndpoints ?? new TableWebhookEndpointRepository(storage),
    webhookDeliveries: repositories.webhookDeliveries ?? new TableWebhookDeliveryRepository(storage),
    queues,
    queueOperations,
    outbound,
    documents: overrides.documents ?? new HttpPublicDocumentFetch(outbound),
  };
}

/** Step 2: the API-key door, its caches, and the listener that applies the revocation feed to them. */
function buildDoor(config: Config, adapters: Adapters, { clock, log, telemetry, tracing }: Runtime): Door {
  const metrics = telemetry.metrics;
  const components = new ComponentCache(adapters.secrets, clock, {
    ttlMs: config.masterComponent.cacheTtlMs,
    maxEntries: 20_000,
    metrics,
    tracing,
  });
  // The authenticator trusts its cache only while the revocation feed is being read; the
  // listener, built next, applies the feed to that cache.
  const authenticator = new KeyAuthenticator(adapters.keys, clock, { ...config.authCache, trusted: (now) => listener.trusted(now) });
  const listener: RevocationListener = new RevocationListener({
    feed: adapters.feed,
    apply: (entry) => {
      metrics.feedEntry(entry.reason);
      if (entry.reason === 'revoked') authenticator.revoke(entry.secretHash, entry.customerSlug);
      else authenticator.evict(entry.secretHash);
    },
    clock,
    options: config.revocationFeed,
    log,
  });
  const door = new ApiKeyDoor({
    authenticator,
    components: new ComponentCheck(components, clock),
    failedAuth: new FailedAuthThrottle(config.authCache.failuresPerMinute, clock),
    clock,
  });
  return { components, authenticator, listener, door };
}

/** Step 3: the rate limiter and usage recorder that meter each authenticated request (ingest's batches too). */
function buildMetering(config: Config, adapters: Adapters, { clock, log, telemetry }: Runtime): Metering {
  const rateLimiter = new RateLimiter({ store: adapters.rateLimits, plans: config.plans, clock, options: config.rateLimit, log });
  const usageRecorder = new UsageRecorder({
    store: adapters.usage,
    // A federated token counts for its trust policy (its identity's key id is the policy's): the
    // policy's row records the last use.
    keys: {
      touchLastUsed: async (entries) => {
        const policies = entries.filter((e) => isId('tp', e.keyId));
        await adapters.keys.touchLastUsed(entries.filter((e) => !isId('tp', e.keyId)));
        if (policies.length > 0) {
          await adapters.trustPolicies.touchLastUsed(
            policies.map((e) => ({ customerSlug: e.customerSlug, trustPolicyId: e.keyId, hour: e.hour })),
          );
        }
      },
    },
    clock,
    instanceId: rateLimiter.instanceId,
    flushIntervalMs: config.usage.flushIntervalMs,
    log,
    metrics: telemetry.metrics,
  });
  return { rateLimiter, usageRecorder };
}

/** Step 4: the use cases handlers and timers are handed (services over ports, never an adapter). */
function buildUseCases(
  config: Config,
  adapters: Adapters,
  door: Door,
  metering: Metering,
  { clock, log, telemetry, random }: Runtime,
): UseCases {
  const { components, authenticator } = door;
  const { rateLimiter } = metering;
  const audit = new AuditTrail(adapters.audit, clock);
  const customers = new CustomerService(adapters.customers, adapters.secrets, clock);
  const revocation = new KeyRevocation({
    keys: adapters.keys,
    authenticator,
    feed: adapters.feed,
    audit,
    expiries: adapters.expiries,
    clock,
    log,
  });
  const keys = new KeyService({
    keys: adapters.keys,
    customers,
    components,
    revocation,
    audit,
    plans: config.plans,
    expiries: adapters.expiries,
    rotationDueMs: config.rotationDueMs,
    clock,
    log,
  });
  const masterComponents = new MasterComponentService({
    customers,
    keys,
    secrets: adapters.secrets,
    cache: components,
    schedule: adapters.grace,
    audit,
    clock,
    gracePeriodMs: config.masterComponent.gracePeriodMs,
    log,
  });
  const requests = new KeyRequestService({ requests: adapters.requests, keys, customers, rotator: masterComponents, audit, clock, log });
  const usage = new UsageService({
    usage: adapters.usage,
    keys,
    clock,
    staleAfterMs: config.staleKeyDays * DAY_MS,
    retentionMs: config.usage.retentionDays * DAY_MS,
  });
  // The main account, and each sessions account when there are any (ingest depends on them).
  const { storage, sessionAccounts } = adapters;
  const probes = [
    { name: 'table-storage', check: () => storage.probe() },
    ...(sessionAccounts[0] === storage
      ? []
      : sessionAccounts.map((account, i) => ({ name: `sessions-storage-${i + 1}`, check: () => account.probe() }))),
  ];
  const health = new HealthMonitor(probes, config.health.probeIntervalMs, clock, log);
  const localMode = config.runtime === 'local';
  const federatedTokens = new FederatedTokens({ tokens: adapters.federatedTokens, authenticator, feed: adapters.feed, clock, log });
  // One vault per process: it caches the data key webhook signing secrets are sealed under.
  const webhookSecrets = new WebhookSecretVault(adapters.secrets);
  const webhookEndpoints = new WebhookEndpointService({
    endpoints: adapters.webhookEndpoints,
    customers,
    audit,
    secrets: webhookSecrets,
    plans: config.plans,
    clock,
    log,
    localMode,
  });
  const webhookDeliveries = new WebhookDeliveryService({
    deliveries: adapters.webhookDeliveries,
    endpoints: adapters.webhookEndpoints,
    signer: webhookEndpoints,
    queue: adapters.queues.webhookDeliveries,
    outbound: adapters.outbound,
    clock,
    log,
    retryDelaysMs: config.webhooks.retryDelaysMs,
    ...(random ? { random } : {}),
  });
  const webhookDispatch = new WebhookDispatcher({
    audit: adapters.audit,
    endpoints: adapters.webhookEndpoints,
    deliveries: adapters.webhookDeliveries,
    keys: adapters.keys,
    enqueue: (delivery) => webhookDeliveries.ensureQueued(delivery),
    clock,
    log,
  });
  // Every event built is a webhook candidate: its customer's log is read a moment later.
  audit.onEvent((customerSlug) => webhookDispatch.notify(customerSlug));
  return Object.freeze({
    config,
    customers,
    keys,
    revocation,
    requests,
    staff: new StaffService(customers, keys, audit),
    masterComponents,
    ingest: new IngestService({
      sessions: adapters.sessions,
      memory: new IngestMemory({
        budgetBytes: config.ingest.memoryBudgetBytes,
        intakeBytes: INTAKE_BODIES * config.ingest.maxBodyBytes,
        maxWaitMs: INGEST_ADMISSION_WAIT_MS,
        clock,
      }),
      maxBodyBytes: config.ingest.maxBodyBytes,
      limiter: rateLimiter,
      clock,
      log,
      metrics: telemetry.metrics,
    }),
    sessions: new SessionService(adapters.sessions),
    audit,
    leaks: new LeakedKeyService({ keys: adapters.keys, keyService: keys, customers, audit, clock, log }),
    usage,
    status: new ServiceStatus(telemetry, rateLimiter.instanceId, clock),
    staleKeys: new StaleKeyReview({ customers: adapters.customers, keys, usage, audit, clock, log }),
    trustPolicies: new TrustPolicyService({
      policies: adapters.trustPolicies,
      customers,
      audit,
      plans: config.plans,
      tokens: federatedTokens,
      clock,
      log,
      localMode,
    }),
    webhookEndpoints,
    webhookDeliveries,
    webhookDispatch,
    tokenExchange: new TokenExchange({
      // One verifier per process: its cache of issuers' keys serves every exchange.
      verifier: new SubjectTokenVerifier({ fetch: adapters.documents, clock, log, localMode }),
      policies: adapters.trustPolicies,
      customers,
      tokens: federatedTokens,
      audit,
      log,
    }),
    health,
  });
}

/** Starts the background work: health probes, revocation-feed reads, rate-limit syncs, usage flushes. */
function startBackground({ health, listener, rateLimiter, usageRecorder }: Background): void {
  health.start();
  listener.start();
  rateLimiter.start();
  usageRecorder.start();
}

/** Stops it (whether it started or not), flushing the usage counts held. */
async function stopBackground({ health, listener, rateLimiter, usageRecorder }: Background): Promise<void> {
  health.stop();
  listener.stop();
  rateLimiter.stop();
  await usageRecorder.stop();
}

/**
 * Builds the process's services in steps (adapters, door, metering, use cases), starts the
 * background work unless `overrides.background` is false, and hands back one context.
 */
export function createServices(config: Config, overrides: ServiceOverrides = {}): ServiceContext {
  const telemetry = overrides.telemetry ?? new Telemetry();
  const runtime: Runtime = {
    clock: overrides.clock ?? systemClock,
    log: overrides.log ?? processLogger,
    telemetry,
    tracing: overrides.tracing ?? new Tracing(),
    ...(overrides.random ? { random: overrides.random } : {}),
  };
  const adapters = buildAdapters(config, overrides, runtime);
  const door = buildDoor(config, adapters, runtime);
  const metering = buildMetering(config, adapters, runtime);
  telemetry.metrics.observe({
    authCacheEntries: () => door.authenticator.cachedEntries,
    feedLagSeconds: () => door.listener.lagSeconds(),
    rateLimitSyncLagSeconds: () => metering.rateLimiter.syncLagSeconds(),
  });
  const useCases = buildUseCases(config, adapters, door, metering, runtime);
  const background: Background = { health: useCases.health, listener: door.listener, ...metering };
  if (overrides.background !== false) startBackground(background);

  return {
    useCases,
    clock: runtime.clock,
    log: runtime.log,
    storage: adapters.storage,
    sessionStore: adapters.sessions,
    components: door.components,
    authenticator: door.authenticator,
    door: door.door,
    portalTokens: new PortalTokenVerifier(config.portal),
    reportSignatures: new ReportSignatureVerifier(
      overrides.scannerKeys ?? new GitHubPublicKeys(config.secretScanning.githubKeysUrl),
      runtime.clock,
      runtime.log,
    ),
    revocations: door.listener,
    revocationFeed: adapters.feed,
    rateLimiter: metering.rateLimiter,
    usageRecorder: metering.usageRecorder,
    usageStore: adapters.usage,
    telemetry,
    tracing: runtime.tracing,
    queues: adapters.queues,
    queueOperations: adapters.queueOperations,
    async dispose() {
      await useCases.webhookDispatch.stop();
      await stopBackground(background);
      await adapters.tableSessions?.settle();
    },
  };
}
