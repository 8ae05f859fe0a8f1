import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemorySecretStore } from '../../shared/adapters/memory/memory-secret-store';
import { loadConfig, type Config } from '../../shared/config';
import type { Logger } from '../../shared/logging';
import { createServices, type ServiceOverrides } from '../../app/compose';
import type { ServiceContext } from '../../app/context';
import { TEST_PORTAL_ENV, UNLIMITED_PORTAL_ENV, op } from './portal';
import { trackSecret } from './secrets';
import type { Plan } from '../../shared/domain';

/** A table prefix no other test file uses: each file gets tables of its own on the shared Azurite. */
export function uniquePrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

export function azuriteConnectionString(): string {
  const value = process.env.TEST_TABLES_CONNECTION_STRING;
  if (!value) throw new Error('TEST_TABLES_CONNECTION_STRING is not set: run the tests through jest (global setup starts Azurite)');
  return value;
}

/** Settings for a service on the test Azurite, with its own tables and data folder. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    TABLES_CONNECTION_STRING: azuriteConnectionString(),
    TABLES_PREFIX: uniquePrefix(),
    ...TEST_PORTAL_ENV,
    ...UNLIMITED_PORTAL_ENV,
    LOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'vp-test-')),
    HEALTH_PROBE_INTERVAL_MS: '200',
    STORAGE_TIMEOUT_MS: '2000',
    ...overrides,
  };
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig(testEnv(overrides));
}

/** Real services on the test Azurite (memory secret store unless told otherwise). */
export function testServices(overrides: Record<string, string> = {}, serviceOverrides: ServiceOverrides = {}): ServiceContext {
  return createServices(testConfig(overrides), { secrets: new MemorySecretStore(), background: false, ...serviceOverrides });
}

/** A logger that keeps lines for assertions. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    lines.push(`${level} ${message} ${fields ? JSON.stringify(fields) : ''}`);
  return { lines, info: push('info'), warn: push('warn'), error: push('error') };
}

let customerCounter = 0;

/** A fresh customer with one active key; the key is tracked for the no-secret-in-logs check. */
export async function customerWithKey(
  services: ServiceContext,
  options: { plan?: Plan; environment?: 'live' | 'test'; label?: string; slug?: string } = {},
) {
  const slug = options.slug ?? `c${process.pid}-${++customerCounter}-${randomBytes(3).toString('hex')}`;
  const customer = await services.useCases.customers.create({ slug, name: `Customer ${slug}`, plan: options.plan ?? 'pro' });
  const issued = await services.useCases.keys.issue(
    slug,
    { label: options.label ?? 'primary-ingest', application: 'test-app', environment: options.environment ?? 'live' },
    op(),
  );
  trackSecret(issued.key);
  return { customer, key: issued.key, keyId: issued.metadata.id, secret: issued.key.split('.').at(-1)! };
}
