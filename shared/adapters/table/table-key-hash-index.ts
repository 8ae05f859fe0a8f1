import { timingSafeEqual } from 'node:crypto';
import { absentIfNotFound } from '../azure-errors';
import type { IndexedKey } from '../../ports/key-repository';
import type { TableStorage } from './table-storage';

/**
 * The key-hash index (`keyhashes`): one row per key ever handed out, keyed by the hash of its
 * secret like the lookup rows (partition: the first four hex digits), naming its customer and id.
 * Unlike a lookup row it is never deleted, so a key is found by its hash whether it is active or
 * revoked: what a leak report looks a token up by, one point read each. It is written before the
 * lookup row (a key authenticates only once it is indexed), and nothing about the revocation
 * path changes.
 *
 * Keys issued before the index existed are not in it. A customer's partition therefore holds a
 * marker row once all its keys are: written with its profile when it is created (it has no keys
 * yet), or by {@link TableKeyHashIndex.complete} once a leak report has read its keys.
 */
export const KEY_HASH_MARKER_ROW = 'keyhashes';

/** The marker row of a customer whose every key is in the index. */
export const keyHashMarkerEntity = (customerSlug: string) => ({ partitionKey: customerSlug, rowKey: KEY_HASH_MARKER_ROW });

const partitionOf = (secretHash: string): string => secretHash.slice(0, 4);
/** Index rows written at once when a customer's older keys are indexed. */
const WRITES_AT_ONCE = 8;

type HashEntity = { partitionKey: string; rowKey: string; customerSlug: string; keyId: string };

export class TableKeyHashIndex {
  constructor(private readonly storage: TableStorage) {}

  private get table() {
    return this.storage.clients.keyHashes;
  }

  /** Indexes one key (idempotent: what a row says never changes). */
  async add(entry: IndexedKey & { secretHash: string }): Promise<void> {
    const row: HashEntity = {
      partitionKey: partitionOf(entry.secretHash),
      rowKey: entry.secretHash,
      customerSlug: entry.customerSlug,
      keyId: entry.keyId,
    };
    await this.storage.call((o) => this.table.upsertEntity(row, 'Replace', o));
  }

  /** The key with this secret hash, active or revoked: one point read. */
  async find(secretHash: string): Promise<IndexedKey | undefined> {
    const row = await absentIfNotFound(this.storage.call((o) => this.table.getEntity<HashEntity>(partitionOf(secretHash), secretHash, o)));
    if (!row) return undefined;
    // As for the lookup rows: the store matched already; compare again in constant time.
    const stored = Buffer.from(row.rowKey, 'utf8');
    const presented = Buffer.from(secretHash, 'utf8');
    if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) return undefined;
    return { customerSlug: row.customerSlug, keyId: row.keyId };
  }

  /** Whether every key of the customer is in the index (its marker row exists): one point read. */
  async isComplete(customerSlug: string): Promise<boolean> {
    const row = await absentIfNotFound(
      this.storage.call((o) => this.storage.clients.customers.getEntity(customerSlug, KEY_HASH_MARKER_ROW, o)),
    );
    return row !== undefined;
  }

  /** Indexes these keys of a customer (all of them, as just listed), then marks the customer complete. */
  async complete(customerSlug: string, keys: ReadonlyArray<{ id: string; secretHash: string }>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        await this.add({ secretHash: key.secretHash, customerSlug, keyId: key.id });
      }
    };
    await Promise.all(Array.from({ length: Math.min(WRITES_AT_ONCE, keys.length) }, worker));
    // Last: a marker is only ever written after the keys it vouches for.
    await this.storage.call((o) => this.storage.clients.customers.upsertEntity(keyHashMarkerEntity(customerSlug), 'Replace', o));
  }
}
