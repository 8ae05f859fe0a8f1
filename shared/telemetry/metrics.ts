import type { Attributes, Meter } from '@opentelemetry/api';

/** One instrument on every meter the service reports to (its own reader's, and an exporter's in Azure). */
class FanCounter {
  constructor(private readonly counters: Array<{ add(value: number, attributes?: Attributes): void }>) {}
  add(value: number, attributes?: Attributes): void {
    for (const counter of this.counters) counter.add(value, attributes);
  }
}
class FanHistogram {
  constructor(private readonly histograms: Array<{ record(value: number, attributes?: Attributes): void }>) {}
  record(value: number, attributes?: Attributes): void {
    for (const histogram of this.histograms) histogram.record(value, attributes);
  }
}

/**
 * Every metric the service emits, by name (OpenTelemetry, under `veriproof.`): the runbook's
 * queries and the alert rules name these, and a test checks they name nothing else. Attributes are
 * low-cardinality: an outcome or code, a table and kind, a customer's slug and plan; never a key,
 * a secret, a component or a hash.
 */
export const METRICS = {
  /** Counter: API-key requests by `outcome` (`ok`, the door's refusal code, or `rate_limited` by the key's limit), with `customer` and `plan` when the key was found. */
  authOutcomes: 'veriproof.auth.outcomes',
  /** Histogram (ms): the door's decision time, `cache` hit (from memory; one decision in 64 is timed) or miss (a read was needed; all timed). */
  authDuration: 'veriproof.auth.duration',
  /** Counter: auth-cache lookups by `result` (hit, miss): the hit ratio. */
  authCacheLookups: 'veriproof.auth.cache.lookups',
  /** Gauge: identities and known misses held in this instance's auth cache. */
  authCacheEntries: 'veriproof.auth.cache.entries',
  /** Gauge (s): time since this instance last read the revocation feed successfully. */
  feedLag: 'veriproof.revocation_feed.lag',
  /** Counter: revocation-feed entries applied to this instance's cache, by `reason` (revoked, changed). */
  feedApplied: 'veriproof.revocation_feed.applied',
  /** Counter: master-component lookups by `result` (hit: in memory; miss: Key Vault was asked). */
  componentLookups: 'veriproof.component_cache.lookups',
  /** Counter: Key Vault calls by `outcome` (ok, absent, failed). */
  keyVaultCalls: 'veriproof.key_vault.calls',
  /** Histogram (ms): Key Vault call time. */
  keyVaultDuration: 'veriproof.key_vault.duration',
  /** Counter: Table Storage operations by `table`, `kind` (read, query, write, batch, table) and `outcome` (ok, absent, conflict, throttled, failed). */
  storageOperations: 'veriproof.storage.operations',
  /** Counter: ingest requests by `customer` and `outcome` (accepted, refused). */
  ingestRequests: 'veriproof.ingest.requests',
  /** Counter: sessions (batches) stored, by `customer`. */
  ingestBatches: 'veriproof.ingest.batches',
  /** Counter: spans stored, by `customer`. */
  ingestSpans: 'veriproof.ingest.spans',
  /** Counter: request bytes received by ingest, by `customer`. */
  ingestBytes: 'veriproof.ingest.bytes',
  /** Counter: spans refused within accepted requests (OTLP partial success), by `customer`. */
  ingestDroppedSpans: 'veriproof.ingest.dropped_spans',
  /** Gauge (s): time since this instance last shared rate-limit demand successfully. */
  rateLimitSyncLag: 'veriproof.rate_limit.sync_lag',
  /** Counter: usage flushes by `outcome` (ok, failed). */
  usageFlushes: 'veriproof.usage.flushes',
  /**
   * Counter: token exchanges (`POST /v1/oauth/token`) by `outcome`: `issued`; `refused` with its
   * `reason` (the subject-token verifier's, or the exchange's own); `rate_limited` with the `limit`
   * that refused it (per-address, per-customer); `invalid_request` with its RFC 6749 `error`;
   * `failed` (a dependency out of reach: answered 503). Never a customer: an audience is anyone's text.
   */
  tokenExchanges: 'veriproof.token_exchange.outcomes',
  /** Histogram (ms): an exchange from its valid request to its answer (verification, policies, the token stored, audit), by `outcome` (issued, refused, failed). */
  tokenExchangeDuration: 'veriproof.token_exchange.duration',
} as const;

/** How one token exchange ended, as its counter's attributes (each of low cardinality: a fixed set of words). */
export type TokenExchangeResult =
  | { outcome: 'issued' }
  | { outcome: 'refused'; reason: string }
  | { outcome: 'rate_limited'; limit: 'per-address' | 'per-customer' }
  | { outcome: 'invalid_request'; error: string }
  | { outcome: 'failed' };

const CACHE_HIT: Attributes = Object.freeze({ cache: 'hit' });
const CACHE_MISS: Attributes = Object.freeze({ cache: 'miss' });

