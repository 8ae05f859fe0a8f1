import type { Clock } from '../clock';
import type { ApiKeyView, AuditEvent, KeyRequest, KeyRequestAction, KeyRequestStatus, Operation } from '../domain';
import { ApiError } from '../errors';
import { isId, newId } from '../ids';
import type { Logger } from '../logging';
import type { KeyRequestRepository, KeyRequestSummary } from '../ports/key-request-repository';
import { KEY_REQUEST_BODIES, type ExecuteRequestInput, type KeyRequestCommand, type RejectRequestInput } from '../schemas/keys';
import type { AuditTrail } from './audit-trail';
import type { CustomerService } from './customer-service';
import type { IssuedKey, KeyService } from './key-service';

/** Executes a `rotate-tenant-key` request (the tenant-key rotation). */
export interface MasterComponentRotator {
  rotate(customerSlug: string, request: KeyRequest, op: Operation, options?: { gracePeriodMs?: number }): Promise<Record<string, unknown>>;
}

/** Actions a customer's request runs at once; the others wait for staff. */
const SELF_SERVICE: ReadonlySet<KeyRequestAction> = new Set(['issue-key', 'revoke-key', 'roll-key']);

export interface RequestOutcome {
  request: KeyRequest;
  /** The request was already pending: this submission filed nothing new. */
  alreadyPending?: boolean;
  /** The new key of an executed `issue-key` or `roll-key`: only in the response that executes it. */
  issued?: IssuedKey;
  revoked?: ApiKeyView;
}

/** What a KeyRequestService is built from. */
export interface KeyRequestServiceDeps {
  requests: KeyRequestRepository;
  keys: KeyService;
  customers: CustomerService;
  rotator: MasterComponentRotator;
  audit: AuditTrail;
  clock: Clock;
  log: Logger;
}

/**
 * The portal's request-driven flow: every key action can be submitted as a request, recorded
 * with who asked and who decided. Self-service actions run at once; `rotate-tenant-key` waits
 * for staff to execute or reject it. A request never holds a key value.
 */
export class KeyRequestService {
  private readonly requests: KeyRequestRepository;
  private readonly keys: KeyService;
  private readonly customers: CustomerService;
  private readonly rotator: MasterComponentRotator;
  private readonly audit: AuditTrail;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(deps: KeyRequestServiceDeps) {
    this.requests = deps.requests;
    this.keys = deps.keys;
    this.customers = deps.customers;
    this.rotator = deps.rotator;
    this.audit = deps.audit;
    this.clock = deps.clock;
    this.log = deps.log;
  }

  /** Submits a request: the action and its parameters, parsed at the edge (its schema in `KEY_REQUEST_BODIES`). */
  async submit(customerSlug: string, command: KeyRequestCommand, op: Operation): Promise<RequestOutcome> {
    const { action } = command;
    const customer = await this.customers.require(customerSlug);
    const now = this.clock.now();
    const request: KeyRequest = {
      id: newId('req', now),
      customerSlug: customer.slug,
      action,
      status: 'pending',
      params: command.params,
      requestedBy: op.actor,
      requestedAt: now.toISOString(),
      submittedInRequest: op.requestId,
    };
    // An action that waits for staff is pending at most once per customer: a second submission
    // answers with the first.
    const exclusive = !SELF_SERVICE.has(action);
    const pending = await this.requests.create(request, this.event(request, 'request.submitted', op), { exclusive });
    if (pending) return { request: pending, alreadyPending: true };
    if (exclusive) return { request };
    return this.execute(request, command, op);
  }

  async list(customerSlug: string): Promise<KeyRequest[]> {
    const customer = await this.customers.require(customerSlug);
    return this.requests.list(customer.slug);
  }

  async get(customerSlug: string, id: string): Promise<KeyRequest> {
    const found = isId('req', id) ? await this.requests.get(customerSlug, id) : undefined;
    if (!found) throw new ApiError('not_found', 'This customer has no such request.');
    return found;
  }

  async queue(status: KeyRequestStatus): Promise<KeyRequestSummary[]> {
    return this.requests.listByStatus(status);
  }

  /** Staff: runs a pending request (for `rotate-tenant-key`, optionally with another grace period; 0 for none). */
  async executeById(id: string, { gracePeriodHours }: ExecuteRequestInput, op: Operation): Promise<RequestOutcome> {
    const request = await this.pending(id);
    if (request.action === 'issue-key' || request.action === 'roll-key') {
      // Running it would show staff a customer's key value: the customer submits it again instead.
      throw new ApiError('action_unavailable', 'An issue-key request runs when the customer submits it; reject this one instead.');
    }
    const options = gracePeriodHours === undefined ? {} : { gracePeriodMs: gracePeriodHours * 3_600_000 };
    return this.execute(request, storedCommand(request), op, options);
  }

