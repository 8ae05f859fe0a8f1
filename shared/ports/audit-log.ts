import type { AuditEvent } from '../domain';

export interface Page<T> {
  items: T[];
  /** Opaque; pass it back to get the next page. `undefined` on the last page. */
  cursor: string | undefined;
}

/** A customer's audit log, newest first. */
export interface AuditLog {
  append(event: AuditEvent): Promise<void>;
  list(customerSlug: string, options: { limit: number; cursor?: string }): Promise<Page<AuditEvent>>;
}
