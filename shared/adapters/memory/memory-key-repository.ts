import type { ApiKeyRecord } from '../../domain';
import type { KeyLookupEntry, KeyRepository } from '../../ports/key-repository';

/**
 * In-memory KeyRepository for unit tests of the services and the middleware. It keeps the
 * same two structures as the Table adapter and counts lookups, so tests can assert how
 * often authentication reaches storage.
 */
export class MemoryKeyRepository implements KeyRepository {
  readonly records = new Map<string, ApiKeyRecord>();
  readonly lookups = new Map<string, KeyLookupEntry>();
  lookupCalls = 0;
  /** When set, every call fails with it (a storage outage). */
  failWith: Error | undefined;

  private check(): void {
    if (this.failWith) throw this.failWith;
  }

  async insert(record: ApiKeyRecord, lookup: KeyLookupEntry): Promise<void> {
    this.check();
    this.records.set(`${record.customerSlug}/${record.id}`, { ...record });
    this.lookups.set(lookup.secretHash, { ...lookup });
  }

  async list(customerSlug: string): Promise<ApiKeyRecord[]> {
    this.check();
    return [...this.records.values()]
      .filter((r) => r.customerSlug === customerSlug)
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((r) => ({ ...r }));
  }

  async get(customerSlug: string, keyId: string): Promise<ApiKeyRecord | undefined> {
    this.check();
    const found = this.records.get(`${customerSlug}/${keyId}`);
    return found ? { ...found } : undefined;
  }

  async revoke(customerSlug: string, keyId: string, revokedBy: string, revokedAt: string): Promise<ApiKeyRecord | undefined> {
    this.check();
    const found = this.records.get(`${customerSlug}/${keyId}`);
    if (!found) return undefined;
    this.lookups.delete(found.secretHash);
    if (found.status === 'active') Object.assign(found, { status: 'revoked', revokedBy, revokedAt });
    return { ...found };
  }

  async findByHash(secretHash: string): Promise<KeyLookupEntry | undefined> {
    this.check();
    this.lookupCalls += 1;
    const found = this.lookups.get(secretHash);
    return found ? { ...found } : undefined;
  }
}
