import { importJWK, type CryptoKey, type JWK } from 'jose';
import { z } from 'zod';
import { BoundedCache } from '../cache/bounded-cache';
import type { Clock } from '../clock';
import { describeError, type Logger } from '../logging';
import { DocumentFetchError, type PublicDocumentFetch } from '../ports/public-documents';
import { isLoopbackHost, issuerModeProblem, issuerShapeProblem } from './issuer';

/** The signature algorithms a subject token may use: asymmetric only, as the issuer's key says. */
export const SIGNATURE_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];

export const isSignatureAlgorithm = (alg: unknown): alg is SignatureAlgorithm =>
  typeof alg === 'string' && (SIGNATURE_ALGORITHMS as readonly string[]).includes(alg);

/** The bounds of reading and keeping issuers' keys. */
export interface IssuerKeyBounds {
  /** An issuer is read again (for a key id its set lacks, or after a failed read) at most this often. */
  refreshCooldownMs: number;
  /** Keys (and the discovery document) read longer ago than this are read again on their next use. */
  maxKeyAgeMs: number;
  /** Keys whose re-read fails stay usable until this long after they were read (an issuer's short outage); never longer. */
  staleKeyLimitMs: number;
  /** One read (discovery or key set), connection to last byte. */
  fetchTimeoutMs: number;
  /** A discovery document or key set larger than this is refused unread past it. */
  maxDocumentBytes: number;
  /** Issuers whose keys are held at once (least recently used go first). */
  maxIssuers: number;
  /** Keys held per issuer: the first usable ones of its set. */
  maxKeysPerIssuer: number;
}

export const DEFAULT_ISSUER_KEY_BOUNDS: IssuerKeyBounds = {
  refreshCooldownMs: 60_000,
  maxKeyAgeMs: 10 * 60_000,
  staleKeyLimitMs: 60 * 60_000,
  fetchTimeoutMs: 5_000,
  maxDocumentBytes: 64 * 1024,
  maxIssuers: 1_000,
  maxKeysPerIssuer: 32,
};

/** The key a token names, or why there is none to check it with. */
export type KeyLookup =
  | { status: 'found'; key: CryptoKey; keyId?: string }
  /** The set holds no key of this id (or, without an id, no single key for the algorithm). */
  | { status: 'unknown_key'; detail: string }
  /** The key of this id is not one the algorithm may use (type, curve, or its own `alg`). */
  | { status: 'key_mismatch'; detail: string }
  /** The issuer's keys could not be read (discovery or key set: unreachable, failing, malformed). */
  | { status: 'unavailable'; detail: string }
  /**
   * The issuer, or its key set, is at an address we never read: http outside local mode, or a host
   * that resolves to an address that is not public (the outbound guard's rules). Nothing was sent.
   */
  | { status: 'refused'; detail: string };

interface HeldKey {
  jwk: JWK;
  kid: string | undefined;
  imported: Map<SignatureAlgorithm, Promise<CryptoKey>>;
}

interface IssuerState {
  jwksUri?: string;
  discoveredAt?: number;
  keys: HeldKey[];
  /** When the key set was last read successfully. */
  loadedAt?: number;
  /** When a read was last started (the cooldown counts from here, success or not). */
  attemptedAt?: number;
  lastFailure?: string;
  /** The last read failed because an address was refused (not read at all), not because it failed. */
  lastRefused?: boolean;
  refreshing?: Promise<void>;
}

const discoveryDocument = z.object({ issuer: z.string().max(512), jwks_uri: z.string().max(2048) });
/** A set larger than this many entries is not looked through (the byte bound already holds it near). */
const MAX_SET_ENTRIES = 200;
const keySetDocument = z.object({ keys: z.array(z.unknown()).max(MAX_SET_ENTRIES) });

/** An address the issuer's documents name that is not read by our rules (told apart from a read that failed). */
class AddressRefused extends Error {}

