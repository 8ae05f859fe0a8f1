import type { AuditEvent, KeyRequest, KeyRequestStatus } from '../../domain';
import type { AuditLog } from '../../ports/audit-log';
import type { KeyRequestRepository, KeyRequestSummary } from '../../ports/key-request-repository';
import { MemoryAuditLog } from './memory-audit-log';

/**
 * In-memory KeyRequestRepository for unit tests. Its audit events go to `audit`: pass the
 * customer's audit log to see them there, as the Table adapters write both to one partition.
 */
export class MemoryKeyRequestRepository implements KeyRequestRepository {
  readonly requests = new Map<string, KeyRequest>();

  constructor(readonly audit: AuditLog = new MemoryAuditLog()) {}

  async create(request: KeyRequest, audit: AuditEvent, options: { exclusive?: boolean } = {}): Promise<KeyRequest | undefined> {
    if (options.exclusive) {
      const pending = [...this.requests.values()].find(
        (r) => r.customerSlug === request.customerSlug && r.action === request.action && r.status === 'pending',
      );
      if (pending) return structuredClone(pending);
    }
    this.requests.set(request.id, structuredClone(request));
    await this.audit.append(audit);
    return undefined;
  }

  async get(customerSlug: string, id: string): Promise<KeyRequest | undefined> {
    const found = this.requests.get(id);
    return found && found.customerSlug === customerSlug ? structuredClone(found) : undefined;
  }

  async findById(id: string): Promise<KeyRequest | undefined> {
    const found = this.requests.get(id);
    return found ? structuredClone(found) : undefined;
  }

  async list(customerSlug: string): Promise<KeyRequest[]> {
    return [...this.requests.values()]
      .filter((r) => r.customerSlug === customerSlug)
      .sort((a, b) => b.id.localeCompare(a.id)) // ids sort by time: newest first
      .map((r) => structuredClone(r));
  }

  async listByStatus(status: KeyRequestStatus): Promise<KeyRequestSummary[]> {
    return [...this.requests.values()]
      .filter((r) => r.status === status)
      .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt) || a.id.localeCompare(b.id))
      .map((r) => ({
        id: r.id,
        customerSlug: r.customerSlug,
        action: r.action,
        status: r.status,
        requestedAt: r.requestedAt,
        requestedBy: r.requestedBy,
      }));
  }

  async transition(request: KeyRequest, expected: KeyRequestStatus, audit: AuditEvent): Promise<boolean> {
    const current = this.requests.get(request.id);
    if (!current || current.status !== expected) return false;
    this.requests.set(request.id, structuredClone(request));
    await this.audit.append(audit);
    return true;
  }
}
