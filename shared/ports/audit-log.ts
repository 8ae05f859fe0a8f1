import type { AuditEvent } from '../domain';

export interface Page<T> {
  items: T[];
  /** Opaque; pass it back to get the next page. `undefined` on the last page. */
  cursor: string | undefined;
}

/** A customer's audit log, newest first. */
export interface AuditLog {
  append(event: AuditEvent): Promise<void>;
  /**
   * A page of at most `limit` events. The next page starts after the last event of this one (events
   * appended meanwhile shift nothing); a cursor this log did not give, or gave for another customer,
   * is refused (`validation_failed`).
   */
  list(customerSlug: string, options: { limit: number; cursor?: string }): Promise<Page<AuditEvent>>;
}
