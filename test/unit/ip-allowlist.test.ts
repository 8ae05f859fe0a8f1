import fc from 'fast-check';
import { loosening } from '../../shared/keys/access-narrowing';
import { IpAllowlist, MAX_ALLOWED_IPS, allowlistWithin, parseAllowlist, unmapped } from '../../shared/keys/ip-allowlist';

const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const text4 = ([a, b, c, d]: [number, number, number, number]) => `${a}.${b}.${c}.${d}`;
const int4 = ([a, b, c, d]: [number, number, number, number]) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
const fromInt = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const mask = (prefix: number) => (prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0);
const hex4 = (n: number) => `::ffff:${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;

describe('IP allowlists', () => {
  it('accepts addresses and ranges of both families, and names the first bad entry', () => {
    expect(parseAllowlist([' 203.0.113.7 ', '10.0.0.0/8', '2001:DB8::/32', '::1', '0.0.0.0/0', '10.0.0.0/8'])).toEqual({
      ok: true,
      entries: ['203.0.113.7', '10.0.0.0/8', '2001:db8::/32', '::1', '0.0.0.0/0'],
    });
    for (const [bad, reason] of [
      ['10.0.0.1/8', /bits set after its \/8/],
      ['10.0.0.0/33', /prefix length outside 0 to 32/],
      ['2001:db8::/129', /prefix length outside 0 to 128/],
      ['300.1.1.1', /not an IP address/],
      ['fe80::1%eth0', /not an IP address/],
      ['1.2.3.4:80', /not an IP address/],
      ['10.0.0.0/8/8', /not an IP address/],
      ['example.com', /not an IP address/],
      ['', /not an IP address/],
      ['::ffff:10.0.0.0/90', /shorter than 96/],
    ] as const) {
      const result = parseAllowlist(['192.0.2.1', bad]);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error.entry).toBe(bad);
        expect(result.error.reason).toMatch(reason);
      }
    }
    const many = Array.from({ length: MAX_ALLOWED_IPS + 1 }, (_, i) => `10.0.${i}.0/24`);
    expect(parseAllowlist(many)).toEqual({
      ok: false,
      error: expect.objectContaining({ reason: expect.stringMatching(/more than the 50/) }),
    });
  });

  it('matches an IPv4 address against a range exactly as the bit arithmetic says, in every notation', () => {
    fc.assert(
      fc.property(v4, v4, fc.integer({ min: 0, max: 32 }), (net, probe, prefix) => {
        const base = fromInt((int4(net) & mask(prefix)) >>> 0);
        const list = new IpAllowlist([`${base}/${prefix}`]);
        const inside = (int4(probe) & mask(prefix)) >>> 0 === (int4(net) & mask(prefix)) >>> 0;
        const address = text4(probe);
        expect(list.allows(address)).toBe(inside);
        expect(list.allows(`::ffff:${address}`)).toBe(inside);
        expect(list.allows(hex4(int4(probe)))).toBe(inside);
        // The same range written as IPv4-mapped IPv6.
        expect(new IpAllowlist([`::ffff:${base}/${prefix + 96}`]).allows(address)).toBe(inside);
      }),
      { numRuns: 2000 },
    );
  });

  it('matches IPv6 ranges, and refuses what is not an address', () => {
    const list = new IpAllowlist(['2001:db8:abcd::/48', '::1']);
    expect(list.allows('2001:db8:abcd:12::7')).toBe(true);
    expect(list.allows('2001:DB8:ABCD:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    expect(list.allows('2001:db8:abce::1')).toBe(false);
    expect(list.allows('::1')).toBe(true);
    expect(list.allows('127.0.0.1')).toBe(false);
    for (const junk of [undefined, '', 'localhost', '1.2.3', '::ffff:zzzz:1', '2001:db8:abcd::1%eth0'])
      expect(list.allows(junk)).toBe(false);
  });

  it('never throws on arbitrary entries or addresses, and whatever it accepts compiles and matches itself', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string(),
            fc.ipV4(),
            fc.ipV6(),
            fc.ipV4().map((a) => `${a}/24`),
          ),
          { maxLength: 5 },
        ),
        fc.string(),
        (entries, probe) => {
          const parsed = parseAllowlist(entries);
          if (!parsed.ok) return;
          const list = new IpAllowlist(parsed.entries);
          expect(typeof list.allows(probe)).toBe('boolean');
          for (const entry of parsed.entries) if (!entry.includes('/')) expect(list.allows(entry)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('reads IPv4-mapped IPv6 as the IPv4 address it carries', () => {
    expect(unmapped('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(unmapped('::FFFF:0a01:0203')).toBe('10.1.2.3');
    expect(unmapped('2001:db8::1')).toBe('2001:db8::1');
  });

  it('finds a range within another exactly when the bit arithmetic says every address of it is', () => {
    const range = fc.tuple(v4, fc.integer({ min: 0, max: 32 })).map(([net, prefix]) => ({
      base: (int4(net) & mask(prefix)) >>> 0,
      prefix,
    }));
    fc.assert(
      fc.property(range, range, (inner, outer) => {
        const contained = inner.prefix >= outer.prefix && (inner.base & mask(outer.prefix)) >>> 0 === outer.base;
        const write = (r: { base: number; prefix: number }) => `${fromInt(r.base)}/${r.prefix}`;
        expect(allowlistWithin([write(inner)], [write(outer)])).toBe(contained);
        // The same ranges as IPv4-mapped IPv6, and a whole list: each entry inside one current entry.
        expect(allowlistWithin([`::ffff:${fromInt(inner.base)}/${inner.prefix + 96}`], [write(outer)])).toBe(contained);
        expect(allowlistWithin([write(outer), write(inner)], ['2001:db8::/32', write(outer)])).toBe(contained);
      }),
      { numRuns: 2000 },
    );
  });

  it('states what narrows a key and what loosens it', () => {
    expect(allowlistWithin(['10.1.0.0/16', '10.2.3.4'], ['10.0.0.0/8'])).toBe(true);
    expect(allowlistWithin(['10.0.0.0/23'], ['10.0.0.0/24', '10.0.1.0/24'])).toBe(false); // covered only together
    expect(allowlistWithin(['2001:db8:1::/48'], ['2001:db8::/32'])).toBe(true);
    expect(allowlistWithin(['2001:db8::/31'], ['2001:db8::/32'])).toBe(false);
    expect(allowlistWithin(['::ffff:10.0.0.1'], ['10.0.0.0/8'])).toBe(true);
    expect(allowlistWithin(['::1'], ['0.0.0.0/0'])).toBe(false);
    expect(allowlistWithin([], ['10.0.0.0/8'])).toBe(false); // empty: any address
    expect(allowlistWithin(['10.0.0.0/8'], [])).toBe(true);
    const hour = '2026-01-01T01:00:00.000Z';
    const current = { expiresAt: hour, allowedIps: ['10.0.0.0/8'] };
    expect(loosening(current, { expiresAt: '2026-01-01T00:30:00Z', allowedIps: ['10.1.0.0/16'] })).toBeUndefined();
    expect(loosening(current, { expiresAt: '2026-01-01T14:30:00+14:00', allowedIps: ['10.0.0.0/8'] })).toBeUndefined(); // 00:30Z
    expect(loosening(current, { allowedIps: ['10.0.0.0/8'] })).toBe('clears its expiry');
    expect(loosening(current, { expiresAt: '2026-01-01T01:00:01Z', allowedIps: ['10.0.0.0/8'] })).toBe('moves its expiry later');
    expect(loosening(current, { expiresAt: hour })).toBe('clears its allowlist');
    expect(loosening(current, { expiresAt: hour, allowedIps: ['11.0.0.0/8'] })).toBe('admits addresses its allowlist does not');
    expect(loosening({}, { expiresAt: hour, allowedIps: ['10.0.0.0/8'] })).toBeUndefined(); // setting limits narrows
  });
});
