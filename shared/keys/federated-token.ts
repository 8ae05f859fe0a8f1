import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { SECRET_BYTES, SECRET_LENGTH, SECRET_RANDOM_BYTES, isValidSecret, isValidSlug } from './compound-key';

/**
 * The federated access token: what `POST /v1/oauth/token` hands a workload for its identity token
 * (workload identity federation), accepted wherever an ingest key is, until it expires.
 *
 *   `vp_fed_{slug}.{secret}`
 *
 * - slug: the customer's slug, as in a compound key (`vp_cust_{slug}.…`).
 * - secret: 32 bytes, base64url without padding (43 characters), exactly as a key's secret: 28
 *   CSPRNG bytes and a CRC-32 of `vp_fed_` followed by those bytes. The checksum runs over the
 *   token's own prefix, so a key's secret never passes for a token's, nor a token's for a key's
 *   (each fails the other's checksum), and a scanner tells a token of ours from a lookalike
 *   offline ({@link FEDERATED_TOKEN_PATTERN}: the shape GitHub's secret scanning is given).
 *
 * A token is always presented whole (`Authorization: Bearer` or `X-API-Key`): unlike a key's, its
 * secret alone is not a credential. Only the SHA-256 of the secret is stored (shared/keys/compound-key.ts
 * `hashSecret`), in the key lookup table beside the keys', so the door decides a token with the
 * same one point read. Parsing never throws.
 */

export const FEDERATED_TOKEN_PREFIX = 'vp_fed_';
/** Longest well-formed token; anything longer is refused before any pattern runs. */
export const MAX_FEDERATED_TOKEN_LENGTH = FEDERATED_TOKEN_PREFIX.length + 32 + 1 + SECRET_LENGTH;

/** Our federated tokens, for secret scanners: the prefix, a slug, and a secret of canonical base64url. */
export const FEDERATED_TOKEN_PATTERN = /vp_fed_[a-z0-9]+(?:-[a-z0-9]+)*\.[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]/;

export interface FederatedToken {
  slug: string;
  secret: string;
}

export type FederatedTokenParseError = 'empty' | 'too_long' | 'bad_prefix' | 'bad_structure' | 'bad_slug' | 'bad_secret' | 'bad_checksum';

const PREFIX_CRC = crc32(FEDERATED_TOKEN_PREFIX);
const checksumOf = (random: Uint8Array): number => crc32(random, PREFIX_CRC);

/** Whether a well-formed secret carries the checksum of a token's secret (a key's secret does not). */
export function hasFederatedChecksum(secret: string): boolean {
  const bytes = Buffer.from(secret, 'base64url');
  return bytes.length === SECRET_BYTES && bytes.readUInt32BE(SECRET_RANDOM_BYTES) === checksumOf(bytes.subarray(0, SECRET_RANDOM_BYTES));
}

/** A token secret from 28 random bytes: the bytes and their checksum, as base64url. */
export function federatedSecretFromRandom(random: Uint8Array): string {
  if (random.length !== SECRET_RANDOM_BYTES) throw new RangeError(`a secret takes ${SECRET_RANDOM_BYTES} random bytes`);
  const bytes = Buffer.alloc(SECRET_BYTES);
  bytes.set(random);
  bytes.writeUInt32BE(checksumOf(random), SECRET_RANDOM_BYTES);
  return bytes.toString('base64url');
}

/** A fresh token secret: 28 CSPRNG bytes and their checksum. */
export function generateFederatedSecret(): string {
  return federatedSecretFromRandom(randomBytes(SECRET_RANDOM_BYTES));
}

export function formatFederatedToken(token: FederatedToken): string {
  return `${FEDERATED_TOKEN_PREFIX}${token.slug}.${token.secret}`;
}

/** Parses a whole token with the strict grammar (prefix, slug, secret, checksum). */
export function parseFederatedToken(input: unknown): { ok: true; value: FederatedToken } | { ok: false; reason: FederatedTokenParseError } {
  if (typeof input !== 'string' || input.length === 0) return { ok: false, reason: 'empty' };
  if (input.length > MAX_FEDERATED_TOKEN_LENGTH) return { ok: false, reason: 'too_long' };
  if (!input.startsWith(FEDERATED_TOKEN_PREFIX)) return { ok: false, reason: 'bad_prefix' };
  const parts = input.slice(FEDERATED_TOKEN_PREFIX.length).split('.');
  if (parts.length !== 2) return { ok: false, reason: 'bad_structure' };
  const [slug, secret] = parts as [string, string];
  if (!isValidSlug(slug)) return { ok: false, reason: 'bad_slug' };
  if (!isValidSecret(secret)) return { ok: false, reason: 'bad_secret' };
  if (!hasFederatedChecksum(secret)) return { ok: false, reason: 'bad_checksum' };
  return { ok: true, value: { slug, secret } };
}

/**
 * A presented token split by structure alone (the prefix, one dot, a secret of the secret's
 * length), without the grammar or the checksum; `undefined` when the structure is not there. As
 * for keys (`splitPresentedKey`), the door hashes this secret first: a hash that names a cached
 * token's identity of the same customer proves the token (its secret was read only after it
 * parsed in full), so a warm token skips the regular expressions and the checksum.
 */
export function splitFederatedToken(input: string): FederatedToken | undefined {
  if (input.length > MAX_FEDERATED_TOKEN_LENGTH || !input.startsWith(FEDERATED_TOKEN_PREFIX)) return undefined;
  const dot = input.indexOf('.', FEDERATED_TOKEN_PREFIX.length);
  if (dot < 0 || input.length - dot - 1 !== SECRET_LENGTH) return undefined;
  return { slug: input.slice(FEDERATED_TOKEN_PREFIX.length, dot), secret: input.slice(dot + 1) };
}
