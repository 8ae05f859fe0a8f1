import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';

/**
 * Every metric the service emits, by name (OpenTelemetry, under `veriproof.`): the runbook's
 * queries and the alert rules name these, and a test checks they name nothing else. Attributes are
 * low-cardinality: an outcome or code, a table and kind, a customer's slug and plan; never a key,
 * a secret, a component or a hash.
 */
export const METRICS = {
  /** Counter: API-key requests by `outcome` (`ok`, the door's refusal code, or `rate_limited` by the key's limit), with `customer` and `plan` when the key was found. */
  authOutcomes: 'veriproof.auth.outcomes',
  /** Histogram (ms): the door's decision time when it needed a read (`cache: miss`); decisions from memory are counted, not timed. */
  authDuration: 'veriproof.auth.duration',
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
} as const;

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** What the gauges read when a collection runs (each instance's own state). */
export interface GaugeSources {
  authCacheEntries(): number;
  feedLagSeconds(): number;
  rateLimitSyncLagSeconds(): number;
}

/** The door's outcome: `ok` or its refusal's code. */
export type AuthOutcome = string;

/**
 * The service's instruments, made once per process from a Meter (compose.ts passes the app's
 * MeterProvider; tests read it back with a snapshot). The hot path only adds to counters and
 * records into histograms with small attribute objects.
 */
export class ServiceMetrics {
  /**
   * The door's outcomes, tallied in plain numbers on the hot path and reported by an observable
   * counter at each collection: an OpenTelemetry `add` with attributes costs more than the whole
   * warm door (bench figure 1c), a Map increment does not.
   */
  private readonly authTallies = new Map<string, { attributes: Attributes; count: number }>();
  private readonly authDuration: Histogram;
  private readonly feedApplied: Counter;
  private readonly componentLookups: Counter;
  private readonly keyVaultCalls: Counter;
  private readonly keyVaultDuration: Histogram;
  private readonly storageOperations: Counter;
  private readonly ingestRequests: Counter;
  private readonly ingestBatches: Counter;
  private readonly ingestSpans: Counter;
  private readonly ingestBytes: Counter;
  private readonly ingestDroppedSpans: Counter;
  private readonly usageFlushes: Counter;

  constructor(private readonly meter: Meter) {
    meter.createObservableCounter(METRICS.authOutcomes, { description: 'API-key authentications by outcome' }).addCallback((result) => {
      for (const { attributes, count } of this.authTallies.values()) result.observe(count, attributes);
    });
    this.authDuration = meter.createHistogram(METRICS.authDuration, {
      description: "The API-key door's decision time",
      unit: 'ms',
      advice: { explicitBucketBoundaries: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 25, 50, 100, 250, 1000] },
    });
    this.feedApplied = meter.createCounter(METRICS.feedApplied, { description: 'Revocation-feed entries applied' });
    this.componentLookups = meter.createCounter(METRICS.componentLookups, { description: 'Master-component lookups' });
    this.keyVaultCalls = meter.createCounter(METRICS.keyVaultCalls, { description: 'Key Vault calls' });
    this.keyVaultDuration = meter.createHistogram(METRICS.keyVaultDuration, { description: 'Key Vault call time', unit: 'ms' });
    this.storageOperations = meter.createCounter(METRICS.storageOperations, { description: 'Table Storage operations' });
    this.ingestRequests = meter.createCounter(METRICS.ingestRequests, { description: 'Ingest requests' });
    this.ingestBatches = meter.createCounter(METRICS.ingestBatches, { description: 'Sessions stored' });
    this.ingestSpans = meter.createCounter(METRICS.ingestSpans, { description: 'Spans stored' });
    this.ingestBytes = meter.createCounter(METRICS.ingestBytes, { description: 'Ingest request bytes', unit: 'By' });
    this.ingestDroppedSpans = meter.createCounter(METRICS.ingestDroppedSpans, { description: 'Spans refused in accepted requests' });
    this.usageFlushes = meter.createCounter(METRICS.usageFlushes, { description: 'Usage flushes' });
  }

  /** Registers the gauges, read at each collection. */
  observe(sources: GaugeSources): void {
    this.meter
      .createObservableGauge(METRICS.authCacheEntries, { description: 'Entries in the auth cache' })
      .addCallback((result) => result.observe(sources.authCacheEntries()));
    this.meter
      .createObservableGauge(METRICS.feedLag, { description: 'Seconds since the last good revocation-feed read', unit: 's' })
      .addCallback((result) => result.observe(sources.feedLagSeconds()));
    this.meter
      .createObservableGauge(METRICS.rateLimitSyncLag, { description: 'Seconds since rate-limit demand was last shared', unit: 's' })
      .addCallback((result) => result.observe(sources.rateLimitSyncLagSeconds()));
  }

  /** One API-key request's outcome. `customer` only for a key that was found (an unknown key has none). */
  auth(outcome: AuthOutcome, customer?: { customerSlug: string; plan: string }): void {
    const id = customer ? `${outcome}|${customer.customerSlug}|${customer.plan}` : outcome;
    const tally = this.authTallies.get(id);
    if (tally) tally.count += 1;
    else
      this.authTallies.set(id, {
        attributes: customer ? { outcome, customer: customer.customerSlug, plan: customer.plan } : { outcome },
        count: 1,
      });
  }

  /** The time of a door decision that needed a read (a decision from memory is bench figure 1c's). */
  authRead(durationMs: number): void {
    this.authDuration.record(durationMs, { cache: 'miss' });
  }

  feedEntry(reason: 'revoked' | 'changed'): void {
    this.feedApplied.add(1, { reason });
  }

  componentLookup(result: 'hit' | 'miss'): void {
    this.componentLookups.add(1, { result });
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
