import type { TableStorage } from '../adapters/table/table-storage';
import type { SessionRepository } from '../ports/session-repository';
import type { ApiKeyDoor } from '../auth/api-key-door';
import type { ReportSignatureVerifier } from '../auth/report-signature';
import type { PortalTokenVerifier } from '../auth/portal-tokens';
import type { Clock } from '../clock';
import type { Config } from '../config';
import type { Logger } from '../logging';
import type { RevocationFeed } from '../ports/revocation-feed';
import type { UsageStore } from '../ports/usage-store';
import type { Telemetry } from '../telemetry/telemetry';
import type { Tracing } from '../telemetry/tracing';
import type { AuditTrail } from './audit-trail';
import type { ComponentCache } from '../auth/component-cache';
import type { CustomerService } from './customer-service';
import type { HealthMonitor } from './health-monitor';
import type { IngestService } from './ingest-service';
import type { KeyAuthenticator } from '../auth/key-authenticator';
import type { KeyRequestService } from './key-request-service';
import type { KeyService } from './key-service';
import type { LeakedKeyService } from './leaked-key-service';
import type { RateLimiter } from './rate-limiter';
import type { RevocationListener } from './revocation-listener';
import type { ServiceStatus } from './service-status';
import type { SessionService } from './session-service';
import type { StaffService } from './staff-service';
import type { StaleKeyReview } from './stale-key-review';
import type { TenantKeyService } from './tenant-key-service';
import type { UsageRecorder } from './usage-recorder';
import type { UsageService } from './usage-service';

/**
 * What handlers and timers may use: the use cases, and the settings. Storage clients, ports and
 * the runtime's internals (limiter, usage recorder, caches, revocation feed) are not here: they
 * belong to the doors, the services and the host. Built by app/compose.ts.
 */
export interface UseCases {
  config: Config;
  customers: CustomerService;
  keys: KeyService;
  requests: KeyRequestService;
  staff: StaffService;
  /** The master component's administration (rotate, end grace, retire, status). */
  tenantKeys: TenantKeyService;
  ingest: IngestService;
  /** The read side of sessions (the Decisions explorer). */
  sessions: SessionService;
  audit: AuditTrail;
  /** Keys found in public (GitHub secret scanning) and each customer's leaked-key policy. */
  leaks: LeakedKeyService;
  usage: UsageService;
  staleKeys: StaleKeyReview;
  health: HealthMonitor;
  /** This instance's current metrics (the staff service view, `npm run admin -- stats`). */
  status: ServiceStatus;
}

/**
 * Everything built once per process (a cold start): the use cases, and what the doors, the
 * host and the tests use besides. Handlers receive `useCases` only (functions/bind.ts).
 */
export interface ServiceContext extends UseCases {
  /** The same use cases, alone: what a handler or a timer is handed. */
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
  /** The secret-scanning door's check of GitHub's signatures (shared/auth/report-signature.ts). */
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
  /** Stops background work (probes, feed reads); flushes what the process holds. */
  dispose(): Promise<void>;
}
