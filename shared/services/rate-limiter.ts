import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock';
import type { PlanLimits } from '../config';
import type { KeyIdentity, Plan, RateLimitSetting } from '../domain';
import { describeError, type Logger } from '../logging';
import type { RateLimitStore } from '../ports/rate-limit-store';
import { failureBackoffMs } from '../backoff';
import { SharedTokenBuckets, allocateShares, type KeyLimits, type LimitedDecision } from '../rate-limit/shared-token-bucket';

export interface RateLimiterOptions {
  /** Sync interval while some key is near its limit. */
  syncIntervalMs: number;
  /** Sync (and heartbeat) interval otherwise. */
  idleSyncIntervalMs: number;
}

/** An instance whose row is older than this many idle intervals counts as gone. */
const LIVENESS_INTERVALS = 3;
const FORGET_KEY_AFTER_MS = 60_000;
const PRUNE_EVERY_SYNCS = 200;
/** Longest wait between failed exchanges: short of the liveness bound, so a brief throttle does not make others think this instance gone. */
const MAX_BACKOFF_MS = 5000;

const limitsOf = (setting: { requestsPerSecond: number; burst: number }): KeyLimits =>
  Object.freeze({ rate: setting.requestsPerSecond, burst: setting.burst });

/** A key's batch bucket sits beside its request bucket under this suffix (key ids never contain it). */
const BATCH_BUCKET_SUFFIX = '/batches';

/** What a RateLimiter is built from. */
export interface RateLimiterDeps {
  store: RateLimitStore;
  plans: Record<Plan, PlanLimits>;
  clock: Clock;
  options: RateLimiterOptions;
  log: Logger;
}

/**
 * Per-key rate limits that hold across instances without a storage call per request.
 *
 * Requests are decided locally by {@link SharedTokenBuckets}. In the background, each instance
 * publishes its per-key demand to one row of shared storage and reads every instance's row
 * (two operations per sync, whatever the number of keys), then re-divides each key's limit in
 * proportion to demand. It syncs every `syncIntervalMs` while a key is near its limit, every
 * `idleSyncIntervalMs` otherwise (a heartbeat, so the others know how many instances share).
 * A key that runs out of tokens triggers an early sync, so shares follow load within one
 * short interval. If storage is unreachable, the last shares keep applying.
 *
 * Bound: with the load steady, each sync leaves the instances' shares summing to one, so the
 * admitted total tracks rate x time + burst; the error comes from shares lagging a change in
 * the load split by one sync interval (measured in the accuracy test and the benchmark).
 */
export class RateLimiter {
  readonly instanceId = `inst_${randomBytes(6).toString('hex')}`;
  private readonly buckets: SharedTokenBuckets;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastSyncAt: number;
  /** When demand was last shared and read back (for the sync-lag gauge). */
  private lastSharedAt: number;
  private syncs = 0;
  private stopped = true;
  /** Consecutive failed exchanges (0: sharing works). */
  private failures = 0;
  private readonly store: RateLimitStore;
  private readonly plans: Record<Plan, PlanLimits>;
  private readonly clock: Clock;
  private readonly options: RateLimiterOptions;
  private readonly log: Logger;
  /** Each plan's limits, made once: a decision hands out the same object every time. */
  private readonly planLimits = new Map<Plan, KeyLimits>();
  /** The limits of each key's own setting (a frozen object per identity read), made once per setting. */
  private readonly overrideLimits = new WeakMap<RateLimitSetting, KeyLimits>();

  constructor(deps: RateLimiterDeps) {
    this.store = deps.store;
    this.plans = deps.plans;
    this.clock = deps.clock;
    this.options = deps.options;
    this.log = deps.log;
    this.buckets = new SharedTokenBuckets(() => deps.clock.millis());
    this.lastSyncAt = deps.clock.millis();
    this.lastSharedAt = this.lastSyncAt;
  }

  /** The limits of a key: its own override, else its plan's (the same object for the same setting). */
  limitsFor(identity: KeyIdentity): KeyLimits {
    const setting = identity.rateLimit;
    if (setting) {
      let limits = this.overrideLimits.get(setting);
      if (limits === undefined) this.overrideLimits.set(setting, (limits = limitsOf(setting)));
      return limits;
    }
    let limits = this.planLimits.get(identity.plan);
    if (limits === undefined) this.planLimits.set(identity.plan, (limits = limitsOf(this.plans[identity.plan])));
    return limits;
  }

  /** Decides one request (no I/O). `now`: the clock's time, when already read for this request. */
  decide(identity: KeyIdentity, now = this.clock.millis()): LimitedDecision {
    const decision = this.buckets.take(identity.keyId, this.limitsFor(identity), now);
    if (!decision.allowed && !this.stopped && now - this.lastSyncAt >= this.options.syncIntervalMs) {
      void this.sync(); // the load changed: re-divide now rather than at the next tick
    }
    return decision;
  }

