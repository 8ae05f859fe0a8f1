import { odata, type TransactionAction } from '@azure/data-tables';
import type { AuditEvent, KeyRequest, KeyRequestAction, KeyRequestStatus } from '../../domain';
import type { KeyRequestRepository, KeyRequestSummary } from '../../ports/key-request-repository';
import { absentIfNotFound, statusOf } from '../azure-errors';
import { actorFromText, actorToText, auditSteps, withoutUndefined } from './rows';
import type { TableStorage } from './table-storage';

const REQUEST_PREFIX = 'req_';
const INDEX_PARTITION = 'request';
const requestRowKey = (id: string) => `${REQUEST_PREFIX}${id}`;
/** The customer's one pending request of an exclusive action: `pending_{action}` -> request id. */
const pendingRowKey = (action: string) => `pending_${action}`;

type RequestEntity = {
  partitionKey: string;
  rowKey: string;
  id: string;
  action: string;
  status: string;
  params: string;
  result?: string;
  failure?: string;
  note?: string;
  requestedBy: string;
  requestedAt: string;
  submittedInRequest: string;
  decidedBy?: string;
  decidedAt?: string;
};

type IndexEntity = {
  partitionKey: string;
  rowKey: string;
  customerSlug: string;
  action: string;
  status: string;
  requestedAt: string;
  requestedBy: string;
};

function requestEntity(r: KeyRequest): RequestEntity {
  return withoutUndefined({
    partitionKey: r.customerSlug,
    rowKey: requestRowKey(r.id),
    id: r.id,
    action: r.action,
    status: r.status,
    params: JSON.stringify(r.params),
    result: r.result ? JSON.stringify(r.result) : undefined,
    failure: r.failure ? JSON.stringify(r.failure) : undefined,
    note: r.note,
    requestedBy: actorToText(r.requestedBy),
    requestedAt: r.requestedAt,
    submittedInRequest: r.submittedInRequest,
    decidedBy: r.decidedBy ? actorToText(r.decidedBy) : undefined,
    decidedAt: r.decidedAt,
  });
}

function toRequest(row: RequestEntity): KeyRequest {
  return withoutUndefined({
    id: row.id,
    customerSlug: row.partitionKey,
    action: row.action as KeyRequestAction,
    status: row.status as KeyRequestStatus,
    params: JSON.parse(row.params) as Record<string, unknown>,
    result: row.result ? (JSON.parse(row.result) as Record<string, unknown>) : undefined,
    failure: row.failure ? (JSON.parse(row.failure) as KeyRequest['failure']) : undefined,
    note: row.note,
    requestedBy: actorFromText(row.requestedBy),
    requestedAt: row.requestedAt,
    submittedInRequest: row.submittedInRequest,
    decidedBy: row.decidedBy ? actorFromText(row.decidedBy) : undefined,
    decidedAt: row.decidedAt,
  });
}

const indexEntity = (r: KeyRequest): IndexEntity => ({
  partitionKey: INDEX_PARTITION,
  rowKey: r.id,
  customerSlug: r.customerSlug,
  action: r.action,
  status: r.status,
  requestedAt: r.requestedAt,
  requestedBy: actorToText(r.requestedBy),
});

/**
 * Key requests live in their customer's partition (with the audit event of each change in
 * the same transaction). The `keyrequestindex` table lets staff find a request by id and see
 * the queue of every customer; it is written before the request and corrected whenever a
 * decision finds it stale, so a crash can leave a stale queue line but never a hidden request.
 */
export class TableKeyRequestRepository implements KeyRequestRepository {
  constructor(private readonly storage: TableStorage) {}

  private get customers() {
    return this.storage.clients.customers;
  }

  private get index() {
    return this.storage.clients.keyRequestIndex;
  }

