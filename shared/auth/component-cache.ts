import type { ServiceMetrics } from '../telemetry/metrics';
import type { Tracing } from '../telemetry/tracing';
import { BoundedCache } from '../cache/bounded-cache';
import type { Clock } from '../clock';
import type { SecretStore } from '../ports/secret-store';

/** Versions whose cache keys are kept per customer (a current, a previous, a few retired). */
const VERSION_KEYS_PER_CUSTOMER = 8;

/**
 * Master-component values in memory, so Key Vault is never called per request. A version's
 * value never changes, so entries live for hours (Microsoft's guidance for secrets); concurrent
 * misses for one customer share one call; when the vault is down, cached values keep working
 * and a cold customer's lookup fails (the door answers 503).
 */
export class ComponentCache {
  private readonly values: BoundedCache<string, string>;
  /** The read under way for a customer, resolving to the version it read. */
  private readonly inFlight = new Map<string, Promise<string>>();
  /**
   * The cache key (`slug/version`) of each version asked for, by customer: a key string built per
   * request costs the request path more than the lookup itself (a new string is hashed anew), so
   * each is built once. Cleared whole past the cache's own bound.
   */
  private readonly keys = new Map<string, Map<string, string>>();
  private readonly maxKeys: number;
  /** Calls made to the store (for tests and the benchmark). */
  storeCalls = 0;

  private readonly metrics: ServiceMetrics | undefined;
  private readonly tracing: Tracing | undefined;

  constructor(
    private readonly secrets: SecretStore,
    clock: Clock,
    options: { ttlMs: number; maxEntries: number; metrics?: ServiceMetrics; tracing?: Tracing },
  ) {
    this.metrics = options.metrics;
    this.tracing = options.tracing;
    this.values = new BoundedCache(options.maxEntries, options.ttlMs, () => clock.millis());
    this.maxKeys = options.maxEntries;
  }

  private keyOf(customerSlug: string, version: string): string {
    let versions = this.keys.get(customerSlug);
    if (versions === undefined) {
      if (this.keys.size >= this.maxKeys) this.keys.clear();
      versions = new Map();
      this.keys.set(customerSlug, versions);
    }
    let key = versions.get(version);
    if (key === undefined) {
      if (versions.size >= VERSION_KEYS_PER_CUSTOMER) versions.clear();
      key = `${customerSlug}/${version}`;
      versions.set(version, key);
    }
    return key;
  }

  /**
   * A cached value, without waiting and without counting; `undefined` when it is not in memory.
   * `now`: the clock's time, when already read.
   */
  peek(customerSlug: string, version: string, now?: number): string | undefined {
    return this.values.peek(this.keyOf(customerSlug, version), now);
  }

  /** Counts a lookup {@link peek} answered that the caller used (the request path's hit). */
  countHit(): void {
    this.metrics?.componentLookup('hit');
  }

  /** The value of one component version, or `undefined` if the store has no such (enabled) version. */
  async value(customerSlug: string, version: string): Promise<string | undefined> {
    const key = `${customerSlug}/${version}`;
    for (;;) {
      const cached = this.values.get(key);
      if (cached !== undefined) {
        this.metrics?.componentLookup('hit');
        return cached;
      }
      const pending = this.inFlight.get(customerSlug);
      if (!pending) break;
      // One read per customer at a time: wait for it (its failure is ours too), then look again.
      if ((await pending) === version) return this.values.get(key);
    }
    this.storeCalls += 1;
    this.metrics?.componentLookup('miss');
    const started = performance.now();
    const get = () => this.secrets.getComponent(customerSlug, version);
    const read = (this.tracing ? this.tracing.child('key_vault get_component', { 'veriproof.customer': customerSlug }, get) : get())
      .then(
        (found) => {
          this.metrics?.keyVaultCall(found ? 'ok' : 'absent', performance.now() - started);
          if (found) this.values.set(key, found.value);
          return version;
        },
        (error: unknown) => {
          this.metrics?.keyVaultCall('failed', performance.now() - started);
          throw error;
        },
      )
      .finally(() => this.inFlight.delete(customerSlug));
    this.inFlight.set(customerSlug, read);
    await read;
    return this.values.get(key);
  }

  /** Remembers a value just written (a rotation), sparing the read. */
  prime(customerSlug: string, version: string, value: string): void {
    this.values.set(`${customerSlug}/${version}`, value);
  }

  evict(customerSlug: string, version: string): void {
    this.values.delete(`${customerSlug}/${version}`);
  }
}
