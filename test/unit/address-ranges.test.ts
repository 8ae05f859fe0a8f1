import fc from 'fast-check';
import { BlockList } from 'node:net';
import { addressProblem, classifyAddress, isLoopbackAddress, type AddressKind } from '../../shared/net/address-ranges';

/**
 * The outbound guard's address classifier. The refused ranges are stated here again, from the
 * issue and IANA's special-purpose registries, apart from the table in the code; membership is
 * decided by node:net's BlockList, not by our arithmetic. Every generated address is judged by
 * both, and the IPv6 forms that carry an IPv4 address must agree with the address they carry.
 */
type Kind = Exclude<AddressKind, 'not_an_address'>;

const SPEC_V4: Record<Kind, string[]> = {
  unspecified: ['0.0.0.0/8'],
  loopback: ['127.0.0.0/8'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
  shared: ['100.64.0.0/10'],
  link_local: ['169.254.0.0/16'],
  multicast: ['224.0.0.0/4'],
  benchmark: ['198.18.0.0/15'],
  documentation: ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'],
  reserved: ['192.0.0.0/24', '192.88.99.0/24', '240.0.0.0/4'],
};

/** IPv6 ranges refused whatever else is true of the address (none of them overlaps another of another kind, except as noted). */
const SPEC_V6: Record<Kind, string[]> = {
  unspecified: ['::/128'],
  loopback: ['::1/128'],
  private: ['fc00::/7'],
  shared: [],
  link_local: ['fe80::/10'],
  multicast: ['ff00::/8'],
  benchmark: ['2001:2::/48'],
  documentation: ['2001:db8::/32', '3fff::/20'],
  // ::/96 (IPv4-compatible) holds :: and ::1, which keep their own kinds; Teredo, ORCHID(v2), discard, local NAT64, SRv6, site-local.
  reserved: ['::/96', '64:ff9b:1::/48', '100::/64', '2001::/32', '2001:10::/28', '2001:20::/28', '5f00::/16', 'fec0::/10'],
};

const KINDS = Object.keys(SPEC_V4) as Kind[];

function blockList(family: 'ipv4' | 'ipv6', cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', prefix = ''] = cidr.split('/');
    list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

const V4_BY_KIND = Object.fromEntries(KINDS.map((kind) => [kind, blockList('ipv4', SPEC_V4[kind])])) as Record<Kind, BlockList>;
const V6_REFUSED = blockList('ipv6', Object.values(SPEC_V6).flat());

/** The spec's kind of an IPv4 address, or undefined when it is public. */
const specKindV4 = (address: string): Kind | undefined => KINDS.find((kind) => V4_BY_KIND[kind].check(address, 'ipv4'));

const v4Text = (n: number): string => [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
const v4Int = (text: string): number => text.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);

/** An IPv6 address (a 128-bit value) as eight groups of four hex digits, uncompressed. */
const v6Full = (value: bigint): string =>
  Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16).padStart(4, '0')).join(':');
/** The same, compressed as the WHATWG URL serialiser (RFC 5952) writes it. */
const v6Canonical = (value: bigint): string => new URL(`http://[${v6Full(value)}]/`).hostname.slice(1, -1);
const v6Value = (text: string): bigint => {
  const full = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const [head = '', tail] = full.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((sum, group) => (sum << 16n) | BigInt(parseInt(group, 16)), 0n);
};

/** An address inside a CIDR (any of it, its first and last address more often). */
function insideV4(cidr: string): fc.Arbitrary<number> {
  const [base = '', prefix = ''] = cidr.split('/');
  const size = 2 ** (32 - Number(prefix));
  const start = v4Int(base);
  return fc.oneof(fc.constant(start), fc.constant(start + size - 1), fc.integer({ min: start, max: start + size - 1 }));
}

function insideV6(cidr: string): fc.Arbitrary<bigint> {
  const [base = '', prefix = ''] = cidr.split('/');
  const hostBits = 128 - Number(prefix);
  const start = v6Value(base);
  const last = start + (1n << BigInt(hostBits)) - 1n;
  return fc.oneof(fc.constant(start), fc.constant(last), fc.bigInt({ min: start, max: last }));
}

/** Any IPv4 address, half of them drawn from the refused ranges or their edges. */
const anyV4 = fc
  .oneof(
    fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    fc.constantFrom(...Object.values(SPEC_V4).flat()).chain(insideV4),
    // Just outside a range: the address before its first and after its last.
    fc.constantFrom(...Object.values(SPEC_V4).flat()).map((cidr) => {
      const [base = '', prefix = ''] = cidr.split('/');
      return v4Int(base) + 2 ** (32 - Number(prefix));
    }),
    fc.constantFrom(...Object.values(SPEC_V4).flat()).map((cidr) => v4Int(cidr.split('/')[0]!) - 1),
  )
  .filter((n) => n >= 0 && n < 2 ** 32);

const anyV6 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
  fc.bigInt({ min: 0x2000n << 112n, max: (0x4000n << 112n) - 1n }),
  fc.constantFrom(...Object.values(SPEC_V6).flat()).chain(insideV6),
);

