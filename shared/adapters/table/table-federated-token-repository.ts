import { odata } from '@azure/data-tables';
import type { AuditEvent, KeyExposure } from '../../domain';
import type {
  FederatedTokenPlace,
  FederatedTokenRecord,
  FederatedTokenRef,
  FederatedTokenRepository,
  TokenExposure,
  TokenExposureOutcome,
} from '../../ports/federated-token-repository';
import { absentIfNotFound, statusOf } from '../azure-errors';
import { lookupPartition } from './key-rows';
import {
  tokenExposureEntity,
  tokenExposureRangeEnd,
  tokenExposureRangeStart,
  tokenIndexEntity,
  tokenLookupEntity,
  tokenRangeEnd,
  tokenRangeStart,
  tokenRowKey,
  toTokenExposure,
  toTokenRef,
  type TokenExposureEntity,
  type TokenIndexEntity,
} from './federated-token-rows';
import { auditSteps } from './rows';
import type { TableStorage } from './table-storage';

/**
 * Federated access tokens (rows: federated-token-rows.ts): a lookup row beside the keys' (what the
 * door reads), and an index row under the customer by policy and expiry (what finds them again).
 */
export class TableFederatedTokenRepository implements FederatedTokenRepository {
  constructor(private readonly storage: TableStorage) {}

  async insert(token: FederatedTokenRecord): Promise<void> {
    await this.storage.step('federatedTokens.insert');
    // Indexed first: a token that can authenticate can always be found, and stopped.
    await this.storage.call((o) => this.storage.clients.customers.createEntity(tokenIndexEntity(token), o));
    await this.storage.step('federatedTokens.insertLookup');
    await this.storage.call((o) => this.storage.clients.keyLookup.createEntity(tokenLookupEntity(token), o));
  }

  async list(
    customerSlug: string,
    trustPolicyId: string,
    options: { expiredAt?: string; limit?: number } = {},
  ): Promise<FederatedTokenRef[]> {
    const start = tokenRangeStart(trustPolicyId);
    // Row keys go on with `_` after the expiry: the character after it bounds the tokens expired at that time.
    const end = options.expiredAt === undefined ? tokenRangeEnd(trustPolicyId) : `${start}${options.expiredAt}\``;
    return this.storage.call(async (o) => {
      const found: FederatedTokenRef[] = [];
      const query = this.storage.clients.customers.listEntities<TokenIndexEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${customerSlug} and RowKey ge ${start} and RowKey lt ${end}` },
        abortSignal: o.abortSignal,
      });
      for await (const row of query) {
        found.push(toTokenRef(row));
        if (options.limit !== undefined && found.length >= options.limit) break;
      }
      return found;
    });
  }

  async remove(customerSlug: string, trustPolicyId: string, token: FederatedTokenPlace): Promise<void> {
    await this.storage.step('federatedTokens.remove');
    // The lookup row first: once it is gone no instance can read the token as active again.
    await absentIfNotFound(
      this.storage.call((o) => this.storage.clients.keyLookup.deleteEntity(lookupPartition(token.secretHash), token.secretHash, o)),
    );
    await this.storage.step('federatedTokens.removeIndex');
    await absentIfNotFound(
      this.storage.call((o) => this.storage.clients.customers.deleteEntity(customerSlug, tokenRowKey(trustPolicyId, token), o)),
    );
  }

  async recordExposure(exposure: TokenExposure, places: KeyExposure[], audit: AuditEvent): Promise<TokenExposureOutcome> {
    await this.storage.step('federatedTokens.recordExposure');
    try {
      await this.storage.call((o) =>
        this.storage.clients.customers.submitTransaction([['create', tokenExposureEntity(exposure, places)], ...auditSteps(audit)], o),
      );
      return 'recorded';
    } catch (error) {
      // The audit row has a fresh id: a conflict is this report's exposure row, recorded before.
      if (statusOf(error) === 409) return 'known';
      throw error;
    }
  }

  async findExposed(customerSlug: string, secretHash: string): Promise<TokenExposure | undefined> {
    const start = tokenExposureRangeStart(secretHash);
    const end = tokenExposureRangeEnd(secretHash);
    return this.storage.call(async (o) => {
      const query = this.storage.clients.customers.listEntities<TokenExposureEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${customerSlug} and RowKey ge ${start} and RowKey lt ${end}` },
        abortSignal: o.abortSignal,
      });
      // A page may come back empty with a continuation: the next is read then.
      for await (const page of query.byPage({ maxPageSize: 1 })) if (page[0]) return toTokenExposure(page[0], secretHash);
      return undefined;
    });
  }
}
