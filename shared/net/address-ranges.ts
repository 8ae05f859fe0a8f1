import { isIP } from 'node:net';

/**
 * Which IP addresses the service may connect to when a customer (or a token) names the host: the
 * public internet only. A pure classifier over parsed addresses (never their text), used by the
 * outbound guard (outbound-guard.ts) on every address a host name resolves to and on an address
 * written in a URL. The ranges are IANA's special-purpose registries (RFC 6890 and its updates) as
 * far as they are not globally reachable, plus three IPv6 forms that carry an IPv4 address, which
 * are judged by the address they carry: IPv4-mapped (`::ffff:0:0/96`), NAT64 (`64:ff9b::/96`,
 * RFC 6052) and 6to4 (`2002::/16`, RFC 3056). IPv6 outside global unicast (`2000::/3`) is refused.
 */

/** Why an address is not public. */
export type AddressKind =
  | 'unspecified'
  | 'loopback'
  | 'private'
  /** 100.64.0.0/10, carrier-grade NAT (RFC 6598). */
  | 'shared'
  | 'link_local'
  | 'multicast'
  | 'benchmark'
  | 'documentation'
  /** Reserved, deprecated or not globally routed (IETF protocol assignments, 240/4, Teredo, ORCHID, site-local...). */
  | 'reserved'
  | 'not_an_address';

/** How an IPv6 address carries the IPv4 address it is judged by. */
export type EmbeddingForm = 'ipv4-mapped' | 'nat64' | '6to4';

export type AddressVerdict =
  | { public: true; embedded?: { form: EmbeddingForm; ipv4: string } }
  | {
      public: false;
      kind: AddressKind;
      /** The refused range (CIDR) the address, or the IPv4 address it carries, lies in. */
      range: string;
      embedded?: { form: EmbeddingForm; ipv4: string };
    };

interface Parsed {
  family: 4 | 6;
  value: bigint;
}

interface Range {
  cidr: string;
  kind: Exclude<AddressKind, 'not_an_address'>;
  family: 4 | 6;
  base: bigint;
  prefix: number;
}

/** IPv4 ranges that are not public. */
const IPV4_REFUSED: ReadonlyArray<[string, Range['kind']]> = [
  ['0.0.0.0/8', 'unspecified'], // "this network"; 0.0.0.0 itself reaches this host on Linux
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link_local'], // cloud metadata services answer at 169.254.169.254
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'], // IETF protocol assignments
  ['192.0.2.0/24', 'documentation'], // TEST-NET-1
  ['192.88.99.0/24', 'reserved'], // 6to4 relay anycast, deprecated
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmark'],
  ['198.51.100.0/24', 'documentation'], // TEST-NET-2
  ['203.0.113.0/24', 'documentation'], // TEST-NET-3
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'], // future use, and 255.255.255.255
];

/** IPv6 ranges that are not public (the longest matching prefix names the kind). */
const IPV6_REFUSED: ReadonlyArray<[string, Range['kind']]> = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::/96', 'reserved'], // IPv4-compatible, deprecated (RFC 4291): refused whatever it carries
  ['::/8', 'reserved'], // the rest of the IETF-reserved block (IPv4-mapped is judged before)
  ['64:ff9b:1::/48', 'reserved'], // local-use NAT64 (RFC 8215): a network's own translator
  ['100::/64', 'reserved'], // discard-only
  ['2001::/32', 'reserved'], // Teredo: a tunnel to an IPv4 address it hides
  ['2001:2::/48', 'benchmark'],
  ['2001:10::/28', 'reserved'], // ORCHID, deprecated
  ['2001:20::/28', 'reserved'], // ORCHIDv2, not routed
  ['2001:db8::/32', 'documentation'],
  ['3fff::/20', 'documentation'],
  ['5f00::/16', 'reserved'], // SRv6 SIDs
  ['fc00::/7', 'private'], // unique local
  ['fe80::/10', 'link_local'],
  ['fec0::/10', 'reserved'], // site-local, deprecated
  ['ff00::/8', 'multicast'],
];

const BITS = { 4: 32, 6: 128 } as const;

const toRange = (family: 4 | 6, [cidr, kind]: [string, Range['kind']]): Range => {
  const [address = '', prefix = ''] = cidr.split('/');
  const parsed = parseAddress(address);
  if (!parsed || parsed.family !== family) throw new Error(`bad range ${cidr}`);
  return { cidr, kind, family, base: parsed.value, prefix: Number(prefix) };
};

/** The ranges, longest prefix first (the most specific names the kind). */
const RANGES: Range[] = [...IPV4_REFUSED.map((r) => toRange(4, r)), ...IPV6_REFUSED.map((r) => toRange(6, r))].sort(
  (a, b) => b.prefix - a.prefix,
);

/** The refused ranges as CIDR strings by family (documentation and tests read them). */
export const REFUSED_RANGES: { readonly ipv4: readonly string[]; readonly ipv6: readonly string[] } = {
  ipv4: IPV4_REFUSED.map(([cidr]) => cidr),
  ipv6: IPV6_REFUSED.map(([cidr]) => cidr),
};

const within = (value: bigint, family: 4 | 6, base: bigint, prefix: number): boolean => {
  const shift = BigInt(BITS[family] - prefix);
  return value >> shift === base >> shift;
};