  /**
   * The batch limits of a key (ingest's second meter, one unit per session batch a request
   * writes): its own override, else its plan's `batchesPerSecond` / `batchBurst`, which default
   * to the plan's request limits.
   */
  batchLimitsFor(identity: KeyIdentity): KeyLimits {
    if (identity.rateLimit) return { rate: identity.rateLimit.requestsPerSecond, burst: identity.rateLimit.burst };
    const plan = this.plans[identity.plan];
    return { rate: plan.batchesPerSecond ?? plan.requestsPerSecond, burst: plan.batchBurst ?? plan.burst };
  }

  /** Decides the `batches` of one ingest request against the key's batch bucket, shared across instances like its request bucket (no I/O). */
  decideBatches(identity: KeyIdentity, batches: number): LimitedDecision {
    const limits = this.batchLimitsFor(identity);
    const decision = this.buckets.takeUnits(`${identity.keyId}${BATCH_BUCKET_SUFFIX}`, limits, batches);
    if (!decision.allowed && !this.stopped && this.clock.millis() - this.lastSyncAt >= this.options.syncIntervalMs) void this.sync();
    return decision;
  }

  /** Charges the batch bucket `units` for work already done (a request's storage beyond two transactions a batch); never refuses. */
  chargeBatches(identity: KeyIdentity, units: number): void {
    this.buckets.charge(`${identity.keyId}${BATCH_BUCKET_SUFFIX}`, this.batchLimitsFor(identity), units);
  }

  /**
   * Decides one request of a subject other than a key (a portal user, a customer's portal users
   * together), under the limits given: the same buckets, shared across instances the same way
   * (the subject's id is published like a key's, so it must name no person: hash it). No I/O.
   */
  decideSubject(subjectId: string, limits: KeyLimits): LimitedDecision {
    const decision = this.buckets.take(subjectId, limits);
    if (!decision.allowed && !this.stopped && this.clock.millis() - this.lastSyncAt >= this.options.syncIntervalMs) {
      void this.sync();
    }
    return decision;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = async () => {
      if (this.stopped) return;
      const pressure = await this.sync();
      if (this.stopped) return;
      const interval = pressure ? this.options.syncIntervalMs : this.options.idleSyncIntervalMs;
      // While storage refuses (throttled, down), back off; the last shares keep applying meanwhile.
      this.timer = setTimeout(() => void loop(), this.failures > 0 ? failureBackoffMs(this.failures, interval, MAX_BACKOFF_MS) : interval);
      this.timer.unref();
    };
    void loop();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Seconds since this instance last shared its demand and read the others' (0 right after a good exchange). */
  syncLagSeconds(): number {
    return (this.clock.millis() - this.lastSharedAt) / 1000;
  }

  /** One exchange with the other instances; resolves whether some key is near its limit. */
  sync(): Promise<boolean> {
    const run = (this.running ??= this.exchange().finally(() => (this.running = undefined)));
    return run.then(() => this.pressure);
  }

  private pressure = false;

  private async exchange(): Promise<void> {
    const now = this.clock.millis();
    const demand = this.buckets.drainDemand(now - this.lastSyncAt, FORGET_KEY_AFTER_MS);
    this.lastSyncAt = now;
    this.pressure = this.buckets.underPressure(demand);
    try {
      await this.store.publish({ instanceId: this.instanceId, at: now, demand: Object.fromEntries([...demand].filter(([, d]) => d > 0)) });
      const rows = await this.store.readAll();
      const freshAfter = now - LIVENESS_INTERVALS * this.options.idleSyncIntervalMs;
      const live = rows.filter((r) => r.instanceId === this.instanceId || r.at >= freshAfter);
      const shares = new Map<string, number>();
      for (const [keyId, mine] of demand) {
        const byInstance = new Map<string, number>(
          live.map((r) => [r.instanceId, r.instanceId === this.instanceId ? mine : (r.demand[keyId] ?? 0)]),
        );
        shares.set(keyId, allocateShares(byInstance).get(this.instanceId)!);
      }
      this.buckets.applyShares(shares, live.length);
      this.lastSharedAt = now;
      if (++this.syncs % PRUNE_EVERY_SYNCS === 0) await this.store.prune(now - 10 * 60_000);
      if (this.failures > 0) this.log.info('rate-limit sharing restored');
      this.failures = 0;
    } catch (error) {
      if (this.failures === 0) this.log.warn('rate-limit sharing unavailable; keeping the last shares', describeError(error));
      this.failures += 1;
    }
  }
}
