import { NO_MASTER_COMPONENT } from '../../domain';
import type { FederatedTokenRecord, FederatedTokenRef, FederatedTokenRepository } from '../../ports/federated-token-repository';
import type { MemoryKeyRepository } from './memory-key-repository';

/**
 * In-memory FederatedTokenRepository for unit tests: lookup rows go into the key repository's
 * lookups (where its findByHash, the door's read, finds them), index rows are kept here.
 */
export class MemoryFederatedTokenRepository implements FederatedTokenRepository {
  /** Index rows by `{slug}/{policy id}`, then by hash. */
  readonly index = new Map<string, Map<string, FederatedTokenRef>>();
  /** When set, every call fails with it (a storage outage). */
  failWith: Error | undefined;

  constructor(private readonly keys: MemoryKeyRepository) {}

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

  async remove(customerSlug: string, trustPolicyId: string, token: FederatedTokenRef): Promise<void> {
    this.check();
    this.keys.lookups.delete(token.secretHash);
    this.index.get(`${customerSlug}/${trustPolicyId}`)?.delete(token.secretHash);
  }
}
