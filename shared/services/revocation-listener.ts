import { BoundedCache } from '../cache/bounded-cache';
import type { Clock } from '../clock';
import { describeError, type Logger } from '../logging';
import { FEED_RETENTION_MS, type RevocationEntry, type RevocationFeed } from '../ports/revocation-feed';

/**
 * How far back each read reaches before the previous one. Entries are placed by the
 * publisher's clock, so this covers a publisher whose clock is behind ours (or a slow write) by
 * up to about two minutes; one ahead of ours is read early, which is harmless.
 */
export const FEED_OVERLAP_MS = 120_000;

export interface RevocationListenerOptions {
  pollIntervalMs: number;
  /** After this long without a successful read, this instance's cache is not trusted. */
  maxStalenessMs: number;
}

/** What a RevocationListener is built from. */
export interface RevocationListenerDeps {
  feed: RevocationFeed;
  apply: (entry: RevocationEntry) => void;
  clock: Clock;
  options: RevocationListenerOptions;
  log: Logger;
}

/**
 * Keeps this instance's auth cache honest across instances. About once a second it reads what
 * was published to the revocation feed since its last read (with a wide overlap) and hands each
 * new entry over: a revoked key is refused from then on, even if its lookup row is still there
 * (a revocation cut short by a crash), a changed one is read again. The first read goes back the
 * feed's whole retention, so an instance that starts after a crash refuses such keys too. If the
 * feed cannot be read for `maxStalenessMs`, {@link trusted} turns false and authentication goes
 * to storage for every key until a read succeeds again.
 */
export class RevocationListener {
  private lastSuccessAt: number | undefined;
  private readFrom: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failing = false;
  /** Reads started so far; each read's number is the count when it started. */
  private readsStarted = 0;
  /** Callers of {@link nextRead}, each with the number of reads started before it asked. */
  private readonly waiting: Array<{ after: number; resolve: () => void }> = [];
  private readonly seen = new BoundedCache<string, true>(100_000);
  private readonly feed: RevocationFeed;
  private readonly apply: (entry: RevocationEntry) => void;
  private readonly clock: Clock;
  private readonly options: RevocationListenerOptions;
  private readonly log: Logger;

  constructor(deps: RevocationListenerDeps) {
    this.feed = deps.feed;
    this.apply = deps.apply;
    this.clock = deps.clock;
    this.options = deps.options;
    this.log = deps.log;
    this.readFrom = deps.clock.millis() - FEED_RETENTION_MS;
    this.startedAt = deps.clock.millis();
  }

  private readonly startedAt: number;

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

  /** Seconds since the feed was last read successfully (since start, before the first read). */
  lagSeconds(): number {
    return (this.clock.millis() - (this.lastSuccessAt ?? this.startedAt)) / 1000;
  }

  /** Whether cached lookups may be used: the feed was read recently enough. */
  trusted(now = this.clock.millis()): boolean {
    return this.lastSuccessAt !== undefined && now - this.lastSuccessAt <= this.options.maxStalenessMs;
  }

  /**
   * Resolves when a read of the feed that started after this call has completed successfully:
   * from then on, this instance applies everything published before the call (a key revoked
   * before it is refused here). A read already under way when it is called does not count, since
   * it may have started before the publication. For tests (the local host serves it with
   * `--diagnostics`): the event that a revocation has reached this instance.
   */
  nextRead(): Promise<void> {
    return new Promise((resolve) => this.waiting.push({ after: this.readsStarted, resolve }));
  }

  /** One read of the feed (a read already under way is shared). */
  poll(): Promise<void> {
    this.running ??= this.readOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async readOnce(): Promise<void> {
    const startedAt = this.clock.millis();
    const number = ++this.readsStarted;
    try {
      const entries = await this.feed.readSince(new Date(this.readFrom));
      for (const entry of entries) {
        if (this.seen.get(entry.id)) continue;
        this.seen.set(entry.id, true);
        this.apply(entry);
      }
      this.readFrom = startedAt - FEED_OVERLAP_MS;
      this.lastSuccessAt = startedAt;
      if (this.failing) this.log.info('revocation feed readable again');
      this.failing = false;
      this.settleWaiting(number);
    } catch (error) {
      if (!this.failing) this.log.warn('revocation feed unreadable; cache trust ends after the staleness bound', describeError(error));
      this.failing = true;
    }
  }

  /** Resolves the {@link nextRead} callers that asked before read `number` started. */
  private settleWaiting(number: number): void {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const waiter = this.waiting[i]!;
      if (waiter.after < number) {
        this.waiting.splice(i, 1);
        waiter.resolve();
      }
    }
  }
}
