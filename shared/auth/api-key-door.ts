import type { Clock } from '../clock';
import type { DoorIdentity, KeyIdentity } from '../domain';
import { SECRET_LENGTH, hashSecret, isValidComponent, parsePresentedKey, splitPresentedKey, type PresentedKey } from '../keys/compound-key';
import { FEDERATED_TOKEN_PREFIX, parseFederatedToken, splitFederatedToken } from '../keys/federated-token';
import type { FailedAuthThrottle } from './failed-auth-throttle';
import type { KeyAuthenticator } from './key-authenticator';
import type { ComponentCheck } from './component-check';

/**
 * How a request is authenticated with an API key, in one place. The door takes what the
 * request presented (read from its headers by the middleware) and returns a verdict:
 *
 * 1. no key -> `api_key_missing`; a key that breaks the grammar -> `api_key_malformed`, no read;
 * 2. the secret's SHA-256 -> the identity of an active key, from the cache or one point read
 *    (unknown, revoked, or a compound key naming another customer -> `api_key_invalid`); the
 *    reads of an address that keeps failing wait their turn, one at a time (never refused: a
 *    real key from that address is read and served, shared/auth/failed-auth-throttle.ts);
 * 3. a key past its expiry -> `api_key_expired`, decided from the identity (cached or read), to
 *    the second and on every instance, whatever the expiry timer has done;
 * 4. a presented component must be the customer's current one, or the previous one in grace
 *    (`component_invalid`); a customer may require one (`component_required`). After a mismatch
 *    the key is read once more, at most once a minute per customer: the cached state may
 *    predate a rotation;
 * 5. a key with an IP allowlist, from an address outside it -> `ip_not_allowed` (after all of the
 *    above, so it tells nothing to a caller without the key; the verdict carries the identity so
 *    the refusal is counted in the key's usage).
 *
 * A federated access token (`vp_fed_{slug}.{secret}`, minted by the token exchange under a trust
 * policy) takes the same door and the same read of its secret's hash, with steps 1 to 3 alone: no
 * component is presented or required (x-functions-key is not read; the customer's
 * `requireComponent` does not apply) and it has no allowlist. A key's secret never passes for a
 * token's, nor the reverse: each fails the other's checksum, and a cached identity proves only a
 * secret presented in its own form.
 *
 * A warm key or token (identity and component values in memory) is decided synchronously, with no
 * I/O. Outages are thrown (DependencyUnavailableError), never turned into a verdict.
 */

export interface PresentedCredentials {
  /** `X-API-Key`: the secret segment or the whole compound key. */
  apiKey: string | undefined;
  /** The token of `Authorization: Bearer` (a compound key or a federated token, or anything else). */
  bearerKey: string | undefined;
  /** `x-functions-key`: the component, sent apart by the SDKs. */
  component: string | undefined;
  /**
   * The client's address (IP allowlists, the failed-authentication throttle), read only when
   * needed: it may be a getter that reads it from the request then.
   */
  readonly address: string | undefined;
}

export type DoorFailure =
  | 'api_key_missing'
  | 'api_key_malformed'
  | 'api_key_invalid'
  | 'api_key_expired'
  | 'component_invalid'
  | 'component_required'
  | 'ip_not_allowed';

export type DoorVerdict =
  | { ok: true; identity: KeyIdentity }
  | {
      ok: false;
      code: DoorFailure;
      /** The key's identity, when the key was good but refused (its address). */
      identity?: KeyIdentity;
      /** The customer of a revoked key presented again (a fleet still using it): for the metrics. */
      revokedCustomer?: string;
      /** Set when what was refused is a federated token (its answer names a token, not a key). */
      credential?: 'federated';
    };

const failure = (code: DoorFailure): DoorVerdict => ({ ok: false, code });

export interface ApiKeyDoorDeps {
  authenticator: KeyAuthenticator;
  components: ComponentCheck;
  failedAuth: FailedAuthThrottle;
  clock: Clock;
}

export class ApiKeyDoor {
  constructor(private readonly deps: ApiKeyDoorDeps) {}