/** OpenID Connect Discovery 1.0 §4: the issuer, without a terminating `/`, then the well-known path. */
export const discoveryUrl = (issuer: string): string => `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;

/**
 * What keeps an address we are told to read (a `jwks_uri`) from being read: https, or http on a
 * loopback host in local mode; no credentials, no fragment.
 */
export function documentUrlProblem(address: string, localMode: boolean): string | undefined {
  if (address.length > 2048) return 'address too long';
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return 'not a URL';
  }
  if (url.username || url.password) return 'credentials in the address';
  if (url.hash) return 'a fragment in the address';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && localMode && isLoopbackHost(url.hostname)) return undefined;
  return `${url.protocol.replace(/:$/, '')} is not read (https only${localMode ? ', http for a loopback host' : ''})`;
}

/** Whether a key may verify signatures of this algorithm: its type and curve, and its own `alg` when it states one. */
export function keyFitsAlgorithm(jwk: JWK, alg: SignatureAlgorithm): boolean {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  switch (alg) {
    case 'RS256':
    case 'PS256':
      return jwk.kty === 'RSA';
    case 'ES256':
      return jwk.kty === 'EC' && jwk.crv === 'P-256';
    case 'EdDSA':
      return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  }
}

/** A public signature key of a type we verify with, or undefined (private halves, encryption keys, secrets are left out). */
function usableKey(entry: unknown): HeldKey | undefined {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return undefined;
  const jwk = entry as JWK & Record<string, unknown>;
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP') return undefined;
  if ('d' in jwk || 'p' in jwk || 'k' in jwk) return undefined;
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return undefined;
  if (jwk.kid !== undefined && (typeof jwk.kid !== 'string' || jwk.kid.length > 256)) return undefined;
  if (jwk.alg !== undefined && typeof jwk.alg !== 'string') return undefined;
  return { jwk, kid: jwk.kid, imported: new Map() };
}

/**
 * Issuers' signing keys, found by OpenID discovery (`{iss}/.well-known/openid-configuration` ->
 * `jwks_uri`, whose `issuer` must be `iss` exactly) and kept per issuer. A token naming a key id
 * the set lacks makes us read the set again, but an issuer is read at most once per cooldown
 * however many such tokens come (a flood of made-up key ids costs one read a minute), and reads
 * arriving together share one. A set older than its maximum age is read again on its next use; if
 * that read fails, the keys held stay usable up to the stale limit, then the issuer is unavailable.
 * Memory is bounded: so many issuers, so many keys each, documents of so many bytes.
 */
export class IssuerKeyCache {
  private readonly issuers: BoundedCache<string, IssuerState>;
  readonly bounds: IssuerKeyBounds;

  constructor(
    private readonly fetch: PublicDocumentFetch,
    private readonly clock: Clock,
    private readonly options: { localMode: boolean; log: Logger; bounds?: Partial<IssuerKeyBounds> },
  ) {
    this.bounds = { ...DEFAULT_ISSUER_KEY_BOUNDS, ...options.bounds };
    this.issuers = new BoundedCache(this.bounds.maxIssuers);
  }

  /** The key to verify a token of this issuer with, by the algorithm and key id its header names. */
  async keyFor(issuer: string, header: { alg: SignatureAlgorithm; kid?: string }): Promise<KeyLookup> {
    const problem = issuerShapeProblem(issuer) ?? issuerModeProblem(issuer, this.options.localMode);
    if (problem) return { status: 'refused', detail: `issuer not read: ${problem}` };
    const state = this.stateOf(issuer);
    if (state.refreshing) await state.refreshing;
    let held = select(state.keys, header);
    const now = this.clock.millis();
    const old = state.loadedAt === undefined || now - state.loadedAt >= this.bounds.maxKeyAgeMs;
    const mayRead = state.attemptedAt === undefined || now - state.attemptedAt >= this.bounds.refreshCooldownMs;
    if ((old || held.status === 'absent') && mayRead) {
      await this.refresh(issuer, state);
      held = select(state.keys, header);
    }
    if (state.loadedAt === undefined || this.clock.millis() - state.loadedAt >= this.bounds.staleKeyLimitMs) {
      return { status: state.lastRefused ? 'refused' : 'unavailable', detail: state.lastFailure ?? 'keys not read' };
    }
    switch (held.status) {
      case 'absent':
        return {
          status: 'unknown_key',
          detail: header.kid === undefined ? 'no key id, and no key for the algorithm' : 'no key of this id',
        };
      case 'ambiguous':
        return { status: 'unknown_key', detail: 'no key id, and several keys for the algorithm' };
      case 'mismatch':
        return { status: 'key_mismatch', detail: `the key of this id is not a key for ${header.alg}` };
      case 'found':
        try {
          return {
            status: 'found',
            key: await importOnce(held.key, header.alg),
            ...(held.key.kid !== undefined ? { keyId: held.key.kid } : {}),
          };
        } catch (error) {
          return {
            status: 'key_mismatch',
            detail: `the key could not be imported for ${header.alg}: ${describeError(error).message as string}`,
          };
        }
    }
  }

  private stateOf(issuer: string): IssuerState {
    let state = this.issuers.get(issuer);
    if (!state) {
      state = { keys: [] };
      this.issuers.set(issuer, state);
    }
    return state;
  }

  /** One read at a time per issuer: tokens arriving meanwhile wait for it rather than read again. */
  private refresh(issuer: string, state: IssuerState): Promise<void> {
    state.refreshing ??= this.read(issuer, state).finally(() => {
      state.refreshing = undefined;
    });
    return state.refreshing;
  }

  private async read(issuer: string, state: IssuerState): Promise<void> {
    state.attemptedAt = this.clock.millis();
    const limits = { timeoutMs: this.bounds.fetchTimeoutMs, maxBytes: this.bounds.maxDocumentBytes };
    try {
      if (
        state.jwksUri === undefined ||
        state.discoveredAt === undefined ||
        this.clock.millis() - state.discoveredAt >= this.bounds.maxKeyAgeMs
      ) {
        const discovery = discoveryDocument.safeParse(parseJson(await this.fetch.get(discoveryUrl(issuer), limits), 'discovery document'));
        if (!discovery.success) throw new Error('discovery document without issuer and jwks_uri');
        if (discovery.data.issuer !== issuer) throw new Error('discovery document names another issuer');
        const problem = documentUrlProblem(discovery.data.jwks_uri, this.options.localMode);
        if (problem) throw new AddressRefused(`jwks_uri not read: ${problem}`);
        state.jwksUri = discovery.data.jwks_uri;
        state.discoveredAt = this.clock.millis();
      }
      const set = keySetDocument.safeParse(parseJson(await this.fetch.get(state.jwksUri, limits), 'key set'));
      if (!set.success) throw new Error('key set without a keys array (or with too many entries)');
      const keys: HeldKey[] = [];
      for (const entry of set.data.keys) {
        const key = usableKey(entry);
        if (key && keys.length < this.bounds.maxKeysPerIssuer) keys.push(key);
      }
      state.keys = keys;
      state.loadedAt = this.clock.millis();
      state.lastFailure = undefined;
      state.lastRefused = undefined;
    } catch (error) {
      const refused = error instanceof AddressRefused || (error instanceof DocumentFetchError && error.kind === 'not_allowed');
      state.lastRefused = refused;
      state.lastFailure =
        error instanceof DocumentFetchError
          ? `${refused ? 'not read' : 'read failed'} (${error.kind}): ${error.message}`
          : (describeError(error).message as string);
      this.options.log.warn('identity token issuer keys could not be read', { issuer, reason: state.lastFailure });
    }
  }
}

type Selection = { status: 'found'; key: HeldKey } | { status: 'absent' } | { status: 'ambiguous' } | { status: 'mismatch' };

function select(keys: HeldKey[], header: { alg: SignatureAlgorithm; kid?: string }): Selection {
  if (header.kid === undefined) {
    const fitting = keys.filter((key) => keyFitsAlgorithm(key.jwk, header.alg));
    if (fitting.length === 1) return { status: 'found', key: fitting[0]! };
    return fitting.length === 0 ? { status: 'absent' } : { status: 'ambiguous' };
  }
  const named = keys.filter((key) => key.kid === header.kid);
  if (named.length === 0) return { status: 'absent' };
  const fitting = named.find((key) => keyFitsAlgorithm(key.jwk, header.alg));
  return fitting ? { status: 'found', key: fitting } : { status: 'mismatch' };
}

function importOnce(key: HeldKey, alg: SignatureAlgorithm): Promise<CryptoKey> {
  let imported = key.imported.get(alg);
  if (!imported) {
    imported = importJWK({ ...key.jwk, ext: false }, alg) as Promise<CryptoKey>;
    key.imported.set(alg, imported);
    // A key that fails to import is not kept failing: the next token tries again.
    imported.catch(() => key.imported.delete(alg));
  }
  return imported;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${what} is not JSON`);
  }
}
