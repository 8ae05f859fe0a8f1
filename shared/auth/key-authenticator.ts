import { BoundedCache } from '../cache/bounded-cache';
import type { Clock } from '../clock';
import type { DoorIdentity } from '../domain';
import { IpAllowlist } from '../keys/ip-allowlist';
import type { KeyLookupEntry, KeyRepository } from '../ports/key-repository';
import { FEED_RETENTION_MS } from '../ports/revocation-feed';

/** Revoked hashes remembered (what a day of revocations needs, many times over). */
const REVOKED_ENTRIES = 100_000;

export interface AuthCacheOptions {
  /** How long a lookup result may be reused; 0 turns the cache off. */
  ttlMs: number;
  /** Bound on cached identities of active keys; unknown hashes are cached apart, in a tenth of it. */
  maxEntries: number;
  /**
   * Whether cached results may be used at `now` (the clock's milliseconds: the revocation feed is
   * being read). When it says no, every lookup goes to storage; results are still cached for when
   * trust returns.
   */
  trusted?: (now: number) => boolean;
}

/**
 * Resolves a secret hash to the identity of an active key.
 *
 * Storage sees at most one point read per hash per TTL on this instance: identities are cached
 * in a bounded LRU, "no such key" in a smaller one of its own (so a flood of made-up secrets
 * cannot push real keys out), and concurrent misses for one hash share one read. Caching a miss
 * is safe because a secret is 256 random bits: nobody presents a key before it exists, and a
 * revoked key never becomes valid again. A revoked hash ({@link revoke}, here or through the
 * revocation feed) is refused from then on without a read, even while its lookup row still
 * exists (a revocation a crash cut short). Instances stop trusting their caches altogether when
 * they cannot read the feed.
 */
export class KeyAuthenticator {
  /** Identities, built once when read and frozen: a hit hands out the same object, copying nothing. */
  private readonly cache: BoundedCache<string, DoorIdentity> | undefined;
  private readonly misses: BoundedCache<string, true> | undefined;
  /** Revoked hashes, with the customer whose key it was ('' when not known). */
  private readonly revoked: BoundedCache<string, string>;
  private readonly inFlight = new Map<string, Promise<DoorIdentity | undefined>>();
  private evictions = 0;
  private readonly trusted: (now: number) => boolean;
  private readonly now: () => number;

  constructor(
    private readonly keys: Pick<KeyRepository, 'findByHash'>,
    clock: Clock,
    options: AuthCacheOptions,
  ) {
    const now = (this.now = () => clock.millis());
    this.cache = options.ttlMs > 0 ? new BoundedCache(options.maxEntries, options.ttlMs, now) : undefined;
    this.misses = options.ttlMs > 0 ? new BoundedCache(Math.max(1, Math.ceil(options.maxEntries / 10)), options.ttlMs, now) : undefined;
    this.revoked = new BoundedCache(REVOKED_ENTRIES, FEED_RETENTION_MS, now);
    this.trusted = options.trusted ?? (() => true);
  }

  /**
   * The cached answer for a hash, without waiting: an identity, `null` for a known miss, or
   * `undefined` when only storage can tell (then call {@link authenticate}). `now`: the clock's
   * time, when the caller has already read it for this request.
   */
  cached(secretHash: string, now = this.now()): DoorIdentity | null | undefined {
    if (this.revoked.get(secretHash, now) !== undefined) return null;
    if (!this.trusted(now)) return undefined;
    const cached = this.cache?.get(secretHash, now);
    if (cached !== undefined) return cached;
    return this.misses?.get(secretHash, now) ? null : undefined;
  }

  /** The identity of the active key with this hash, or `undefined`. Storage outages throw. */
  async authenticate(secretHash: string): Promise<DoorIdentity | undefined> {
    const cached = this.cached(secretHash);
    if (cached !== undefined) return cached ?? undefined;

    let pending = this.inFlight.get(secretHash);
    if (!pending) {
      const epoch = this.evictions;
      const read = this.keys.findByHash(secretHash).then((entry) => (entry ? toIdentity(entry) : undefined));
      pending = read;
      this.inFlight.set(secretHash, read);
      read.then(
        (entry) => {
          if (this.inFlight.get(secretHash) === read) this.inFlight.delete(secretHash);
          // A revocation that happened while this read was in flight may have been missed by
          // it: do not cache a result that could predate the revocation.
          if (epoch !== this.evictions) return;
          if (entry) this.cache?.set(secretHash, entry);
          else this.misses?.set(secretHash, true);
        },
        () => {
          if (this.inFlight.get(secretHash) === read) this.inFlight.delete(secretHash);
        },
      );
    }
    const identity = await pending;
    // Revoked while the read was in flight: refused, whatever the row said.
    return identity && this.revoked.get(secretHash) === undefined ? identity : undefined;
  }

  /** Forgets a hash at once: its key changed (plan, limits, component state), read it again. */
  evict(secretHash: string): void {
    this.evictions += 1;
    this.cache?.delete(secretHash);
    this.misses?.delete(secretHash);
    this.inFlight.delete(secretHash);
  }

  /** Refuses a hash from now on: its key was revoked (here, or elsewhere as the feed says). */
  revoke(secretHash: string, customerSlug = ''): void {
    this.revoked.set(secretHash, customerSlug);
    this.evict(secretHash);
  }

  /** The customer of a key this instance knows as revoked (for the refusal's metrics), if any. */
  revokedCustomer(secretHash: string): string | undefined {
    return this.revoked.get(secretHash) || undefined;
  }

  /** Entries currently cached, identities and misses (for the memory figure in the benchmark). */
  get cachedEntries(): number {
    return (this.cache?.size ?? 0) + (this.misses?.size ?? 0);
  }
}

function toIdentity(entry: KeyLookupEntry): DoorIdentity {
  const identity: DoorIdentity = {
    customerId: entry.customerId,
    customerSlug: entry.customerSlug,
    plan: entry.plan,
    keyId: entry.keyId,
    keyLabel: entry.keyLabel,
    application: entry.application,
    environment: entry.environment,
    keyType: entry.keyType,
    masterComponent: Object.freeze({ ...entry.masterComponent }),
    ...(entry.rateLimit ? { rateLimit: Object.freeze({ ...entry.rateLimit }) } : {}),
    // Compiled here, once per read: the door compares a number and asks a compiled list.
    ...(entry.expiresAt ? { expiresAt: entry.expiresAt, expiresAtMs: Date.parse(entry.expiresAt) } : {}),
    ...(entry.allowedIps?.length ? { allowedIps: Object.freeze([...entry.allowedIps]), allowlist: new IpAllowlist(entry.allowedIps) } : {}),
    ...(entry.rolloutWatch ? { rolloutWatch: Object.freeze({ ...entry.rolloutWatch }) } : {}),
  };
  return Object.freeze(identity);
}
