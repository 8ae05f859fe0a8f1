import { hash, randomBytes, randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * The compound API key: `vp_cust_{slug}.{component}.{secret}`.
 *
 * - slug: the customer's slug (2 to 32 characters: lower-case letters and digits, single inner hyphens).
 * - component: the customer's master component, 32 characters from [A-Za-z0-9].
 * - secret: 32 bytes, base64url without padding (43 characters, canonical): 28 bytes from a
 *   CSPRNG (224 bits) and a CRC-32 of `vp_cust_` followed by those 28 bytes (4 bytes, big
 *   endian), so a scanner (GitHub's secret scanning, the SDKs, the door) tells a key of ours, or
 *   a mistyped one, without calling anyone. {@link KEY_PATTERN} matches the shape.
 *
 * This module is the only place that knows the grammar. Parsing never throws: bad input
 * comes back as a typed {@link KeyParseError}, so the middleware can answer 401 without a
 * storage call and without echoing the input.
 */

export const KEY_PREFIX = 'vp_cust_';
export const SLUG_MIN_LENGTH = 2;
export const SLUG_MAX_LENGTH = 32;
export const COMPONENT_LENGTH = 32;
export const SECRET_BYTES = 32;
/** Random bytes in a secret; the rest is its checksum. */
export const SECRET_RANDOM_BYTES = 28;
export const SECRET_LENGTH = 43;
/** Longest well-formed compound key; anything longer is rejected before any pattern runs. */
export const MAX_KEY_LENGTH = KEY_PREFIX.length + SLUG_MAX_LENGTH + 1 + COMPONENT_LENGTH + 1 + SECRET_LENGTH;

/** Lower-case letters and digits, with single hyphens inside (the length is checked apart). */
export const SLUG_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const COMPONENT_PATTERN = /^[A-Za-z0-9]{32}$/;
const SECRET_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
const COMPONENT_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export interface CompoundKey {
  slug: string;
  component: string;
  secret: string;
}

/** What a client presented: a whole compound key, or the secret segment alone. */
export type PresentedKey = ({ form: 'compound' } & CompoundKey) | { form: 'secret'; secret: string };

export type KeyParseErrorReason =
  'empty' | 'too_long' | 'bad_prefix' | 'bad_structure' | 'bad_slug' | 'bad_component' | 'bad_secret' | 'bad_checksum';

export interface KeyParseError {
  reason: KeyParseErrorReason;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: KeyParseError };

const fail = <T>(reason: KeyParseErrorReason): ParseResult<T> => ({ ok: false, error: { reason } });

export function isValidSlug(slug: string): boolean {
  return slug.length >= SLUG_MIN_LENGTH && slug.length <= SLUG_MAX_LENGTH && SLUG_PATTERN.test(slug);
}

export function isValidComponent(component: string): boolean {
  return COMPONENT_PATTERN.test(component);
}

/** A secret segment is canonical base64url of exactly 32 bytes (the last character carries 2 padding bits). */
export function isValidSecret(secret: string): boolean {
  return SECRET_PATTERN.test(secret);
}

/** The CRC-32 a secret's random bytes must carry: over the key prefix, then the bytes. */
const PREFIX_CRC = crc32(KEY_PREFIX);
const checksumOf = (random: Uint8Array): number => crc32(random, PREFIX_CRC);

/** Whether a well-formed secret segment carries its checksum (a mistyped or made-up one does not). */
export function hasValidChecksum(secret: string): boolean {
  const bytes = Buffer.from(secret, 'base64url');
  return bytes.length === SECRET_BYTES && bytes.readUInt32BE(SECRET_RANDOM_BYTES) === checksumOf(bytes.subarray(0, SECRET_RANDOM_BYTES));
}

/**
 * Our keys, for secret scanners: the prefix, a slug, the component, and a secret whose last
 * character is canonical base64url. Only the checksum tells a real key from a lookalike of
 * this shape ({@link hasValidChecksum}).
 */
export const KEY_PATTERN = /vp_cust_[a-z0-9]+(?:-[a-z0-9]+)*\.[A-Za-z0-9]{32}\.[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]/;

/** The checksum of a secret's random part, as the secret's last 4 bytes. */
export function secretFromRandom(random: Uint8Array): string {
  if (random.length !== SECRET_RANDOM_BYTES) throw new RangeError(`a secret takes ${SECRET_RANDOM_BYTES} random bytes`);
  const bytes = Buffer.alloc(SECRET_BYTES);
  bytes.set(random);
  bytes.writeUInt32BE(checksumOf(random), SECRET_RANDOM_BYTES);
  return bytes.toString('base64url');
}

/** Parses a whole compound key. */
export function parseCompoundKey(input: unknown): ParseResult<CompoundKey> {
  if (typeof input !== 'string' || input.length === 0) return fail('empty');
  if (input.length > MAX_KEY_LENGTH) return fail('too_long');
  if (!input.startsWith(KEY_PREFIX)) return fail('bad_prefix');
  const parts = input.slice(KEY_PREFIX.length).split('.');
  if (parts.length !== 3) return fail('bad_structure');
  const [slug, component, secret] = parts as [string, string, string];
  if (!isValidSlug(slug)) return fail('bad_slug');
  if (!isValidComponent(component)) return fail('bad_component');
  if (!isValidSecret(secret)) return fail('bad_secret');
  if (!hasValidChecksum(secret)) return fail('bad_checksum');
  return { ok: true, value: { slug, component, secret } };
}

/**
 * Parses what a client sent as its key: a compound key, or (in `X-API-Key` only) the
 * secret segment on its own, as the SDK sends it.
 */
export function parsePresentedKey(input: unknown, allowBareSecret: boolean): ParseResult<PresentedKey> {
  if (typeof input !== 'string' || input.length === 0) return fail('empty');
  if (input.length > MAX_KEY_LENGTH) return fail('too_long');
  if (allowBareSecret && !input.startsWith(KEY_PREFIX)) {
    if (!isValidSecret(input)) return fail('bad_secret');
    return hasValidChecksum(input) ? { ok: true, value: { form: 'secret', secret: input } } : fail('bad_checksum');
  }
  const parsed = parseCompoundKey(input);
  return parsed.ok ? { ok: true, value: { form: 'compound', ...parsed.value } } : parsed;
}

/**
 * What a client presented, split by structure alone, as {@link parsePresentedKey} would split it
 * (the prefix, three segments, a secret of the secret's length), without checking the segments'
 * grammar or the checksum; `undefined` when the structure is not there. The door hashes the secret
 * of this and looks the hash up first: a hash that names a cached identity proves the secret (one
 * that was read for a key is one that parsed in full, and SHA-256 has no known collisions), so a
 * warm key skips the regular expressions and the checksum. Anything else is parsed in full.
 */
export function splitPresentedKey(input: string, allowBareSecret: boolean): PresentedKey | undefined {
  if (input.length > MAX_KEY_LENGTH) return undefined;
  if (!input.startsWith(KEY_PREFIX)) {
    return allowBareSecret && input.length === SECRET_LENGTH ? { form: 'secret', secret: input } : undefined;
  }
  const first = input.indexOf('.', KEY_PREFIX.length);
  const second = first < 0 ? -1 : input.indexOf('.', first + 1);
  if (second < 0 || input.length - second - 1 !== SECRET_LENGTH || input.includes('.', second + 1)) return undefined;
  return {
    form: 'compound',
    slug: input.slice(KEY_PREFIX.length, first),
    component: input.slice(first + 1, second),
    secret: input.slice(second + 1),
  };
}

export function formatCompoundKey(key: CompoundKey): string {
  return `${KEY_PREFIX}${key.slug}.${key.component}.${key.secret}`;
}

/** A fresh secret segment: 28 CSPRNG bytes and their checksum, as base64url without padding. */
export function generateSecret(): string {
  return secretFromRandom(randomBytes(SECRET_RANDOM_BYTES));
}

/** A fresh master component: 32 characters drawn uniformly from [A-Za-z0-9] by a CSPRNG. */
export function generateComponent(): string {
  let out = '';
  for (let i = 0; i < COMPONENT_LENGTH; i++) out += COMPONENT_ALPHABET[randomInt(COMPONENT_ALPHABET.length)];
  return out;
}

/** SHA-256 of the secret segment (its text), hex. The only form of a secret we store. */
export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/**
 * The display form stored and listed for a key: prefix and slug, then the first and last
 * four characters of the secret, e.g. `vp_cust_acme.…3xQr…T4wK`. The component never shows.
 */
export function displayForm(slug: string, secret: string): string {
  return `${KEY_PREFIX}${slug}.…${secret.slice(0, 4)}…${secret.slice(-4)}`;
}
