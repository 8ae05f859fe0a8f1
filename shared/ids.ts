import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A time-ordered identifier (`{prefix}_{26 characters}`): 48 bits of milliseconds then 80
 * random bits, in Crockford base32. Ids sort by creation time, so a partition of keys lists
 * oldest first without an index. Ids are identifiers, not secrets.
 */
export function newId(prefix: string, now: Date = new Date()): string {
  let time = now.getTime();
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = CROCKFORD[time % 32] + head;
    time = Math.floor(time / 32);
  }
  const random = randomBytes(10);
  let tail = '';
  let bits = 0;
  let acc = 0;
  for (const byte of random) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      tail += CROCKFORD[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return `${prefix}_${head}${tail}`;
}

const patterns = new Map<string, RegExp>();

/** The form of an id made by {@link newId} with this prefix: `{prefix}_` and a ULID in Crockford base32. */
export function idPattern(prefix: string): RegExp {
  let pattern = patterns.get(prefix);
  if (!pattern) patterns.set(prefix, (pattern = new RegExp(`^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$`)));
  return pattern;
}

/** Matches ids made by {@link newId} with the given prefix. */
export function isId(prefix: string, value: string): boolean {
  return idPattern(prefix).test(value);
}

/** The creation time of an id made by {@link newId} (its first ten characters), in milliseconds; NaN for anything else. */
export function idTime(id: string): number {
  const head = id.slice(id.indexOf('_') + 1, id.indexOf('_') + 11);
  if (head.length !== 10) return Number.NaN;
  let time = 0;
  for (const ch of head) {
    const digit = CROCKFORD.indexOf(ch);
    if (digit < 0) return Number.NaN;
    time = time * 32 + digit;
  }
  return time;
}
