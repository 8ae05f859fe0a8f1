import type { Clock } from '../clock';
import type { ApiKeyRecord, AuditEvent, Operation } from '../domain';
import { newId } from '../ids';
import type { AuditLog, Page } from '../ports/audit-log';

/**
 * What an audit event about a key says about it, so that the event (and the webhook it becomes,
 * shared/webhooks/events.ts) names the key as customers know it: never its secret or hash.
 */
export const keyFacts = (key: Pick<ApiKeyRecord, 'label' | 'application' | 'displayPrefix'>) => ({
  label: key.label,
  application: key.application,
  displayPrefix: key.displayPrefix,
});

/** What an audit event records; who and in which request come from the operation. */
export interface AuditFacts {
  customerSlug: string;
  type: AuditEvent['type'];
  op: Operation;
  keyId?: string;
  keyRequestId?: string;
  details?: Record<string, unknown>;
}

/**
 * A customer's audit trail: the one place events are built (an id and a timestamp from one clock
 * read, so the id's time and `at` never disagree) and read back, newest first.
 */
export class AuditTrail {
  private readonly listeners: Array<(customerSlug: string) => void> = [];

  constructor(
    private readonly log: AuditLog,
    private readonly clock: Clock,
  ) {}

  /**
   * Calls `listener` with the customer's slug whenever one of its events is built (before the
   * write that stores it: the webhook dispatcher reads the log a moment later). It must not throw.
   */
  onEvent(listener: (customerSlug: string) => void): void {
    this.listeners.push(listener);
  }

  /** An event for a change that a repository writes in one transaction with it. */
  event(facts: AuditFacts): AuditEvent {
    const now = this.clock.now();
    for (const listener of this.listeners) listener(facts.customerSlug);
    return {
      id: newId('evt', now),
      customerSlug: facts.customerSlug,
      type: facts.type,
      at: now.toISOString(),
      actor: facts.op.actor,
      requestId: facts.op.requestId,
      ...(facts.keyId ? { keyId: facts.keyId } : {}),
      ...(facts.keyRequestId ? { keyRequestId: facts.keyRequestId } : {}),
      ...(facts.details ? { details: facts.details } : {}),
    };
  }

  /** Records an event on its own (after a change that is not written together with it). */
  async record(facts: AuditFacts): Promise<AuditEvent> {
    const event = this.event(facts);
    await this.log.append(event);
    return event;
  }

  list(customerSlug: string, page: { limit: number; cursor?: string }): Promise<Page<AuditEvent>> {
    return this.log.list(customerSlug, page);
  }
}