  /** The verdict on what a request presented; a promise only when storage or Key Vault must answer. */
  check(credentials: PresentedCredentials): DoorVerdict | Promise<DoorVerdict> {
    const input = credentials.apiKey ?? credentials.bearerKey;
    if (input === undefined) return failure('api_key_missing');
    // A token is longer than a bare secret (which could, by chance, start with the prefix).
    if (input.length > SECRET_LENGTH && input.startsWith(FEDERATED_TOKEN_PREFIX)) return this.checkToken(input, credentials);
    const allowBareSecret = credentials.apiKey !== undefined;
    // One clock reading for the whole decision (cache entries' lifetimes, the key's expiry).
    const now = this.deps.clock.millis();
    // A warm key first: its secret, split off by structure alone, hashed and found in the cache.
    // A hash that names a cached identity proves the secret's grammar and checksum (a secret is
    // read only after it parsed in full), so such a key is not parsed again. Anything else is
    // parsed in full, as it always was, before its hash decides anything.
    const split = splitPresentedKey(input, allowBareSecret);
    const splitHash = split && hashSecret(split.secret);
    const splitKnown = splitHash === undefined ? undefined : this.deps.authenticator.cached(splitHash, now);
    let presented: PresentedKey;
    let secretHash: string;
    let known: DoorIdentity | null | undefined;
    if (split !== undefined && splitHash !== undefined && splitKnown && provenByIdentity(split, splitKnown)) {
      presented = split;
      secretHash = splitHash;
      known = splitKnown;
    } else {
      const parsed = parsePresentedKey(input, allowBareSecret);
      if (!parsed.ok) return failure('api_key_malformed');
      presented = parsed.value;
      // The same secret as split (the usual case): its hash and lookup stand.
      const same = splitHash !== undefined && presented.secret === split?.secret;
      secretHash = same ? splitHash : hashSecret(presented.secret);
      known = same ? splitKnown : this.deps.authenticator.cached(secretHash, now);
    }
    const component = presentedComponent(presented, credentials.component);
    if (component === false) return failure('component_invalid');
    if (known !== undefined) {
      const quick = this.decide(known, secretHash, presented, component, credentials, now);
      if (quick !== undefined) return quick;
    }
    return this.checkSlowly(secretHash, known, presented, component, credentials);
  }

  /** A verdict from memory for a known lookup result; `undefined` when the component needs a read. */
  private decide(
    identity: DoorIdentity | null,
    secretHash: string,
    presented: PresentedKey,
    component: string | undefined,
    credentials: PresentedCredentials,
    now: number,
  ): DoorVerdict | undefined {
    if (!identity || identity.keyType === 'federated' || (presented.form === 'compound' && presented.slug !== identity.customerSlug)) {
      this.deps.failedAuth.recordFailure(credentials.address);
      return this.invalid(secretHash);
    }
    if (this.expired(identity, now)) return failure('api_key_expired');
    const verdict = this.deps.components.verifyCached(identity, component, now);
    if (verdict === undefined || verdict === 'mismatch') return undefined; // a read, or the bounded refresh, decides
    return verdict === 'required' ? failure('component_required') : this.fromAllowedAddress(identity, credentials);
  }

  /**
   * A federated token: its secret's hash, the cached or stored identity (a token's, of the
   * customer its slug names), its expiry. A warm token is proven by its cached identity as a warm
   * key is; anything else is parsed in full first.
   */
  private checkToken(input: string, credentials: PresentedCredentials): DoorVerdict | Promise<DoorVerdict> {
    const split = splitFederatedToken(input);
    if (split === undefined) return failure('api_key_malformed');
    const now = this.deps.clock.millis();
    const secretHash = hashSecret(split.secret);
    const known = this.deps.authenticator.cached(secretHash, now);
    const proven = known ? isTokenOf(known, split.slug) : false;
    if (!proven && !parseFederatedToken(input).ok) return failure('api_key_malformed');
    if (known === undefined) return this.checkTokenSlowly(secretHash, split.slug, credentials);
    if (!known || !proven) {
      this.deps.failedAuth.recordFailure(credentials.address);
      return this.invalid(secretHash);
    }
    return this.tokenVerdict(known, now);
  }

