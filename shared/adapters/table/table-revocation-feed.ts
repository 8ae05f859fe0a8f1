import { odata } from '@azure/data-tables';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../clock';
import type { Actor } from '../../domain';
import type { RevocationEntry, RevocationFeed } from '../../ports/revocation-feed';
import type { TableStorage } from './table-storage';

const FEED_PARTITION = 'feed';
/** Row keys start with the publication time in milliseconds, zero-padded, so they sort by time. */
const timeKey = (ms: number): string => String(ms).padStart(15, '0');

type FeedEntity = {
  partitionKey: string;
  rowKey: string;
  secretHash: string;
  keyId: string;
  customerSlug: string;
  reason: string;
  at: string;
  actor?: string;
  requestId?: string;
};

/**
 * The revocation feed in the `revocations` table: one partition, a row per revoked key. A read
 * is one range query over the last few seconds, so its cost per instance is fixed (about one
 * query a second) whatever the request rate.
 */
export class TableRevocationFeed implements RevocationFeed {
  constructor(
    private readonly storage: TableStorage,
    private readonly clock: Clock,
  ) {}

  private get table() {
    return this.storage.clients.revocations;
  }

  async publish(entries: Array<Omit<RevocationEntry, 'at' | 'id'>>): Promise<void> {
    if (entries.length === 0) return;
    await this.storage.step('feed.publish');
    const now = this.clock.now();
    const rows: FeedEntity[] = entries.map((e) => ({
      partitionKey: FEED_PARTITION,
      rowKey: `${timeKey(now.getTime())}_${randomBytes(6).toString('hex')}`,
      secretHash: e.secretHash,
      keyId: e.keyId,
      customerSlug: e.customerSlug,
      reason: e.reason,
      at: now.toISOString(),
      ...(e.actor ? { actor: JSON.stringify(e.actor) } : {}),
      ...(e.requestId ? { requestId: e.requestId } : {}),
    }));
    for (let i = 0; i < rows.length; i += 100) {
      const chunk = rows.slice(i, i + 100);
      await this.storage.call((o) =>
        this.table.submitTransaction(
          chunk.map((row) => ['create', row] as const),
          o,
        ),
      );
    }
  }

  async readSince(since: Date): Promise<RevocationEntry[]> {
    return this.storage.call(async (o) => {
      const out: RevocationEntry[] = [];
      for await (const row of this.table.listEntities<FeedEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${FEED_PARTITION} and RowKey ge ${timeKey(since.getTime())}` },
        abortSignal: o.abortSignal,
      })) {
        out.push({
          id: row.rowKey,
          secretHash: row.secretHash,
          keyId: row.keyId,
          customerSlug: row.customerSlug,
          reason: row.reason === 'changed' ? 'changed' : 'revoked',
          at: row.at,
          ...(row.actor ? { actor: parseActor(row.actor) } : {}),
          ...(row.requestId ? { requestId: row.requestId } : {}),
        });
      }
      return out;
    });
  }

  async prune(before: Date): Promise<number> {
    const old = await this.storage.call(async (o) => {
      const keys: string[] = [];
      for await (const row of this.table.listEntities<FeedEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${FEED_PARTITION} and RowKey lt ${timeKey(before.getTime())}`, select: ['RowKey'] },
        abortSignal: o.abortSignal,
      })) {
        keys.push(row.rowKey);
      }
      return keys;
    });
    for (let i = 0; i < old.length; i += 100) {
      const chunk = old.slice(i, i + 100);
      await this.storage.call((o) =>
        this.table.submitTransaction(
          chunk.map((rowKey) => ['delete', { partitionKey: FEED_PARTITION, rowKey }] as const),
          o,
        ),
      );
    }
    return old.length;
  }
}

function parseActor(text: string): Actor | undefined {
  try {
    return JSON.parse(text) as Actor;
  } catch {
    return undefined;
  }
}
