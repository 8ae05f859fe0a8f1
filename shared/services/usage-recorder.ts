import type { ServiceMetrics } from '../telemetry/metrics';
import type { Clock } from '../clock';
import type { KeyIdentity } from '../domain';
import { describeError, type Logger } from '../logging';
import type { KeyRepository } from '../ports/key-repository';
import type { UsageRow, UsageStore } from '../ports/usage-store';
import type { RolloutStore, RolloutUse } from '../ports/rollout-store';
import { failureBackoffMs } from '../backoff';

export const hourOf = (date: Date): string => `${date.toISOString().slice(0, 13)}:00:00.000Z`;

const HOUR_MS = 3_600_000;
/** Longest wait between failed flushes (the counts wait in memory meanwhile). */
const MAX_BACKOFF_MS = 5 * 60_000;

interface Counter extends UsageRow {
  dirty: boolean;
}

/**
 * A key a roll watches, as this instance saw it used: the old key's last use or the successor's
 * first (ms), whether that is written, and whether the rollout is over (nothing more to write).
 */
interface WatchedUse {
  customerSlug: string;
  oldKeyId: string;
  side: 'old' | 'successor';
  untilMs: number;
  atMs: number | undefined;
  written: boolean;
  gone: boolean;
}

/** What an UsageRecorder is built from. */
export interface UsageRecorderDeps {
  store: UsageStore;
  keys: Pick<KeyRepository, 'touchLastUsed'>;
  /** Where the uses of keys a roll watches are written (none: not written). */
  rollouts?: Pick<RolloutStore, 'recordUses'>;
  clock: Clock;
  instanceId: string;
  flushIntervalMs: number;
  log: Logger;
  metrics?: ServiceMetrics;
}

/**
 * Counts requests per key per hour in memory and writes them in the background: no storage
 * call on the request path. A flush writes this instance's cumulative counts for each key and
 * hour that changed (blind upserts, batched per customer) and the hour each key was last used
 * in. A graceful shutdown flushes; a crash loses at most one flush interval of counts.
 *
 * For a key a roll watches (its identity's `rolloutWatch`), it also keeps the exact time of the
 * old key's last use (any request it was presented with, refused ones too: something still sends
 * it) or the successor's first (one it authenticated: accepted or rate-limited), and the flush
 * writes it to the rollout when it moved: at most one write per watched key and flush, and none
 * for a successor after its first. The hour of `lastUsedAt` is too coarse for "unused for
 * quietMinutes"; this costs no storage call on the request path either.
 */
export class UsageRecorder {
  private readonly counters = new Map<string, Counter>();
  /**
   * The counter of each key in the current hour (the one `hourCache` holds), by key id, and
   * whether its last-used hour is noted: a request finds its counter without building its id.
   */
  private readonly current = new Map<string, { counter: Counter; lastUsedNoted: boolean }>();
  private readonly lastUsed = new Map<string, { customerSlug: string; keyId: string; hour: string; written: boolean }>();
  /** Keys a roll watches, by key id. */
  private readonly watched = new Map<string, WatchedUse>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** Consecutive failed flushes, and when the timer may try again after them. */
  private failures = 0;
  private retryAt = 0;
  /** The current hour's string, computed once per hour rather than per request. */
  private hourCache = { start: -1, text: '' };
  private readonly store: UsageStore;
  private readonly keys: Pick<KeyRepository, 'touchLastUsed'>;
  private readonly rollouts: Pick<RolloutStore, 'recordUses'> | undefined;
  private readonly clock: Clock;
  private readonly instanceId: string;
  private readonly flushIntervalMs: number;
  private readonly log: Logger;
  private readonly metrics: ServiceMetrics | undefined;

  constructor(deps: UsageRecorderDeps) {
    this.store = deps.store;
    this.keys = deps.keys;
    this.rollouts = deps.rollouts;
    this.clock = deps.clock;
    this.instanceId = deps.instanceId;
    this.flushIntervalMs = deps.flushIntervalMs;
    this.log = deps.log;
    this.metrics = deps.metrics;
  }

  /**
   * One request of a key: admitted, refused by the rate limit, or refused for its address (IP
   * allowlist). `now`: the clock's time, when already read for this request.
   */
  record(identity: KeyIdentity, outcome: 'accepted' | 'rateLimited' | 'ipRefused', now = this.clock.millis()): void {
    const start = now - (now % HOUR_MS);
    if (start !== this.hourCache.start) {
      this.hourCache = { start, text: new Date(start).toISOString() };
      this.current.clear();
    }
    let current = this.current.get(identity.keyId);
    if (current === undefined || current.counter.customerSlug !== identity.customerSlug) {
      current = { counter: this.counterOf(identity, this.hourCache.text), lastUsedNoted: false };
      this.current.set(identity.keyId, current);
    }
    const counter = current.counter;
    counter[outcome] += 1;
    counter.dirty = true;
    if (outcome === 'accepted' && !current.lastUsedNoted) {
      current.lastUsedNoted = true;
      const hour = counter.hour;
      const last = this.lastUsed.get(identity.keyId);
      if (!last || last.hour < hour)
        this.lastUsed.set(identity.keyId, { customerSlug: identity.customerSlug, keyId: identity.keyId, hour, written: false });
    }
    if (identity.rolloutWatch) this.noteWatchedUse(identity, outcome, now);
  }

