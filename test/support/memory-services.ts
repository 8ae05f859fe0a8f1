import { MemoryCustomerRepository } from '../../shared/adapters/memory/memory-customer-repository';
import { MemoryKeyRepository } from '../../shared/adapters/memory/memory-key-repository';
import { MemorySecretStore } from '../../shared/adapters/memory/memory-secret-store';
import { MemorySessionRepository } from '../../shared/adapters/memory/memory-session-repository';
import { ManualClock } from '../../shared/clock';
import { loadConfig } from '../../shared/config';
import { silentLogger } from '../../shared/logging';
import { createServices } from '../../shared/services/context';

/** The real services over in-memory fakes, for unit tests of logic (no storage is reached). */
export function memoryServices(env: Record<string, string> = {}) {
  const repositories = {
    customers: new MemoryCustomerRepository(),
    keys: new MemoryKeyRepository(),
    sessions: new MemorySessionRepository(),
  };
  const clock = new ManualClock('2026-03-01T12:00:00.000Z');
  const services = createServices(
    // The connection string is never used: every adapter is replaced.
    loadConfig({ TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true', ...env }),
    { repositories, secrets: new MemorySecretStore(), clock, log: silentLogger, background: false },
  );
  return { services, repositories, clock };
}
