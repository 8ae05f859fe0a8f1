import { BoundedCache } from '../cache/bounded-cache';
import type { Clock } from '../clock';
import { describeError, type Logger } from '../logging';
import type { RevocationFeed } from '../ports/revocation-feed';

/** How far back each read reaches before the previous one: covers clock skew and slow writers. */
export const FEED_OVERLAP_MS = 5000;

export interface RevocationListenerOptions {
  pollIntervalMs: number;
  /** After this long without a successful read, this instance's cache is not trusted. */
  maxStalenessMs: number;
}

/**
 * Keeps this instance's auth cache honest across instances. About once a second it reads what
 * was published to the revocation feed since its last read and evicts those keys. If the feed
 * cannot be read for `maxStalenessMs`, {@link trusted} turns false and authentication goes to
 * storage for every key until a read succeeds again.
 */
export class RevocationListener {
  private lastSuccessAt: number | undefined;
  private readFrom: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failing = false;
  private readonly seen = new BoundedCache<string, true>(10_000);

  constructor(
    private readonly feed: RevocationFeed,
    private readonly evict: (secretHash: string) => void,
    private readonly clock: Clock,
    private readonly options: RevocationListenerOptions,
    private readonly log: Logger,
  ) {
    this.readFrom = clock.now().getTime() - FEED_OVERLAP_MS;
  }

  start(): void {
    if (this.timer) return;
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.options.pollIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Whether cached lookups may be used: the feed was read recently enough. */
  trusted(): boolean {
    return this.lastSuccessAt !== undefined && this.clock.now().getTime() - this.lastSuccessAt <= this.options.maxStalenessMs;
  }

  /** One read of the feed (a read already under way is shared). */
  poll(): Promise<void> {
    this.running ??= this.readOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async readOnce(): Promise<void> {
    const startedAt = this.clock.now().getTime();
    try {
      const entries = await this.feed.readSince(new Date(this.readFrom));
      for (const entry of entries) {
        if (this.seen.get(entry.id)) continue;
        this.seen.set(entry.id, true);
        this.evict(entry.secretHash);
      }
      this.readFrom = startedAt - FEED_OVERLAP_MS;
      this.lastSuccessAt = startedAt;
      if (this.failing) this.log.info('revocation feed readable again');
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.log.warn('revocation feed unreadable; cache trust ends after the staleness bound', describeError(error));
      this.failing = true;
    }
  }
}