  /** A request of a key a roll watches: the old key's latest use, the successor's first authenticated one. */
  private noteWatchedUse(identity: KeyIdentity, outcome: 'accepted' | 'rateLimited' | 'ipRefused', now: number): void {
    const watch = identity.rolloutWatch!;
    let use = this.watched.get(identity.keyId);
    if (use === undefined || use.oldKeyId !== watch.oldKeyId || use.side !== watch.side) {
      use = {
        customerSlug: identity.customerSlug,
        oldKeyId: watch.oldKeyId,
        side: watch.side,
        untilMs: Date.parse(watch.until),
        atMs: undefined,
        written: true,
        gone: false,
      };
      this.watched.set(identity.keyId, use);
    }
    if (use.gone || now >= use.untilMs) return;
    if (use.side === 'old') {
      if (use.atMs === undefined || now > use.atMs) {
        use.atMs = now;
        use.written = false;
      }
    } else if (use.atMs === undefined && outcome !== 'ipRefused') {
      use.atMs = now;
      use.written = false;
    }
  }

  /** The counter of a key in an hour, made when it has none. */
  private counterOf(identity: KeyIdentity, hour: string): Counter {
    const id = `${identity.customerSlug}/${identity.keyId}/${hour}`;
    let counter = this.counters.get(id);
    if (!counter) {
      counter = {
        customerSlug: identity.customerSlug,
        keyId: identity.keyId,
        hour,
        instanceId: this.instanceId,
        accepted: 0,
        rateLimited: 0,
        ipRefused: 0,
        dirty: false,
      };
      this.counters.set(id, counter);
    }
    return counter;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // After failures, skip ticks until the backoff has passed; the counts wait in memory.
      if (this.clock.millis() >= this.retryAt) void this.flush();
    }, this.flushIntervalMs);
    this.timer.unref();
  }

  /** Stops the timer and writes what is held (graceful shutdown). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Writes every changed count and last-used hour (a flush under way is shared). */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** Uses of watched keys not yet written (for tests). */
  get pendingRolloutUses(): number {
    return [...this.watched.values()].filter((w) => !w.written && !w.gone).length;
  }

  /** Counts not yet written (for tests and the shutdown message). */
  get pending(): number {
    return [...this.counters.values()].filter((c) => c.dirty).length;
  }

  /** Writes the uses of watched keys; a use that came meanwhile stays unwritten for the next flush. */
  private async writeRolloutUses(uses: WatchedUse[]): Promise<void> {
    const sent = uses.map((w) => ({ watched: w, atMs: w.atMs! }));
    const gone = await this.rollouts!.recordUses(
      sent.map(({ watched, atMs }): RolloutUse => ({
        customerSlug: watched.customerSlug,
        oldKeyId: watched.oldKeyId,
        side: watched.side,
        at: new Date(atMs).toISOString(),
      })),
    );
    const over = new Set(gone.map((u) => `${u.customerSlug}/${u.oldKeyId}/${u.side}`));
    for (const { watched, atMs } of sent) {
      if (watched.atMs === atMs) watched.written = true;
      if (over.has(`${watched.customerSlug}/${watched.oldKeyId}/${watched.side}`)) watched.gone = true;
    }
  }

  private async write(): Promise<void> {
    const dirty = [...this.counters.values()].filter((c) => c.dirty);
    const touches = [...this.lastUsed.values()].filter((l) => !l.written);
    const uses = this.rollouts ? [...this.watched.values()].filter((w) => !w.written && !w.gone && w.atMs !== undefined) : [];
    if (dirty.length === 0 && touches.length === 0 && uses.length === 0) return;
    for (const c of dirty) c.dirty = false;
    try {
      if (dirty.length > 0) {
        await this.store.write(dirty.map(({ dirty: _d, ...row }) => row));
      }
      if (touches.length > 0) {
        await this.keys.touchLastUsed(touches.map(({ customerSlug, keyId, hour }) => ({ customerSlug, keyId, hour })));
        for (const t of touches) t.written = true;
      }
      if (uses.length > 0) await this.writeRolloutUses(uses);
      this.metrics?.usageFlush('ok');
      if (this.failures > 0) this.log.info('usage flush succeeded again');
      this.failures = 0;
      this.retryAt = 0;
    } catch (error) {
      for (const c of dirty) c.dirty = true; // written next time (rows are cumulative: nothing double counts)
      this.metrics?.usageFlush('failed');
      if (this.failures === 0) this.log.warn('usage flush failed; counts are kept for the next flush', describeError(error));
      this.failures += 1;
      this.retryAt = this.clock.millis() + failureBackoffMs(this.failures, this.flushIntervalMs, MAX_BACKOFF_MS);
    }
    // Watches past their end need not be kept (one whose rollout is over is kept until then: it says so).
    const now = this.clock.millis();
    for (const [keyId, w] of this.watched) if (now >= w.untilMs) this.watched.delete(keyId);
    // Hours that are over and written need not be kept.
    const current = hourOf(this.clock.now());
    for (const [id, c] of this.counters) {
      if (c.dirty || c.hour >= current) continue;
      this.counters.delete(id);
      if (this.current.get(c.keyId)?.counter === c) this.current.delete(c.keyId);
    }
  }
}
