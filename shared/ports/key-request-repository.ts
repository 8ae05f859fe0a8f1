import type { AuditEvent, KeyRequest, KeyRequestStatus } from '../domain';

/** A line of the staff queue: enough to triage without reading the customer's partition. */
export interface KeyRequestSummary {
  id: string;
  customerSlug: string;
  action: KeyRequest['action'];
  status: KeyRequestStatus;
  requestedAt: string;
  requestedBy: KeyRequest['requestedBy'];
}

export interface KeyRequestRepository {
  /**
   * Stores a new request with its audit event (atomically) and indexes it for staff. With
   * `exclusive`, a customer holds at most one pending exclusive request of the action: if one is
   * pending already, nothing is stored and that one is returned. (An action is always submitted
   * exclusive or never, so only exclusive requests are counted.)
   */
  create(request: KeyRequest, audit: AuditEvent, options?: { exclusive?: boolean }): Promise<KeyRequest | undefined>;
  get(customerSlug: string, id: string): Promise<KeyRequest | undefined>;
  /** A request by id alone (staff routes), through the index. */
  findById(id: string): Promise<KeyRequest | undefined>;
  /** A customer's requests, newest first. */
  list(customerSlug: string): Promise<KeyRequest[]>;
  /** Requests of every customer in one status (the staff queue), oldest first. */
  listByStatus(status: KeyRequestStatus): Promise<KeyRequestSummary[]>;
  /**
   * Moves a request out of `expected` status with its audit event, atomically; `false` when it
   * was no longer in that status (someone else decided first). A request leaving `pending`
   * frees its action for the customer's next exclusive request.
   */
  transition(request: KeyRequest, expected: KeyRequestStatus, audit: AuditEvent): Promise<boolean>;
}
