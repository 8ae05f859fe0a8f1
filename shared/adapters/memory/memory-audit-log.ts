import type { AuditEvent } from '../../domain';
import type { AuditLog, Page } from '../../ports/audit-log';

/** In-memory AuditLog for unit tests. */
export class MemoryAuditLog implements AuditLog {
  readonly events: AuditEvent[] = [];

  async append(event: AuditEvent): Promise<void> {
    this.events.push(event);
  }

  async list(customerSlug: string, options: { limit: number; cursor?: string }): Promise<Page<AuditEvent>> {
    const mine = this.events.filter((e) => e.customerSlug === customerSlug).sort((a, b) => b.at.localeCompare(a.at));
    const start = options.cursor ? Number(options.cursor) : 0;
    return {
      items: mine.slice(start, start + options.limit),
      cursor: start + options.limit < mine.length ? String(start + options.limit) : undefined,
    };
  }
}