const V4_MAPPED = parseAddress('::ffff:0:0')!.value;
const NAT64 = parseAddress('64:ff9b::')!.value;
const SIX_TO_FOUR = parseAddress('2002::')!.value;

/** An IPv4 address (a 32-bit value) in dotted form. */
const dotted = (value: bigint): string => [24n, 16n, 8n, 0n].map((shift) => Number((value >> shift) & 255n)).join('.');

/**
 * An IP address as family and value: dotted-decimal IPv4 (as `net.isIP` reads it: no octal, no
 * hex, four parts), or IPv6 in any of its text forms (compressed or not, any case, an IPv4 tail,
 * in brackets, a zone id, which is ignored). Anything else is undefined: a host name is not an address.
 */
export function parseAddress(text: string): Parsed | undefined {
  let plain = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zone = plain.indexOf('%');
  if (zone !== -1) plain = plain.slice(0, zone);
  const family = isIP(plain);
  if (family === 4) return { family: 4, value: plain.split('.').reduce((sum, part) => (sum << 8n) | BigInt(Number(part)), 0n) };
  if (family !== 6) return undefined;
  const [head = '', tail] = plain.split('::') as [string, string | undefined];
  const groups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? left : [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  return { family: 6, value: all.reduce((sum, group) => (sum << 16n) | BigInt(group), 0n) };
}

function rangeOf(family: 4 | 6, value: bigint): Range | undefined {
  return RANGES.find((range) => range.family === family && within(value, family, range.base, range.prefix));
}

function judgeV4(value: bigint): AddressVerdict {
  const range = rangeOf(4, value);
  return range ? { public: false, kind: range.kind, range: range.cidr } : { public: true };
}

/** The IPv4 address an IPv6 address carries and how, for the three forms judged by it. */
function embeddedV4(value: bigint): { form: EmbeddingForm; ipv4: bigint } | undefined {
  if (value >> 32n === V4_MAPPED >> 32n) return { form: 'ipv4-mapped', ipv4: value & 0xffffffffn };
  if (value >> 32n === NAT64 >> 32n) return { form: 'nat64', ipv4: value & 0xffffffffn };
  if (value >> 112n === SIX_TO_FOUR >> 112n) return { form: '6to4', ipv4: (value >> 80n) & 0xffffffffn };
  return undefined;
}

/**
 * Whether an address is public, and if not, why: the kind and the range. An IPv6 address that
 * carries an IPv4 address (mapped, NAT64, 6to4) is as public as the address it carries. Text that
 * is not an IP address is `not_an_address` (refused).
 */
export function classifyAddress(address: string): AddressVerdict {
  const parsed = parseAddress(address);
  if (!parsed) return { public: false, kind: 'not_an_address', range: '' };
  if (parsed.family === 4) return judgeV4(parsed.value);
  const carried = embeddedV4(parsed.value);
  if (carried) {
    const embedded = { form: carried.form, ipv4: dotted(carried.ipv4) };
    return { ...judgeV4(carried.ipv4), embedded };
  }
  const range = rangeOf(6, parsed.value);
  if (range) return { public: false, kind: range.kind, range: range.cidr };
  // Global unicast is 2000::/3; the rest of the space is unassigned or special.
  if (parsed.value >> 125n !== 1n) return { public: false, kind: 'reserved', range: 'outside 2000::/3' };
  return { public: true };
}

const KIND_TEXT: Record<AddressKind, string> = {
  unspecified: 'unspecified',
  loopback: 'loopback',
  private: 'private',
  shared: 'shared (carrier-grade NAT)',
  link_local: 'link-local',
  multicast: 'multicast',
  benchmark: 'benchmarking',
  documentation: 'documentation',
  reserved: 'reserved',
  not_an_address: 'not an IP address',
};

/**
 * An address that may not be connected to, with why, for logs and the audit
 * (`127.0.0.1 (loopback, 127.0.0.0/8)`, `::ffff:7f00:1 (IPv4-mapped 127.0.0.1: loopback, 127.0.0.0/8)`),
 * or undefined when it is public.
 */
export function addressProblem(address: string): string | undefined {
  const verdict = classifyAddress(address);
  if (verdict.public) return undefined;
  if (verdict.kind === 'not_an_address') return `${address} (not an IP address)`;
  const note = RANGE_NOTES[verdict.range];
  const why = `${KIND_TEXT[verdict.kind]}, ${verdict.range}${note ? `, ${note}` : ''}`;
  return verdict.embedded
    ? `${address} (${EMBEDDING_TEXT[verdict.embedded.form]} ${verdict.embedded.ipv4}: ${why})`
    : `${address} (${why})`;
}

/** What a reader of the audit may not guess from the range alone. */
const RANGE_NOTES: Record<string, string> = {
  '169.254.0.0/16': 'where cloud metadata services answer',
  '::/96': 'IPv4-compatible, deprecated',
  '2001::/32': 'Teredo',
  'fc00::/7': 'unique local',
};

const EMBEDDING_TEXT: Record<EmbeddingForm, string> = { 'ipv4-mapped': 'IPv4-mapped', nat64: 'NAT64 of', '6to4': '6to4 of' };

/** Whether an address is loopback (127.0.0.0/8, `::1`, or IPv4-mapped loopback). */
export function isLoopbackAddress(address: string): boolean {
  const verdict = classifyAddress(address);
  return !verdict.public && verdict.kind === 'loopback' && (verdict.embedded === undefined || verdict.embedded.form === 'ipv4-mapped');
}
