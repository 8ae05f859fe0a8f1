import { BlockList, isIP } from 'node:net';

/** Most entries a key's allowlist holds. */
export const MAX_ALLOWED_IPS = 50;
/** Longest entry read (an IPv6 address with a prefix is at most 43 characters). */
const MAX_ENTRY_LENGTH = 64;

export type AllowlistEntryError = { entry: string; reason: string };

/** `::ffff:a.b.c.d` or `::ffff:hhhh:hhhh`: an IPv4 address written as IPv6. */
const MAPPED_DOTTED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;
const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i;

/** An IPv4-mapped IPv6 address as the IPv4 address it carries; anything else unchanged. */
export function unmapped(address: string): string {
  const dotted = MAPPED_DOTTED.exec(address);
  if (dotted && isIP(dotted[1]!) === 4) return dotted[1]!;
  const hex = MAPPED_HEX.exec(address);
  if (hex) {
    const high = parseInt(hex[1]!, 16);
    const low = parseInt(hex[2]!, 16);
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return address;
}

interface ParsedEntry {
  address: string;
  family: 4 | 6;
  prefix: number;
}

/**
 * One allowlist entry: an IPv4 or IPv6 address, or a CIDR range (`10.0.0.0/8`, `2001:db8::/32`).
 * An IPv4-mapped IPv6 entry is read as the IPv4 address or range it carries (so `::ffff:10.0.0.0/104`
 * is `10.0.0.0/8`). Zone ids, ports and host bits set below the prefix are refused.
 */
function parseEntry(raw: string): ParsedEntry | AllowlistEntryError {
  const entry = raw.trim().toLowerCase();
  if (entry.length === 0 || entry.length > MAX_ENTRY_LENGTH)
    return { entry: raw.slice(0, MAX_ENTRY_LENGTH), reason: 'is not an IP address or CIDR range' };
  const [address = '', prefixText, ...rest] = entry.split('/');
  if (rest.length > 0) return { entry: raw, reason: 'is not an IP address or CIDR range' };
  // Node accepts a zone id (`fe80::1%eth0`); an allowlist of the internet has no use for one.
  let family = address.includes('%') ? 0 : isIP(address);
  if (family === 0) return { entry: raw, reason: 'is not an IP address or CIDR range' };
  let prefix = family === 4 ? 32 : 128;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > prefix) {
      return { entry: raw, reason: `has a prefix length outside 0 to ${prefix}` };
    }
    prefix = Number(prefixText);
  }
  let base = address;
  const v4 = family === 6 ? unmapped(address) : address;
  if (v4 !== address) {
    if (prefixText !== undefined && prefix < 96) return { entry: raw, reason: 'maps IPv4 with a prefix shorter than 96' };
    base = v4;
    family = 4;
    prefix -= 96;
  }
  if (!hostBitsClear(base, family as 4 | 6, prefix)) {
    return { entry: raw, reason: `has bits set after its /${prefixText}: write the range's first address` };
  }
  return { address: base, family: family as 4 | 6, prefix };
}

/** Whether an address has no bits set past `prefix` (a range is written by its first address). */
function hostBitsClear(address: string, family: 4 | 6, prefix: number): boolean {
  const bytes = toBytes(address, family);
  for (let bit = prefix; bit < bytes.length * 8; bit++) if (bytes[bit >> 3]! & (0x80 >> (bit & 7))) return false;
  return true;
}

function toBytes(address: string, family: 4 | 6): number[] {
  if (family === 4) return address.split('.').map(Number);
  const [head = '', tail] = address.split('::');
  const groups = (text: string) => (text ? text.split(':') : []);
  let left = groups(head);
  let right = tail === undefined ? [] : groups(tail);
  // An embedded IPv4 tail (`::1.2.3.4`) is two groups.
  const expand = (parts: string[]) =>
    parts.flatMap((p) => {
      if (!p.includes('.')) return [p];
      const [a, b, c, d] = p.split('.').map(Number) as [number, number, number, number];
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    });
  left = expand(left);
  right = expand(right);
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return all.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 255];
  });
}

/**
 * Checks a key's allowlist as sent: at most {@link MAX_ALLOWED_IPS} entries, each an address or a
 * CIDR range. Returns the entries as kept (trimmed, lower case, duplicates dropped) or the first
 * bad entry and why.
 */
export function parseAllowlist(entries: readonly string[]): { ok: true; entries: string[] } | { ok: false; error: AllowlistEntryError } {
  if (entries.length > MAX_ALLOWED_IPS) {
    return { ok: false, error: { entry: `${entries.length} entries`, reason: `is more than the ${MAX_ALLOWED_IPS} a key may list` } };
  }
  const kept: string[] = [];
  for (const raw of entries) {
    const parsed = parseEntry(raw);
    if ('reason' in parsed) return { ok: false, error: parsed };
    const entry = raw.trim().toLowerCase();
    if (!kept.includes(entry)) kept.push(entry);
  }
  return { ok: true, entries: kept };
}

/**
 * Whether an allowlist admits no address that `current` does not, by a rule simple enough to
 * state: each entry of `candidate` lies inside one entry of `current` (the same family, a prefix
 * at least as long, the same leading bits; IPv4-mapped IPv6 counts as IPv4). A candidate entry
 * covered only by several current entries together (`10.0.0.0/23` under `10.0.0.0/24` and
 * `10.0.1.0/24`) is not within: write it as the entries it covers. An empty `current` admits
 * any address, so every candidate is within it; an empty candidate admits any address, so it
 * is within an empty `current` only.
 */
export function allowlistWithin(candidate: readonly string[], current: readonly string[]): boolean {
  if (current.length === 0) return true;
  if (candidate.length === 0) return false;
  const outer = current.map(parseEntry).filter((e): e is ParsedEntry => !('reason' in e));
  return candidate.every((raw) => {
    const inner = parseEntry(raw);
    return !('reason' in inner) && outer.some((o) => entryWithin(inner, o));
  });
}

/** Whether the range `inner` lies inside the range `outer`. */
function entryWithin(inner: ParsedEntry, outer: ParsedEntry): boolean {
  if (inner.family !== outer.family || inner.prefix < outer.prefix) return false;
  const a = toBytes(inner.address, inner.family);
  const b = toBytes(outer.address, outer.family);
  for (let bit = 0; bit < outer.prefix; bit++) {
    const mask = 0x80 >> (bit & 7);
    if ((a[bit >> 3]! & mask) !== (b[bit >> 3]! & mask)) return false;
  }
  return true;
}

/**
 * A key's allowlist, compiled once (when the key's identity is read) for the door: matching is
 * on parsed addresses, never text, so `::ffff:10.1.2.3` is `10.1.2.3` and `10.1.2.3` is in
 * `10.0.0.0/8`. No storage call, no allocation beyond the address's own parse.
 */
export class IpAllowlist {
  private readonly list = new BlockList();

  constructor(readonly entries: readonly string[]) {
    for (const raw of entries) {
      const parsed = parseEntry(raw);
      if ('reason' in parsed) throw new Error(`allowlist entry ${parsed.entry} ${parsed.reason}`);
      this.list.addSubnet(parsed.address, parsed.prefix, parsed.family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  /** Whether a client address is on the list; an unknown or unparsable address is not. */
  allows(address: string | undefined): boolean {
    if (!address) return false;
    const plain = unmapped(address.toLowerCase());
    const family = plain.includes('%') ? 0 : isIP(plain);
    if (family === 0) return false;
    return this.list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }
}
