import { BoundedCache } from '../cache/bounded-cache';
import type { Clock } from '../clock';
import type { KeyIdentity } from '../domain';
import type { KeyLookupEntry, KeyRepository } from '../ports/key-repository';

export interface AuthCacheOptions {
  /** How long a lookup result may be reused; 0 turns the cache off. */
  ttlMs: number;
  /** Bound on cached results (positive and negative together). */
  maxEntries: number;
  /**
   * Whether cached results may be used right now (the revocation feed is being read). When it
   * says no, every lookup goes to storage; results are still cached for when trust returns.
   */
  trusted?: () => boolean;
}

/**
 * Resolves a secret hash to the identity of an active key.
 *
 * Storage sees at most one point read per hash per TTL on this instance: results (including
 * "no such key") are cached in a bounded LRU, and concurrent misses for one hash share one
 * read. Caching a miss is safe because a secret is 256 random bits: nobody presents a key
 * before it exists, and a revoked key never becomes valid again. Revocation on this instance
 * evicts at once ({@link evict}); other instances evict when they read the revocation feed,
 * and stop trusting their cache altogether when they cannot read it.
 */
export class KeyAuthenticator {
  private readonly cache: BoundedCache<string, KeyLookupEntry | null> | undefined;
  private readonly inFlight = new Map<string, Promise<KeyLookupEntry | undefined>>();
  private evictions = 0;
  private readonly trusted: () => boolean;

  constructor(
    private readonly keys: Pick<KeyRepository, 'findByHash'>,
    clock: Clock,
    options: AuthCacheOptions,
  ) {
    this.cache =
      options.ttlMs > 0 ? new BoundedCache(options.maxEntries, options.ttlMs, () => clock.now().getTime()) : undefined;
    this.trusted = options.trusted ?? (() => true);
  }

  /**
   * The cached answer for a hash, without waiting: an identity, `null` for a known miss, or
   * `undefined` when only storage can tell (then call {@link authenticate}).
   */
  cached(secretHash: string): KeyIdentity | null | undefined {
    const cached = this.trusted() ? this.cache?.get(secretHash) : undefined;
    if (cached === undefined) return undefined;
    return cached === null ? null : toIdentity(cached);
  }

  /** The identity of the active key with this hash, or `undefined`. Storage outages throw. */
  async authenticate(secretHash: string): Promise<KeyIdentity | undefined> {
    const cached = this.cached(secretHash);
    if (cached !== undefined) return cached ?? undefined;

    let pending = this.inFlight.get(secretHash);
    if (!pending) {
      const epoch = this.evictions;
      const read = this.keys.findByHash(secretHash);
      pending = read;
      this.inFlight.set(secretHash, read);
      read.then(
        (entry) => {
          if (this.inFlight.get(secretHash) === read) this.inFlight.delete(secretHash);
          // A revocation that happened while this read was in flight may have been missed by
          // it: do not cache a result that could predate the revocation.
          if (epoch === this.evictions) this.cache?.set(secretHash, entry ?? null);
        },
        () => {
          if (this.inFlight.get(secretHash) === read) this.inFlight.delete(secretHash);
        },
      );
    }
    const entry = await pending;
    return entry ? toIdentity(entry) : undefined;
  }

  /** Forgets a hash at once (called when this instance revokes the key). */
  evict(secretHash: string): void {
    this.evictions += 1;
    this.cache?.delete(secretHash);
    this.inFlight.delete(secretHash);
  }

  /** Entries currently cached (for the memory figure in the benchmark). */
  get cachedEntries(): number {
    return this.cache?.size ?? 0;
  }
}

function toIdentity(entry: KeyLookupEntry): KeyIdentity {
  return {
    customerId: entry.customerId,
    customerSlug: entry.customerSlug,
    plan: entry.plan,
    keyId: entry.keyId,
    keyLabel: entry.keyLabel,
    application: entry.application,
    environment: entry.environment,
    keyType: entry.keyType,
    tenantKey: entry.tenantKey ? { ...entry.tenantKey } : undefined,
    ...(entry.rateLimit ? { rateLimit: { ...entry.rateLimit } } : {}),
  };
}