describe('the outbound address classifier', () => {
  // Each property answers true or false; fast-check names the first address (shrunk) that fails.
  it('refuses exactly the IPv4 ranges the rules name, each as its kind, and takes every other IPv4 address', () => {
    fc.assert(
      fc.property(anyV4, (n) => {
        const address = v4Text(n);
        const verdict = classifyAddress(address);
        return (verdict.public ? undefined : verdict.kind) === specKindV4(address);
      }),
      { numRuns: 20_000 },
    );
  });

  it('refuses every address of every refused IPv6 range, and everything outside global unicast (2000::/3)', () => {
    fc.assert(
      fc.property(anyV6, (value) => {
        const address = v6Canonical(value);
        const verdict = classifyAddress(address);
        if (V6_REFUSED.check(address, 'ipv6')) return !verdict.public;
        // IPv4-mapped, NAT64 and 6to4 are judged by what they carry (the test below).
        if (value >> 32n === 0xffffn || value >> 32n === 0x64ff9bn << 64n || value >> 112n === 0x2002n) return true;
        return verdict.public === (value >> 125n === 1n);
      }),
      { numRuns: 20_000 },
    );
  });

  it('names the kind of the most specific IPv6 range', () => {
    for (const kind of KINDS) {
      for (const cidr of SPEC_V6[kind].filter((range) => range !== '::/96')) {
        fc.assert(
          fc.property(insideV6(cidr), (value) => {
            const verdict = classifyAddress(v6Canonical(value));
            return !verdict.public && verdict.kind === kind;
          }),
          { numRuns: 200 },
        );
      }
    }
  });

  it('judges IPv4-mapped, NAT64 and 6to4 addresses as the IPv4 address they carry, in every spelling', () => {
    fc.assert(
      fc.property(anyV4, fc.bigInt({ min: 0n, max: (1n << 80n) - 1n }), (n, low) => {
        const v4 = v4Text(n);
        const expected = classifyAddress(v4);
        const hi = (n >>> 16).toString(16);
        const lo = (n & 0xffff).toString(16);
        const forms = [
          `::ffff:${v4}`,
          `::ffff:${hi}:${lo}`,
          `::FFFF:${hi.toUpperCase()}:${lo.toUpperCase()}`,
          `0:0:0:0:0:ffff:${hi}:${lo}`,
          `0000:0000:0000:0000:0000:ffff:${v4}`,
          `[::ffff:${v4}]`,
          `64:ff9b::${v4}`,
          `64:ff9b::${hi}:${lo}`,
          v6Canonical((0x2002n << 112n) | (BigInt(n) << 80n) | low),
        ];
        const agree = forms.every((form) => {
          const verdict = classifyAddress(form);
          const sameKind = verdict.public || expected.public || verdict.kind === expected.kind;
          return verdict.public === expected.public && sameKind && verdict.embedded?.ipv4 === v4;
        });
        // IPv4-compatible (::a.b.c.d, deprecated) is refused whatever it carries.
        return agree && !classifyAddress(`::${v4}`).public;
      }),
      { numRuns: 5_000 },
    );
  });

  it('gives one verdict for every text form of an IPv6 address', () => {
    fc.assert(
      fc.property(anyV6, fc.constantFrom('full', 'canonical', 'upper', 'bracketed', 'zone'), (value, form) => {
        const canonical = v6Canonical(value);
        const text = {
          full: v6Full(value),
          canonical,
          upper: canonical.toUpperCase(),
          bracketed: `[${v6Full(value)}]`,
          zone: `${canonical}%eth0`,
        }[form];
        return JSON.stringify(classifyAddress(text)) === JSON.stringify(classifyAddress(canonical));
      }),
      { numRuns: 5_000 },
    );
  });

  it('says why, naming the cloud metadata address and the carried IPv4 address', () => {
    expect(addressProblem('8.8.8.8')).toBeUndefined();
    expect(addressProblem('2606:4700:4700::1111')).toBeUndefined();
    expect(addressProblem('169.254.169.254')).toBe('169.254.169.254 (link-local, 169.254.0.0/16, where cloud metadata services answer)');
    expect(addressProblem('::ffff:7f00:1')).toBe('::ffff:7f00:1 (IPv4-mapped 127.0.0.1: loopback, 127.0.0.0/8)');
    expect(addressProblem('64:ff9b::a00:1')).toBe('64:ff9b::a00:1 (NAT64 of 10.0.0.1: private, 10.0.0.0/8)');
    expect(addressProblem('2002:c0a8:101::1')).toBe('2002:c0a8:101::1 (6to4 of 192.168.1.1: private, 192.168.0.0/16)');
    expect(addressProblem('::7f00:1')).toBe('::7f00:1 (reserved, ::/96, IPv4-compatible, deprecated)');
    expect(addressProblem('4000::1')).toBe('4000::1 (reserved, outside 2000::/3)');
    expect(addressProblem('localhost')).toBe('localhost (not an IP address)');
    for (const notAnAddress of ['', 'example.com', '0177.0.0.1', '2130706433', '0x7f.1', '1.2.3', '256.0.0.1', '::ffff:1.2.3']) {
      expect({ notAnAddress, verdict: classifyAddress(notAnAddress) }).toEqual({
        notAnAddress,
        verdict: { public: false, kind: 'not_an_address', range: '' },
      });
    }
  });

  it('tells loopback apart (local mode lets http reach it, and nothing else)', () => {
    for (const address of ['127.0.0.1', '127.255.0.9', '::1', '::ffff:127.0.0.1'])
      expect({ address, loopback: isLoopbackAddress(address) }).toEqual({ address, loopback: true });
    for (const address of ['10.0.0.1', '::', '0.0.0.0', '64:ff9b::7f00:1', '2002:7f00:1::', '8.8.8.8'])
      expect({ address, loopback: isLoopbackAddress(address) }).toEqual({ address, loopback: false });
  });
});
