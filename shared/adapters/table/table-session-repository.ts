import { createHash } from 'node:crypto';
import type { Logger } from '../../logging';
import type { Page } from '../../ports/audit-log';
import type {
  AppendResult,
  IngestSource,
  LazyBatch,
  SessionQuery,
  SessionRepository,
  SharedBatchContext,
  StoredSession,
} from '../../ports/session-repository';
import { BoundedCache } from '../../cache/bounded-cache';
import { SessionFolder } from './session-fold';
import { SessionListIndex } from './session-list-index';
import { SessionReader } from './session-reader';
import { FOLD_AFTER_BATCHES } from './session-rows';
import { SessionWriter } from './session-writer';
import type { TableStorage } from './table-storage';

export { FOLD_AFTER_BATCHES, LIST_PARTITIONS, SESSION_PARTITIONS, sessionListPartition, sessionPartition } from './session-rows';

export interface TableSessionRepositoryOptions {
  log?: Logger;
  /** Batches of one session written here before this instance folds their counts ({@link FOLD_AFTER_BATCHES}). */
  foldAfterBatches?: number;
}

/**
 * Ingested sessions in the `sessions` table, spread over {@link SESSION_PARTITIONS} partitions
 * per customer; the rows (every key built and parsed) are in session-rows.ts. This class places
 * each customer on an account and composes the three parts behind the port:
 *
 * - session-writer.ts: a request's batches in one append-only transaction per partition, the
 *   openings of new sessions and their entries in the recent-sessions index beside it;
 * - session-fold.ts: the writing instance folds pending counts into the summary, off the
 *   critical path, after every {@link FOLD_AFTER_BATCHES} batches of a session;
 * - session-reader.ts: exact counts (summary plus pending rows, at any time), documents, listings.
 */
export class TableSessionRepository implements SessionRepository {
  /** Customer slug -> its account, when there are several. */
  private readonly placements = new BoundedCache<string, TableStorage>(10_000);
  private readonly writer: SessionWriter;
  private readonly folder: SessionFolder;
  private readonly reader: SessionReader;

  /**
   * `accounts` hold the sessions table (the main account, or the sessions accounts); each
   * customer's sessions live in one of them, chosen by rendezvous hashing of its slug.
   */
  constructor(
    private readonly accounts: readonly TableStorage[],
    options: TableSessionRepositoryOptions = {},
  ) {
    if (accounts.length === 0) throw new Error('TableSessionRepository needs at least one account');
    /** Session id hash -> summary row key; safe to cache because the index never changes. */
    const summaryKeys = new BoundedCache<string, string>(50_000);
    /** The customer's recent-sessions index: written beside the openings, read by listings. */
    const index = new SessionListIndex();
    this.reader = new SessionReader(summaryKeys, index);
    this.folder = new SessionFolder(this.reader, options.foldAfterBatches ?? FOLD_AFTER_BATCHES, options.log);
    this.writer = new SessionWriter(summaryKeys, index, this.folder);
  }

  /**
   * The account that holds a customer's sessions: the one whose hash with the slug is highest
   * (rendezvous hashing). It depends only on the slug and the set of accounts, not their order;
   * adding an account moves about 1/N of the customers to it and no other.
   */
  accountFor(customerSlug: string): TableStorage {
    if (this.accounts.length === 1) return this.accounts[0]!;
    const placed = this.placements.get(customerSlug);
    if (placed) return placed;
    let best = this.accounts[0]!;
    let bestScore = '';
    for (const account of this.accounts) {
      const score = createHash('sha256').update(`${account.accountUrl}\n${customerSlug}`).digest('hex');
      if (score > bestScore) [best, bestScore] = [account, score];
    }
    this.placements.set(customerSlug, best);
    return best;
  }

  append(source: IngestSource, batches: LazyBatch[], shared: SharedBatchContext, receivedAt: string): Promise<AppendResult> {
    return this.writer.append(this.accountFor(source.customerSlug), source, batches, shared, receivedAt);
  }

  get(customerSlug: string, sessionId: string): Promise<StoredSession | undefined> {
    return this.reader.get(this.accountFor(customerSlug), customerSlug, sessionId);
  }

  documents(customerSlug: string, sessionId: string): Promise<string[]> {
    return this.reader.documents(this.accountFor(customerSlug), customerSlug, sessionId);
  }

  list(customerSlug: string, query: SessionQuery): Promise<Page<StoredSession>> {
    return this.reader.list(this.accountFor(customerSlug), customerSlug, query);
  }

  /** Waits for the folds under way (graceful shutdown, tests). */
  settle(): Promise<void> {
    return this.folder.settle();
  }
}
