import { odata } from '@azure/data-tables';
import type { AuditEvent } from '../../domain';
import type { AuditLog, Page } from '../../ports/audit-log';
import { statusOf } from '../azure-errors';
import { AUDIT_PREFIX, INVALID_CURSOR, auditEntity, decodeCursor, encodeCursor, toAuditEvent, type AuditEntity } from './rows';
import type { TableStorage } from './table-storage';

/**
 * Audit events in their customer's partition of the customers table, newest first. Events that
 * accompany a key change are written by the key adapter in the same transaction as the change.
 */
export class TableAuditLog implements AuditLog {
  constructor(private readonly storage: TableStorage) {}

  async append(event: AuditEvent): Promise<void> {
    await this.storage.step('audit.append');
    await this.storage.call((o) => this.storage.clients.customers.createEntity(auditEntity(event), o));
  }

  async list(customerSlug: string, options: { limit: number; cursor?: string }): Promise<Page<AuditEvent>> {
    return this.storage.call(async (o) => {
      const pages = this.storage.clients.customers
        .listEntities<AuditEntity>({
          queryOptions: { filter: odata`PartitionKey eq ${customerSlug} and RowKey ge ${AUDIT_PREFIX} and RowKey lt ${'audit`'}` },
          abortSignal: o.abortSignal,
        })
        .byPage({ maxPageSize: options.limit, continuationToken: decodeCursor(options.cursor, customerSlug) });
      const first = await pages.next().catch((error: unknown) => {
        throw options.cursor && statusOf(error) === 400 ? INVALID_CURSOR() : error;
      });
      if (first.done) return { items: [], cursor: undefined };
      return { items: first.value.map(toAuditEvent), cursor: encodeCursor(first.value.continuationToken, customerSlug) };
    });
  }
}