  private async checkTokenSlowly(secretHash: string, slug: string, credentials: PresentedCredentials): Promise<DoorVerdict> {
    const { authenticator, failedAuth } = this.deps;
    const belongs = (found: DoorIdentity | undefined): found is DoorIdentity => found !== undefined && isTokenOf(found, slug);
    const found = await failedAuth.lookup(credentials.address, secretHash, () => authenticator.authenticate(secretHash), belongs);
    if (!belongs(found)) return this.invalid(secretHash);
    return this.tokenVerdict(found, this.deps.clock.millis());
  }

  /** A token's identity admits it until its expiry (it has no component and no allowlist). */
  private tokenVerdict(identity: DoorIdentity, now: number): DoorVerdict {
    return this.expired(identity, now) ? { ok: false, code: 'api_key_expired', credential: 'federated' } : { ok: true, identity };
  }

  /** `api_key_invalid`, naming the customer when the key is one this instance knows as revoked. */
  private invalid(secretHash: string): DoorVerdict {
    const customer = this.deps.authenticator.revokedCustomer(secretHash);
    return customer ? { ok: false, code: 'api_key_invalid', revokedCustomer: customer } : failure('api_key_invalid');
  }

  private expired(identity: DoorIdentity, now = this.deps.clock.millis()): boolean {
    return identity.expiresAtMs !== undefined && now >= identity.expiresAtMs;
  }

  /** The last step: a key with an allowlist is good only from an address on it (the only time a warm key's address is read). */
  private fromAllowedAddress(identity: DoorIdentity, credentials: PresentedCredentials): DoorVerdict {
    if (identity.allowlist && !identity.allowlist.allows(credentials.address)) return { ok: false, code: 'ip_not_allowed', identity };
    return { ok: true, identity };
  }

  private async checkSlowly(
    secretHash: string,
    known: DoorIdentity | null | undefined,
    presented: PresentedKey,
    component: string | undefined,
    credentials: PresentedCredentials,
  ): Promise<DoorVerdict> {
    const { authenticator, components, failedAuth } = this.deps;
    const belongs = (found: DoorIdentity | undefined): found is DoorIdentity =>
      found !== undefined && found.keyType !== 'federated' && (presented.form !== 'compound' || presented.slug === found.customerSlug);
    // A known identity got here having passed `decide`'s checks; an unknown one is read (the
    // throttle counts the read's failure).
    const found =
      known ?? (await failedAuth.lookup(credentials.address, secretHash, () => authenticator.authenticate(secretHash), belongs));
    if (!belongs(found)) return this.invalid(secretHash);
    let identity: DoorIdentity | undefined = found;
    if (this.expired(identity)) return failure('api_key_expired');
    let verdict = await components.verify(identity, component);
    if (verdict === 'mismatch' && components.mayRefreshAfterMismatch(identity.customerSlug)) {
      // The cached state may predate a rotation: read the key once more, then decide.
      authenticator.evict(secretHash);
      identity = await authenticator.authenticate(secretHash);
      if (!identity) return failure('api_key_invalid');
      verdict = await components.verify(identity, component);
    }
    if (verdict === 'mismatch') return failure('component_invalid');
    if (verdict === 'required') return failure('component_required');
    return this.fromAllowedAddress(identity, credentials);
  }
}

/**
 * Whether a presented key split by structure alone is proven well formed by the cached identity
 * its secret's hash named: the secret is (it parsed in full before it was read), if the identity
 * is a key's (a token's secret presented as a key's is not: only the full parse, whose checksum
 * it fails, decides it); a compound key's slug must be that identity's customer's, and its
 * component must be well formed (a malformed one is `api_key_malformed`, which only the full
 * parse tells).
 */
function provenByIdentity(split: PresentedKey, identity: DoorIdentity): boolean {
  if (identity.keyType === 'federated') return false;
  return split.form === 'secret' || (split.slug === identity.customerSlug && isValidComponent(split.component));
}

/** Whether an identity is a federated token's, of the customer a presented token's slug names. */
function isTokenOf(identity: DoorIdentity, slug: string): boolean {
  return identity.keyType === 'federated' && identity.customerSlug === slug;
}

/** The component a request presents: the whole key's middle segment, or `x-functions-key`; `false` when the two disagree. */
function presentedComponent(presented: PresentedKey, header: string | undefined): string | undefined | false {
  if (presented.form !== 'compound') return header;
  if (header !== undefined && header !== presented.component) return false;
  return presented.component;
}
