import { BoundedCache } from '../cache/bounded-cache';
import type { Clock } from '../clock';
import type { SecretStore } from '../ports/secret-store';

/**
 * Master-component values in memory, so Key Vault is never called per request. A version's
 * value never changes, so entries live for hours (Microsoft's guidance for secrets); concurrent
 * misses for one customer share one call; when the vault is down, cached values keep working
 * and a cold customer's lookup fails (the door answers 503).
 */
export class ComponentCache {
  private readonly values: BoundedCache<string, string>;
  private readonly inFlight = new Map<string, Promise<string | undefined>>();
  /** Calls made to the store (for tests and the benchmark). */
  storeCalls = 0;

  constructor(
    private readonly secrets: SecretStore,
    clock: Clock,
    options: { ttlMs: number; maxEntries: number },
  ) {
    this.values = new BoundedCache(options.maxEntries, options.ttlMs, () => clock.now().getTime());
  }

  /** The value of one component version, or `undefined` if the store has no such (enabled) version. */
  async value(customerSlug: string, version: string): Promise<string | undefined> {
    const key = `${customerSlug}/${version}`;
    const cached = this.values.get(key);
    if (cached !== undefined) return cached;
    let pending = this.inFlight.get(customerSlug);
    if (!pending) {
      this.storeCalls += 1;
      pending = this.secrets
        .getComponent(customerSlug, version)
        .then((found) => {
          if (found) this.values.set(key, found.value);
          return found?.value;
        })
        .finally(() => this.inFlight.delete(customerSlug));
      this.inFlight.set(customerSlug, pending);
      return pending;
    }
    // Another version of this customer is being fetched: wait for it, then look again.
    await pending.catch(() => undefined);
    return this.value(customerSlug, version);
  }

  /** Remembers a value just written (a rotation), sparing the read. */
  prime(customerSlug: string, version: string, value: string): void {
    this.values.set(`${customerSlug}/${version}`, value);
  }

  evict(customerSlug: string, version: string): void {
    this.values.delete(`${customerSlug}/${version}`);
  }
}
