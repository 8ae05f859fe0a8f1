import type { KeyExposure } from '../../domain';
import type { FederatedTokenRecord, FederatedTokenRef, TokenExposure } from '../../ports/federated-token-repository';
import { exposureDigest, lookupPartition, type LookupEntity } from './key-rows';
import { CorruptRowError } from './rows';

/**
 * The rows of federated access tokens (the repository is table-federated-token-repository.ts):
 *
 * - in the `keyLookup` table, the token's lookup row, beside the keys' (partition: the first 4 hex
 *   digits of the secret's hash; row: the hash), of type `federated`, with the policy's id and label
 *   as its key id and label, its expiry, and no master-component state;
 * - in the customer's partition of the `customers` table, its index row
 *   `fedtoken_{policy id}_{expiry}_{hash}`: a policy's tokens in one range, by expiry, so that the
 *   tokens to stop, or the expired ones to clear away, are one range query;
 * - in the same partition, `fedexposure_{hash}_{hash of places}`: one per token and leak report
 *   (created with the report's audit event), so a report is recorded once, and a token found in
 *   public is known as ours after its own rows are gone (one range query of its hash's rows).
 */

export const TOKEN_ROW_PREFIX = 'fedtoken_';

/** The range of a policy's index rows: from `fedtoken_{id}_` up to (not including) `fedtoken_{id}` followed by the character after `_`. */
export const tokenRangeStart = (policyId: string): string => `${TOKEN_ROW_PREFIX}${policyId}_`;
export const tokenRangeEnd = (policyId: string): string => `${TOKEN_ROW_PREFIX}${policyId}\``;

export const tokenRowKey = (policyId: string, token: { expiresAt: string; secretHash: string }): string =>
  `${tokenRangeStart(policyId)}${token.expiresAt}_${token.secretHash}`;

export type TokenIndexEntity = {
  partitionKey: string;
  rowKey: string;
  secretHash: string;
  expiresAt: string;
  policyVersion: string;
};

export const tokenIndexEntity = (token: FederatedTokenRecord): TokenIndexEntity => ({
  partitionKey: token.customerSlug,
  rowKey: tokenRowKey(token.trustPolicyId, token),
  secretHash: token.secretHash,
  expiresAt: token.expiresAt,
  policyVersion: token.policyVersion,
});

export function toTokenRef(row: TokenIndexEntity): FederatedTokenRef {
  if (typeof row.secretHash !== 'string' || typeof row.expiresAt !== 'string' || typeof row.policyVersion !== 'string')
    throw new CorruptRowError(`the token index row ${row.rowKey} lacks its hash, expiry or policy version`);
  return { secretHash: row.secretHash, expiresAt: row.expiresAt, policyVersion: row.policyVersion };
}

/** A token's lookup row: what the door reads, as a key's (shared/adapters/table/key-rows.ts toLookupEntry reads both). */
export const tokenLookupEntity = (token: FederatedTokenRecord): LookupEntity => ({
  partitionKey: lookupPartition(token.secretHash),
  rowKey: token.secretHash,
  customerId: token.customerId,
  customerSlug: token.customerSlug,
  plan: token.plan,
  keyId: token.trustPolicyId,
  keyLabel: token.trustPolicyLabel,
  application: token.application,
  environment: token.environment,
  keyType: 'federated',
  status: 'active',
  componentVersion: '',
  previousComponentVersion: '',
  graceEndsAt: '',
  requireComponent: false,
  expiresAt: token.expiresAt,
  allowedIps: '',
});

export const TOKEN_EXPOSURE_PREFIX = 'fedexposure_';

/** The range of a token's exposure rows: from `fedexposure_{hash}_` up to (not including) `fedexposure_{hash}` and the character after `_`. */
export const tokenExposureRangeStart = (secretHash: string): string => `${TOKEN_EXPOSURE_PREFIX}${secretHash}_`;
export const tokenExposureRangeEnd = (secretHash: string): string => `${TOKEN_EXPOSURE_PREFIX}${secretHash}\``;

/** The row that records one leak report for a token (with the policy it acted for: the token's own rows go). */
export const tokenExposureEntity = (exposure: TokenExposure, places: KeyExposure[]): TokenExposureEntity => ({
  partitionKey: exposure.customerSlug,
  rowKey: `${tokenExposureRangeStart(exposure.secretHash)}${exposureDigest(places)}`,
  trustPolicyId: exposure.trustPolicyId,
  trustPolicyLabel: exposure.trustPolicyLabel,
  at: places[0]?.reportedAt ?? '',
  places: places.length,
});

export type TokenExposureEntity = {
  partitionKey: string;
  rowKey: string;
  trustPolicyId: string;
  trustPolicyLabel: string;
  at: string;
  places: number;
};

export function toTokenExposure(row: TokenExposureEntity, secretHash: string): TokenExposure {
  if (typeof row.trustPolicyId !== 'string' || typeof row.trustPolicyLabel !== 'string')
    throw new CorruptRowError(`the token exposure row ${row.rowKey} lacks its policy`);
  return { customerSlug: row.partitionKey, secretHash, trustPolicyId: row.trustPolicyId, trustPolicyLabel: row.trustPolicyLabel };
}