  async create(request: KeyRequest, audit: AuditEvent, options: { exclusive?: boolean } = {}): Promise<KeyRequest | undefined> {
    await this.storage.step('requests.index');
    await this.storage.call((o) => this.index.upsertEntity(indexEntity(request), 'Replace', o));
    await this.storage.step('requests.create');
    const actions: TransactionAction[] = [['create', requestEntity(request)], ...auditSteps(audit)];
    // The reservation is created with the request, so two submissions racing cannot both win.
    if (options.exclusive)
      actions.push(['create', { partitionKey: request.customerSlug, rowKey: pendingRowKey(request.action), requestId: request.id }]);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.storage.call((o) => this.customers.submitTransaction(actions, o));
        return undefined;
      } catch (error) {
        if (!options.exclusive || statusOf(error) !== 409) throw error;
      }
      const holder = await this.reservation(request.customerSlug, request.action);
      const pending = holder ? await this.get(request.customerSlug, holder.requestId) : undefined;
      if (pending?.status === 'pending') {
        await this.storage.call((o) => this.index.deleteEntity(INDEX_PARTITION, request.id, o)).catch(() => undefined);
        return pending;
      }
      // A reservation whose request was decided (its release was cut short): drop it, try again.
      if (holder) await this.release(request.customerSlug, request.action, holder.requestId);
    }
    throw new Error('key request: the pending reservation kept changing');
  }

  private reservation(customerSlug: string, action: string): Promise<{ requestId: string; etag: string } | undefined> {
    return absentIfNotFound(
      this.storage.call((o) => this.customers.getEntity<{ requestId: string }>(customerSlug, pendingRowKey(action), o)),
    );
  }

  /** Frees the action's reservation if `requestId` holds it. */
  private async release(customerSlug: string, action: string, requestId: string): Promise<void> {
    const holder = await this.reservation(customerSlug, action);
    if (!holder || holder.requestId !== requestId) return;
    try {
      await absentIfNotFound(
        this.storage.call((o) => this.customers.deleteEntity(customerSlug, pendingRowKey(action), { ...o, etag: holder.etag })),
      );
    } catch (error) {
      if (statusOf(error) !== 412) throw error; // taken over meanwhile: no longer ours to free
    }
  }

  async get(customerSlug: string, id: string): Promise<KeyRequest | undefined> {
    const row = await absentIfNotFound(
      this.storage.call((o) => this.customers.getEntity<RequestEntity>(customerSlug, requestRowKey(id), o)),
    );
    return row ? toRequest(row) : undefined;
  }

  async findById(id: string): Promise<KeyRequest | undefined> {
    const entry = await absentIfNotFound(this.storage.call((o) => this.index.getEntity<IndexEntity>(INDEX_PARTITION, id, o)));
    return entry ? this.get(entry.customerSlug, id) : undefined;
  }

  async list(customerSlug: string): Promise<KeyRequest[]> {
    return this.storage.call(async (o) => {
      const rows: KeyRequest[] = [];
      for await (const row of this.customers.listEntities<RequestEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${customerSlug} and RowKey ge ${REQUEST_PREFIX} and RowKey lt ${'req`'}` },
        abortSignal: o.abortSignal,
      })) {
        rows.push(toRequest(row));
      }
      return rows.reverse(); // ids sort by time: newest first
    });
  }

  async listByStatus(status: KeyRequestStatus): Promise<KeyRequestSummary[]> {
    return this.storage.call(async (o) => {
      const rows: KeyRequestSummary[] = [];
      for await (const row of this.index.listEntities<IndexEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${INDEX_PARTITION} and status eq ${status}` },
        abortSignal: o.abortSignal,
      })) {
        rows.push({
          id: row.rowKey,
          customerSlug: row.customerSlug,
          action: row.action as KeyRequestAction,
          status: row.status as KeyRequestStatus,
          requestedAt: row.requestedAt,
          requestedBy: actorFromText(row.requestedBy),
        });
      }
      return rows.sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
    });
  }

  async transition(request: KeyRequest, expected: KeyRequestStatus, audit: AuditEvent): Promise<boolean> {
    await this.storage.step('requests.transition');
    const current = await absentIfNotFound(
      this.storage.call((o) => this.customers.getEntity<RequestEntity>(request.customerSlug, requestRowKey(request.id), o)),
    );
    if (!current) return false;
    if (current.status !== expected) {
      await this.syncIndex(toRequest(current));
      return false;
    }
    try {
      await this.storage.call((o) =>
        this.customers.submitTransaction([['update', requestEntity(request), 'Replace', { etag: current.etag }], ...auditSteps(audit)], o),
      );
    } catch (error) {
      if (statusOf(error) === 412) return false;
      throw error;
    }
    await this.syncIndex(request);
    if (request.status !== 'pending') await this.release(request.customerSlug, request.action, request.id);
    return true;
  }

  private async syncIndex(request: KeyRequest): Promise<void> {
    await this.storage.call((o) => this.index.upsertEntity(indexEntity(request), 'Replace', o));
  }
}