  /** Staff: declines a pending request. */
  async rejectById(id: string, { reason }: RejectRequestInput, op: Operation): Promise<KeyRequest> {
    const request = await this.pending(id);
    const rejected: KeyRequest = { ...request, status: 'rejected', decidedBy: op.actor, decidedAt: this.clock.now().toISOString() };
    if (reason) rejected.note = reason;
    const event = this.event(rejected, 'request.rejected', op, reason ? { reason } : undefined);
    if (!(await this.requests.transition(rejected, 'pending', event))) throw notPending();
    return rejected;
  }

  private async pending(id: string): Promise<KeyRequest> {
    const request = isId('req', id) ? await this.requests.findById(id) : undefined;
    if (!request) throw new ApiError('not_found', 'No such request.');
    if (request.status !== 'pending') throw notPending(request.status);
    return request;
  }

  private async execute(
    request: KeyRequest,
    command: KeyRequestCommand,
    op: Operation,
    options: { gracePeriodMs?: number } = {},
  ): Promise<RequestOutcome> {
    let outcome: Omit<RequestOutcome, 'request'>;
    let result: Record<string, unknown>;
    try {
      ({ outcome, result } = await this.run(request, command, op, options));
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500 || error.code === 'action_unavailable') throw error;
      // A business rule said no (a taken label, a full cap...): the request is recorded as failed.
      const failed: KeyRequest = {
        ...request,
        status: 'failed',
        failure: { code: error.code, detail: error.detail },
        decidedBy: op.actor,
        decidedAt: this.clock.now().toISOString(),
      };
      await this.requests.transition(failed, 'pending', this.event(failed, 'request.failed', op, { code: error.code }));
      throw new ApiError(error.code, error.detail, {
        headers: error.headers,
        extensions: { ...error.extensions, keyRequest: { id: failed.id, status: failed.status } },
      });
    }
    const executed: KeyRequest = { ...request, status: 'executed', result, decidedBy: op.actor, decidedAt: this.clock.now().toISOString() };
    if (!(await this.requests.transition(executed, 'pending', this.event(executed, 'request.executed', op, result)))) throw notPending();
    this.log.info('key request executed', { customer: request.customerSlug, requestId: request.id, action: request.action });
    return { request: executed, ...outcome };
  }

  private async run(
    request: KeyRequest,
    command: KeyRequestCommand,
    op: Operation,
    options: { gracePeriodMs?: number },
  ): Promise<{ outcome: Omit<RequestOutcome, 'request'>; result: Record<string, unknown> }> {
    switch (command.action) {
      case 'issue-key': {
        const issued = await this.keys.issue(request.customerSlug, command.params, op);
        return { outcome: { issued }, result: { keyId: issued.metadata.id, label: issued.metadata.label } };
      }
      case 'revoke-key': {
        const { keyId, force } = command.params;
        const revoked = await this.keys.revoke(request.customerSlug, keyId, op, { force });
        return { outcome: { revoked }, result: { keyId: revoked.id } };
      }
      case 'roll-key': {
        const { keyId, overlapHours } = command.params;
        const rolled = await this.keys.roll(request.customerSlug, keyId, { overlapHours }, op);
        return {
          outcome: { issued: { key: rolled.key, metadata: rolled.metadata } },
          result: { keyId: rolled.metadata.id, rolledFrom: keyId, oldKeyExpiresAt: rolled.old.expiresAt ?? null },
        };
      }
      case 'rotate-tenant-key': {
        return { outcome: {}, result: await this.rotator.rotate(request.customerSlug, request, op, options) };
      }
    }
  }

  private event(request: KeyRequest, type: AuditEvent['type'], op: Operation, details?: Record<string, unknown>): AuditEvent {
    return this.audit.event({
      customerSlug: request.customerSlug,
      type,
      op,
      keyRequestId: request.id,
      details: { action: request.action, ...details },
    });
  }
}

function notPending(status?: string): ApiError {
  return new ApiError('request_not_pending', status ? `The request is already ${status}.` : 'The request was decided meanwhile.');
}

/**
 * A pending request's command, read back from storage: its parameters were parsed when it was
 * submitted and are checked again as any stored data is (a row another version may have
 * written). A row that no longer parses is a fault of ours (500), not the caller's.
 */
function storedCommand(request: KeyRequest): KeyRequestCommand {
  const parsed = KEY_REQUEST_BODIES[request.action].safeParse(request.params);
  if (!parsed.success) throw new Error(`stored key request ${request.id} has unreadable ${request.action} parameters`);
  return { action: request.action, params: parsed.data } as KeyRequestCommand;
}