/** One decision from memory in this many is timed (a power of two). */
export const HIT_SAMPLE = 64;

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** What the gauges read when a collection runs (each instance's own state). */
export interface GaugeSources {
  authCacheEntries(): number;
  feedLagSeconds(): number;
  rateLimitSyncLagSeconds(): number;
}

/** The door's outcome: `ok` or its refusal's code. */
export type AuthOutcome = string;

/** A count bound to its attribute set, made once. */
interface Tally {
  readonly attributes: Attributes;
  count: number;
}

/** One outcome's tallies: without a customer (an unknown key), and by customer slug, then plan. */
interface OutcomeTallies {
  unknown: Tally | undefined;
  readonly byCustomer: Map<string, Map<string, Tally>>;
}

/**
 * The service's instruments, made once per process on each meter it reports to (its own
 * reader's, and in Azure the exporter's: telemetry.ts). The hot path only increments a tally.
 */
export class ServiceMetrics {
  /**
   * The door's outcomes, tallied in plain numbers on the hot path and reported by an observable
   * counter at each collection: an OpenTelemetry `add` with attributes costs more than the whole
   * warm door (bench figure 1c), a tally's increment does not. Each tally is bound once to its
   * attribute set (outcome, customer, plan), found by outcome, then customer and plan, so a
   * request's count allocates nothing and builds no key.
   */
  private readonly authTallies = new Map<AuthOutcome, OutcomeTallies>();
  /** Auth-cache and component-cache lookups, tallied like the outcomes (the warm path's counts). */
  private readonly cacheTallies = { authHit: 0, authMiss: 0, componentHit: 0, componentMiss: 0 };
  /** Decisions from memory seen, for timing one in {@link HIT_SAMPLE}. */
  private hits = 0;
  private readonly authDuration: FanHistogram;
  private readonly feedApplied: FanCounter;
  private readonly keyVaultCalls: FanCounter;
  private readonly keyVaultDuration: FanHistogram;
  private readonly storageOperations: FanCounter;
  private readonly ingestRequests: FanCounter;
  private readonly ingestBatches: FanCounter;
  private readonly ingestSpans: FanCounter;
  private readonly ingestBytes: FanCounter;
  private readonly ingestDroppedSpans: FanCounter;
  private readonly usageFlushes: FanCounter;
  private readonly tokenExchanges: FanCounter;
  private readonly tokenExchangeDuration: FanHistogram;

  /** `meters`: every meter to report to (the service's own reader's first; in Azure, the exporter's). */
  constructor(private readonly meters: readonly Meter[]) {
    const counter = (name: string, description: string, unit?: string) =>
      new FanCounter(meters.map((m) => m.createCounter(name, { description, ...(unit ? { unit } : {}) })));
    const histogram = (name: string, description: string, boundaries?: number[]) =>
      new FanHistogram(
        meters.map((m) =>
          m.createHistogram(name, { description, unit: 'ms', ...(boundaries ? { advice: { explicitBucketBoundaries: boundaries } } : {}) }),
        ),
      );
    for (const meter of meters) {
      meter.createObservableCounter(METRICS.authOutcomes, { description: 'API-key requests by outcome' }).addCallback((result) => {
        for (const tallies of this.authTallies.values()) {
          if (tallies.unknown) result.observe(tallies.unknown.count, tallies.unknown.attributes);
          for (const byPlan of tallies.byCustomer.values())
            for (const { attributes, count } of byPlan.values()) result.observe(count, attributes);
        }
      });
    }
    for (const meter of meters) {
      meter.createObservableCounter(METRICS.authCacheLookups, { description: 'Auth-cache lookups' }).addCallback((result) => {
        result.observe(this.cacheTallies.authHit, { result: 'hit' });
        result.observe(this.cacheTallies.authMiss, { result: 'miss' });
      });
      meter.createObservableCounter(METRICS.componentLookups, { description: 'Master-component lookups' }).addCallback((result) => {
        result.observe(this.cacheTallies.componentHit, { result: 'hit' });
        result.observe(this.cacheTallies.componentMiss, { result: 'miss' });
      });
    }
    this.authDuration = histogram(
      METRICS.authDuration,
      "The API-key door's decision time",
      [0.001, 0.002, 0.005, 0.01, 0.05, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000, 3000],
    );
    this.feedApplied = counter(METRICS.feedApplied, 'Revocation-feed entries applied');
    this.keyVaultCalls = counter(METRICS.keyVaultCalls, 'Key Vault calls');
    this.keyVaultDuration = histogram(METRICS.keyVaultDuration, 'Key Vault call time');
    this.storageOperations = counter(METRICS.storageOperations, 'Table Storage operations');
    this.ingestRequests = counter(METRICS.ingestRequests, 'Ingest requests');
    this.ingestBatches = counter(METRICS.ingestBatches, 'Sessions stored');
    this.ingestSpans = counter(METRICS.ingestSpans, 'Spans stored');
    this.ingestBytes = counter(METRICS.ingestBytes, 'Ingest request bytes', 'By');
    this.ingestDroppedSpans = counter(METRICS.ingestDroppedSpans, 'Spans refused in accepted requests');
    this.usageFlushes = counter(METRICS.usageFlushes, 'Usage flushes');
    this.tokenExchanges = counter(METRICS.tokenExchanges, 'Token exchanges by outcome');
    this.tokenExchangeDuration = histogram(METRICS.tokenExchangeDuration, 'Token exchange time, from the valid request to the answer');
  }

  /** Registers the gauges, read at each collection. */
  observe(sources: GaugeSources): void {
    for (const meter of this.meters) {
      meter
        .createObservableGauge(METRICS.authCacheEntries, { description: 'Entries in the auth cache' })
        .addCallback((result) => result.observe(sources.authCacheEntries()));
      meter
        .createObservableGauge(METRICS.feedLag, { description: 'Seconds since the last good revocation-feed read', unit: 's' })
        .addCallback((result) => result.observe(sources.feedLagSeconds()));
      meter
        .createObservableGauge(METRICS.rateLimitSyncLag, { description: 'Seconds since rate-limit demand was last shared', unit: 's' })
        .addCallback((result) => result.observe(sources.rateLimitSyncLagSeconds()));
    }
  }

  /** One API-key request's outcome. `customer` only for a key that was found (an unknown key has none). */
  auth(outcome: AuthOutcome, customer?: { customerSlug: string; plan: string }): void {
    let tallies = this.authTallies.get(outcome);
    if (tallies === undefined) this.authTallies.set(outcome, (tallies = { unknown: undefined, byCustomer: new Map() }));
    if (customer === undefined) {
      (tallies.unknown ??= { attributes: Object.freeze({ outcome }), count: 0 }).count += 1;
      return;
    }
    let byPlan = tallies.byCustomer.get(customer.customerSlug);
    if (byPlan === undefined) tallies.byCustomer.set(customer.customerSlug, (byPlan = new Map<string, Tally>()));
    let tally = byPlan.get(customer.plan);
    if (tally === undefined) {
      tally = { attributes: Object.freeze({ outcome, customer: customer.customerSlug, plan: customer.plan }), count: 0 };
      byPlan.set(customer.plan, tally);
    }
    tally.count += 1;
  }

  /** A door decision that needed a read, and how long it took. */
  authRead(durationMs: number): void {
    this.cacheTallies.authMiss += 1;
    this.authDuration.record(durationMs, CACHE_MISS);
  }

  /**
   * A door decision from memory. Counted every time; timed one time in {@link HIT_SAMPLE} (a
   * histogram record costs more than the decision): `true` when the caller should time this one.
   */
  authHit(): boolean {
    this.cacheTallies.authHit += 1;
    return (++this.hits & (HIT_SAMPLE - 1)) === 0;
  }

  /**
   * Whether the next decision from memory is one {@link authHit} will say to time: asked before
   * the decision, so that the clock is read only for those (reading it costs more than counting).
   */
  timesNextHit(): boolean {
    return ((this.hits + 1) & (HIT_SAMPLE - 1)) === 0;
  }

  /** The time of a sampled decision from memory. */
  authHitTime(durationMs: number): void {
    this.authDuration.record(durationMs, CACHE_HIT);
  }

  feedEntry(reason: 'revoked' | 'changed'): void {
    this.feedApplied.add(1, { reason });
  }

  componentLookup(result: 'hit' | 'miss'): void {
    if (result === 'hit') this.cacheTallies.componentHit += 1;
    else this.cacheTallies.componentMiss += 1;
  }

  keyVaultCall(outcome: 'ok' | 'absent' | 'failed', durationMs: number): void {
    this.keyVaultCalls.add(1, { outcome });
    this.keyVaultDuration.record(durationMs, { outcome });
  }

  storageOperation(table: string, kind: string, outcome: StorageOutcome): void {
    this.storageOperations.add(1, { table, kind, outcome });
  }

  ingest(
    customer: string,
    outcome: 'accepted' | 'refused',
    counts: { bytes: number; batches?: number; spans?: number; droppedSpans?: number },
  ): void {
    this.ingestRequests.add(1, { customer, outcome });
    this.ingestBytes.add(counts.bytes, { customer });
    if (counts.batches) this.ingestBatches.add(counts.batches, { customer });
    if (counts.spans) this.ingestSpans.add(counts.spans, { customer });
    if (counts.droppedSpans) this.ingestDroppedSpans.add(counts.droppedSpans, { customer });
  }

  usageFlush(outcome: 'ok' | 'failed'): void {
    this.usageFlushes.add(1, { outcome });
  }

  /** One token exchange's end, and (for one that reached the exchange itself) how long it took. */
  tokenExchange(result: TokenExchangeResult, durationMs?: number): void {
    this.tokenExchanges.add(1, { ...result });
    if (durationMs !== undefined) this.tokenExchangeDuration.record(durationMs, { outcome: result.outcome });
  }
}

export type StorageOutcome = 'ok' | 'absent' | 'conflict' | 'throttled' | 'failed';

/** A storage answer's status as an outcome: 404 absent, 409/412 conflict, 429/503 throttled, anything else (or none) failed. */
export function storageOutcome(status: number): StorageOutcome {
  if (status >= 200 && status < 400) return 'ok';
  if (status === 404) return 'absent';
  if (status === 409 || status === 412) return 'conflict';
  if (status === 429 || status === 503) return 'throttled';
  return 'failed';
}
