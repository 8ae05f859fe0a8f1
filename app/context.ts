import type { TableStorage } from '../shared/adapters/table/table-storage';
import type { SessionRepository } from '../shared/ports/session-repository';
import type { ApiKeyDoor } from '../shared/auth/api-key-door';
import type { ReportSignatureVerifier } from '../shared/secret-scanning/report-signature';
import type { PortalTokenVerifier } from '../shared/auth/portal-tokens';
import type { Clock } from '../shared/clock';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/logging';
import type { RevocationFeed } from '../shared/ports/revocation-feed';
import type { UsageStore } from '../shared/ports/usage-store';
import type { Telemetry } from '../shared/telemetry/telemetry';
import type { Tracing } from '../shared/telemetry/tracing';
import type { AuditTrail } from '../shared/services/audit-trail';
import type { ComponentCache } from '../shared/auth/component-cache';
import type { CustomerService } from '../shared/services/customer-service';
import type { HealthMonitor } from '../shared/services/health-monitor';
import type { IngestService } from '../shared/services/ingest-service';
import type { KeyAuthenticator } from '../shared/auth/key-authenticator';
import type { KeyRequestService } from '../shared/services/key-request-service';
import type { KeyRevocation } from '../shared/services/key-revocation';
import type { KeyService } from '../shared/services/key-service';
import type { LeakedKeyService } from '../shared/secret-scanning/leaked-key-service';
import type { RateLimiter } from '../shared/services/rate-limiter';
import type { RevocationListener } from '../shared/services/revocation-listener';
import type { ServiceStatus } from '../shared/services/service-status';
import type { SessionService } from '../shared/services/session-service';
import type { StaffService } from '../shared/services/staff-service';
import type { StaleKeyReview } from '../shared/services/stale-key-review';
import type { TokenExchange } from '../shared/services/token-exchange';
import type { TrustPolicyService } from '../shared/services/trust-policy-service';
import type { WebhookEndpointService } from '../shared/services/webhook-endpoints';
import type { WebhookDeliveryService } from '../shared/services/webhook-delivery';
import type { WebhookDispatcher } from '../shared/services/webhook-dispatch';
import type { WorkQueue } from '../shared/ports/work-queue';
import type { QueueName } from '../shared/adapters/queue/queue-names';
import type { QueueOperationCounter } from '../shared/adapters/queue/storage-queue';
import type { MasterComponentService } from '../shared/services/master-component-service';
import type { UsageRecorder } from '../shared/services/usage-recorder';
import type { UsageService } from '../shared/services/usage-service';

/**
 * What handlers and timers may use: the use cases, and the settings. Storage clients, ports and
 * the runtime's internals (limiter, usage recorder, caches, revocation feed) are not here: they
 * belong to the doors, the services and the host. Built by app/compose.ts.
 */
export interface UseCases {
  config: Config;
  customers: CustomerService;
  keys: KeyService;
  /** The revocation protocol's timers: expiry, completion of interrupted revocations, feed pruning. */
  revocation: KeyRevocation;
  requests: KeyRequestService;
  staff: StaffService;
  /** The master component's administration (rotate, end grace, retire, status). */
  masterComponents: MasterComponentService;
  ingest: IngestService;
  /** The read side of sessions (the Decisions explorer). */
  sessions: SessionService;
  audit: AuditTrail;
  /** Keys found in public (GitHub secret scanning) and each customer's leaked-key policy. */
  leaks: LeakedKeyService;
  usage: UsageService;
  staleKeys: StaleKeyReview;
  /** Trust policies (workload identity federation): whom a customer trusts to ingest without a key. */
  trustPolicies: TrustPolicyService;
  /** Webhook endpoints: where a customer's key events are delivered, and the secrets they are signed with. */
  webhookEndpoints: WebhookEndpointService;
  /** Webhook deliveries: the queue worker's attempts and retries, and an endpoint's test event, deliveries and retry. */
  webhookDeliveries: WebhookDeliveryService;
  /** The audit log turned into deliveries: soon after each event, and by the sweeper timer. */
  webhookDispatch: WebhookDispatcher;
  /** The token exchange (RFC 8693): a workload's identity token for a federated access token. */
  tokenExchange: TokenExchange;
  health: HealthMonitor;
  /** This instance's current metrics (the staff service view, `npm run admin -- stats`). */
  status: ServiceStatus;
}

/**
 * Everything built once per process (a cold start): the use cases, and what the doors, the
 * host and the tests use besides. Handlers receive `useCases` only (functions/bind.ts).
 */
export interface ServiceContext {
  /** The use cases (the one path to each service): what a handler or a timer is handed. */
  useCases: UseCases;
  clock: Clock;
  log: Logger;
  /** The main storage account's tables. */
  storage: TableStorage;
  /** Where ingested sessions live (the main account, or the sessions accounts by customer). */
  sessionStore: SessionRepository;
  /** Master-component values in memory (Key Vault is never called per request). */
  components: ComponentCache;
  authenticator: KeyAuthenticator;
  /** API-key authentication: from what a request presents to a verdict (shared/auth/api-key-door.ts). */
  door: ApiKeyDoor;
  portalTokens: PortalTokenVerifier;
  /** The secret-scanning door's check of GitHub's signatures (shared/secret-scanning/report-signature.ts). */
  reportSignatures: ReportSignatureVerifier;
  revocations: RevocationListener;
  revocationFeed: RevocationFeed;
  rateLimiter: RateLimiter;
  usageRecorder: UsageRecorder;
  usageStore: UsageStore;
  /** The OpenTelemetry metrics (shared/telemetry/). */
  telemetry: Telemetry;
  /** Spans of requests and their storage and Key Vault calls. */
  tracing: Tracing;
  /** The service's queues (the local host polls them; in Azure queue-triggered functions receive them). */
  queues: Record<QueueName, WorkQueue>;
  /** Operations made on the queues, by kind (the benchmark's per-event figure). */
  queueOperations: QueueOperationCounter;
  /** Stops background work (probes, feed reads); flushes what the process holds. */
  dispose(): Promise<void>;
}
