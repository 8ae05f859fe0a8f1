import type { ApiKeyRecord, KeyIdentity } from '../domain';

/** The row authentication reads: everything the middleware needs, from one point read. */
export interface KeyLookupEntry extends KeyIdentity {
  secretHash: string;
  status: 'active';
}

/**
 * Keys, stored twice: under their customer (for listing) and by the hash of their secret
 * (for authentication). Implementations order their writes so that a crash between any two
 * of them fails closed:
 * - insert writes the customer's record before the lookup: a key can be listed without
 *   authenticating, never the reverse;
 * - revoke removes the lookup before marking the record: once revocation starts, the key
 *   never authenticates again.
 */
export interface KeyRepository {
  insert(record: ApiKeyRecord, lookup: KeyLookupEntry): Promise<void>;
  /** Every key of one customer, oldest first (one single-partition query). */
  list(customerSlug: string): Promise<ApiKeyRecord[]>;
  get(customerSlug: string, keyId: string): Promise<ApiKeyRecord | undefined>;
  /**
   * Revokes a key; idempotent. Returns the record as it stands afterwards, or `undefined`
   * when the customer has no such key.
   */
  revoke(customerSlug: string, keyId: string, revokedBy: string, revokedAt: string): Promise<ApiKeyRecord | undefined>;
  /** Authentication's single point read: the active key with this secret hash. */
  findByHash(secretHash: string): Promise<KeyLookupEntry | undefined>;
}
