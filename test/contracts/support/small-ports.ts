import { randomBytes } from 'node:crypto';
import { TableStorage, type TableName } from '../../../shared/adapters/table/table-storage';
import type { Actor, AuditEvent } from '../../../shared/domain';
import { newId } from '../../../shared/ids';
import { testConfig, uniquePrefix } from '../../support/services';

/**
 * Helpers of the contract suites of the small ports (customers, key requests, audit log, usage,
 * rate limits).
 */

let base: ReturnType<typeof testConfig>['tables'] | undefined;

/** A TableStorage on the test Azurite with tables of its own (a fresh prefix), the named tables created. */
export async function freshTableStorage(...tables: TableName[]): Promise<TableStorage> {
  base ??= testConfig().tables;
  const storage = new TableStorage({ ...base, prefix: uniquePrefix() }, { tables });
  await storage.ensureTables();
  return storage;
}

/** A customer slug no other test uses. */
export const freshSlug = (): string => `c${randomBytes(4).toString('hex')}`;

export const staff: Actor = { type: 'user', id: 'usr_staff', name: 'Staff Member' };
export const customerAdmin: Actor = { type: 'user', id: 'usr_admin', name: 'Customer Admin' };

/** `2026-03-01T12:00:00.000Z` plus `minutes`: fixed instants, no wall clock. */
export const at = (minutes: number): string => new Date(Date.parse('2026-03-01T12:00:00.000Z') + minutes * 60_000).toISOString();

/** An audit event of `customerSlug` at a fixed instant (its id made at that instant, as the service does). */
export function auditEvent(customerSlug: string, when: string, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: newId('evt', new Date(when)),
    customerSlug,
    type: 'customer.updated',
    at: when,
    actor: customerAdmin,
    requestId: `req-${randomBytes(3).toString('hex')}`,
    ...overrides,
  };
}
