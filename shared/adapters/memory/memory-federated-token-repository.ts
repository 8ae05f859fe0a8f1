import { NO_MASTER_COMPONENT, type AuditEvent, type KeyExposure } from '../../domain';
import type {
  FederatedTokenPlace,
  FederatedTokenRecord,
  FederatedTokenRef,
  FederatedTokenRepository,
  TokenExposure,
  TokenExposureOutcome,
} from '../../ports/federated-token-repository';
import type { MemoryAuditLog } from './memory-audit-log';
import type { MemoryKeyRepository } from './memory-key-repository';

/**
 * In-memory FederatedTokenRepository for unit tests: lookup rows go into the key repository's
 * lookups (where its findByHash, the door's read, finds them), index rows are kept here. Audit
 * events go to the audit log given (as on Table Storage, where they share the customer's
 * partition), or to {@link audit}.
 */
export class MemoryFederatedTokenRepository implements FederatedTokenRepository {
  /** Index rows by `{slug}/{policy id}`, then by hash. */
  readonly index = new Map<string, Map<string, FederatedTokenRef>>();
  /** Exposure rows by `{slug}/{hash}`: the token's policy, and each report's distinct places. */
  readonly exposures = new Map<string, { exposure: TokenExposure; reports: Set<string> }>();
  readonly audit: AuditEvent[] = [];
  /** When set, every call fails with it (a storage outage). */
  failWith: Error | undefined;

  constructor(
    private readonly keys: MemoryKeyRepository,
    private readonly auditLog?: MemoryAuditLog,
  ) {}

  private check(): void {
    if (this.failWith) throw this.failWith;
  }

  async insert(token: FederatedTokenRecord): Promise<void> {
    this.check();
    const place = `${token.customerSlug}/${token.trustPolicyId}`;
    let tokens = this.index.get(place);
    if (!tokens) this.index.set(place, (tokens = new Map<string, FederatedTokenRef>()));
    tokens.set(token.secretHash, { secretHash: token.secretHash, expiresAt: token.expiresAt, policyVersion: token.policyVersion });
    this.keys.lookups.set(token.secretHash, {
      secretHash: token.secretHash,
      status: 'active',
      customerId: token.customerId,
      customerSlug: token.customerSlug,
      plan: token.plan,
      keyId: token.trustPolicyId,
      keyLabel: token.trustPolicyLabel,
      application: token.application,
      environment: token.environment,
      keyType: 'federated',
      masterComponent: NO_MASTER_COMPONENT,
      expiresAt: token.expiresAt,
    });
  }

  async list(
    customerSlug: string,
    trustPolicyId: string,
    options: { expiredAt?: string; limit?: number } = {},
  ): Promise<FederatedTokenRef[]> {
    this.check();
    const all = [...(this.index.get(`${customerSlug}/${trustPolicyId}`)?.values() ?? [])]
      .filter((t) => options.expiredAt === undefined || t.expiresAt <= options.expiredAt)
      .sort((a, b) => (a.expiresAt < b.expiresAt ? -1 : a.expiresAt > b.expiresAt ? 1 : a.secretHash < b.secretHash ? -1 : 1));
    return (options.limit === undefined ? all : all.slice(0, options.limit)).map((t) => ({ ...t }));
  }

  async remove(customerSlug: string, trustPolicyId: string, token: FederatedTokenPlace): Promise<void> {
    this.check();
    this.keys.lookups.delete(token.secretHash);
    this.index.get(`${customerSlug}/${trustPolicyId}`)?.delete(token.secretHash);
  }

  async recordExposure(exposure: TokenExposure, places: KeyExposure[], audit: AuditEvent): Promise<TokenExposureOutcome> {
    this.check();
    const token = `${exposure.customerSlug}/${exposure.secretHash}`;
    const report = JSON.stringify([...new Set(places.map((e) => JSON.stringify([e.reporter, e.source, e.url])))].sort());
    let reports = this.exposures.get(token);
    if (!reports) this.exposures.set(token, (reports = { exposure: { ...exposure }, reports: new Set<string>() }));
    if (reports.reports.has(report)) return 'known';
    reports.reports.add(report);
    if (this.auditLog) await this.auditLog.append(audit);
    else this.audit.push(audit);
    return 'recorded';
  }

  async findExposed(customerSlug: string, secretHash: string): Promise<TokenExposure | undefined> {
    this.check();
    const found = this.exposures.get(`${customerSlug}/${secretHash}`);
    return found ? { ...found.exposure } : undefined;
  }
}
