import { odata } from '@azure/data-tables';
import type { AuditEvent } from '../../domain';
import type { AuditLog, FeedPage, FeedPosition, Page } from '../../ports/audit-log';
import { statusOf } from '../azure-errors';
import {
  AUDIT_FEED_PREFIX,
  AUDIT_PREFIX,
  INVALID_CURSOR,
  auditFeedRowKey,
  auditFeedRowKeyAfterInstant,
  auditSteps,
  decodeCursor,
  encodeCursor,
  toAuditEvent,
  type AuditEntity,
} from './rows';
import type { TableStorage } from './table-storage';

/** The most rows one Table query answers with. */
const TABLE_PAGE_MAX = 1000;

/**
 * Audit events in their customer's partition of the customers table, each twice: newest first
 * (`audit_…`, the listing) and oldest first (`auditfeed_…`, the feed), written in one transaction.
 * Events that accompany a change are written by that change's adapter in the same transaction as
 * the change (through `auditSteps`, which writes both rows).
 */
export class TableAuditLog implements AuditLog {
  constructor(private readonly storage: TableStorage) {}

  async append(event: AuditEvent): Promise<void> {
    await this.storage.step('audit.append');
    await this.storage.call((o) => this.storage.clients.customers.submitTransaction(auditSteps(event), o));
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

  /**
   * One range query over the feed rows, from the position to the end of `until`'s instant: it reads
   * `limit + 1` rows (the one more says whether more follow), whatever the size of the log.
   */
  async feed(customerSlug: string, options: { after?: FeedPosition; until: string; limit: number }): Promise<FeedPage> {
    const from = options.after ? auditFeedRowKey(options.after.at, options.after.id) : AUDIT_FEED_PREFIX;
    const to = auditFeedRowKeyAfterInstant(options.until);
    return this.storage.call(async (o) => {
      const rows: AuditEntity[] = [];
      const pages = this.storage.clients.customers
        .listEntities<AuditEntity>({
          queryOptions: { filter: odata`PartitionKey eq ${customerSlug} and RowKey gt ${from} and RowKey lt ${to}` },
          abortSignal: o.abortSignal,
        })
        .byPage({ maxPageSize: Math.min(options.limit + 1, TABLE_PAGE_MAX) });
      // A page may hold fewer rows than asked with more to come (the service's own limits): read on.
      for await (const page of pages) {
        rows.push(...page);
        if (rows.length > options.limit) break;
      }
      return { items: rows.slice(0, options.limit).map(toAuditEvent), hasMore: rows.length > options.limit };
    });
  }
}
