import { MemoryAuditLog } from '../../shared/adapters/memory/memory-audit-log';
import { MemoryCustomerRepository } from '../../shared/adapters/memory/memory-customer-repository';
import { MemoryExpirySchedule } from '../../shared/adapters/memory/memory-expiry-schedule';
import { MemoryFederatedTokenRepository } from '../../shared/adapters/memory/memory-federated-token-repository';
import { MemoryGraceSchedule } from '../../shared/adapters/memory/memory-grace-schedule';
import { MemoryKeyRepository } from '../../shared/adapters/memory/memory-key-repository';
import { MemoryKeyRequestRepository } from '../../shared/adapters/memory/memory-key-request-repository';
import { MemoryRateLimitStore } from '../../shared/adapters/memory/memory-rate-limit-store';
import { MemoryRevocationFeed } from '../../shared/adapters/memory/memory-revocation-feed';
import { MemoryUsageStore } from '../../shared/adapters/memory/memory-usage-store';
import { MemorySecretStore } from '../../shared/adapters/memory/memory-secret-store';
import { MemorySessionRepository } from '../../shared/adapters/memory/memory-session-repository';
import { MemoryTrustPolicyRepository } from '../../shared/adapters/memory/memory-trust-policy-repository';
import { MemoryWebhookDeliveryRepository } from '../../shared/adapters/memory/memory-webhook-delivery-repository';
import { MemoryWorkQueue } from '../../shared/adapters/memory/memory-work-queue';
import { MemoryWebhookEndpointRepository } from '../../shared/adapters/memory/memory-webhook-endpoint-repository';
import { ManualClock } from '../../shared/clock';
import { loadConfig } from '../../shared/config';
import { silentLogger } from '../../shared/logging';
import { createServices, type ServiceOverrides } from '../../app/compose';
import { TEST_PORTAL_ENV, UNLIMITED_PORTAL_ENV } from './portal';

/**
 * The real services over in-memory fakes, for unit tests of logic (no storage is reached).
 * `overrides`: further collaborators (an in-memory fetch of issuers' documents, say).
 */
export function memoryServices(
  env: Record<string, string> = {},
  overrides: Pick<ServiceOverrides, 'documents' | 'outbound' | 'random'> = {},
) {
  const customers = new MemoryCustomerRepository();
  const audit = new MemoryAuditLog();
  // Key events land in the customer's audit log, as on Table Storage.
  const keys = new MemoryKeyRepository(customers, audit);
  const repositories = {
    customers,
    keys,
    sessions: new MemorySessionRepository(),
    audit,
    // Request events land in the customer's audit log, as on Table Storage.
    requests: new MemoryKeyRequestRepository(audit),
    feed: new MemoryRevocationFeed(),
    grace: new MemoryGraceSchedule(),
    expiries: new MemoryExpirySchedule(),
    rateLimits: new MemoryRateLimitStore(),
    usage: new MemoryUsageStore(),
    // Policy events land in the customer's audit log, as on Table Storage.
    trustPolicies: new MemoryTrustPolicyRepository(customers, audit),
    // Token lookup rows land beside the keys', where the door reads them.
    federatedTokens: new MemoryFederatedTokenRepository(keys),
    // Endpoint events land in the customer's audit log, as on Table Storage.
    webhookEndpoints: new MemoryWebhookEndpointRepository(customers, audit),
    webhookDeliveries: new MemoryWebhookDeliveryRepository(),
  };
  const clock = new ManualClock('2026-03-01T12:00:00.000Z');
  const queues = { webhookDeliveries: new MemoryWorkQueue(clock) };
  const secrets = new MemorySecretStore();
  const services = createServices(
    // The connection string is never used: every adapter is replaced.
    loadConfig({ TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true', ...TEST_PORTAL_ENV, ...UNLIMITED_PORTAL_ENV, ...env }),
    { repositories, queues, secrets, clock, log: silentLogger, background: false, ...overrides },
  );
  // Background work is off in unit tests: one read of the (in-memory) feed makes the cache
  // trusted, as on a healthy instance.
  void services.revocations.poll();
  return { services, repositories, queues, clock, secrets };
}
