import fc from 'fast-check';
import { MemoryHostResolver } from '../../shared/adapters/memory/memory-host-resolver';
import { classifyAddress } from '../../shared/net/address-ranges';
import { OutboundGuard, type OutboundAdmission } from '../../shared/net/outbound-guard';

/**
 * The outbound guard with a resolver in memory: any name resolves anywhere, without DNS. What an
 * admitted request may connect to is the `addresses` of its target (the HTTP client pins the
 * connection to them: test/integration/outbound-http.test.ts).
 */
const production = (resolver: MemoryHostResolver) => new OutboundGuard(resolver, { localMode: false });
const local = (resolver: MemoryHostResolver) => new OutboundGuard(resolver, { localMode: true });

const refusal = (admission: OutboundAdmission) => (admission.ok ? { ok: true } : { failure: admission.failure, detail: admission.detail });

describe('the outbound guard', () => {
  describe('happy path', () => {
    it('admits https to a host whose every address is public, pinned to those addresses, resolved once', async () => {
      const resolver = new MemoryHostResolver({ 'issuer.example': ['203.0.114.7', '2606:4700::6810:84e5'] });
      const admission = await production(resolver).admit('https://issuer.example/tenant/.well-known/openid-configuration?x=1');
      expect(admission).toEqual({
        ok: true,
        target: {
          url: new URL('https://issuer.example/tenant/.well-known/openid-configuration?x=1'),
          hostname: 'issuer.example',
          port: 443,
          addresses: [
            { address: '203.0.114.7', family: 4 },
            { address: '2606:4700::6810:84e5', family: 6 },
          ],
        },
      });
      expect(resolver.lookups).toEqual(['issuer.example']);
    });

    it('admits a public IP address written in the URL without resolving anything, and keeps the port', async () => {
      const resolver = new MemoryHostResolver();
      for (const [url, address, port] of [
        ['https://8.8.8.8:8443/hook', '8.8.8.8', 8443],
        ['https://[2606:4700:4700::1111]/hook', '2606:4700:4700::1111', 443],
        ['https://[::ffff:8.8.8.8]/', '::ffff:808:808', 443],
      ] as const) {
        const admission = await production(resolver).admit(url);
        expect(admission).toMatchObject({ ok: true, target: { hostname: address, port, addresses: [{ address }] } });
      }
      expect(resolver.lookups).toEqual([]);
    });

    it('keeps local mode as it was: http to a loopback host, https anywhere', async () => {
      const resolver = new MemoryHostResolver({ localhost: ['127.0.0.1', '::1'], 'dev.example': '10.1.2.3' });
      for (const url of ['http://localhost:7071/issuer', 'http://127.0.0.1:4000/', 'http://[::1]:4000/', 'https://dev.example/']) {
        expect({ url, ok: (await local(resolver).admit(url)).ok }).toEqual({ url, ok: true });
      }
    });
  });

  describe('security path: production rules', () => {
    it.each([
      ['loopback', '127.0.0.1', /issuer\.example resolves to 127\.0\.0\.1 \(loopback, 127\.0\.0\.0\/8\), not a public address/],
      [
        'the cloud metadata address',
        '169.254.169.254',
        /169\.254\.169\.254 \(link-local, 169\.254\.0\.0\/16, where cloud metadata services answer\)/,
      ],
      ['a private address', '10.0.0.5', /private, 10\.0\.0\.0\/8/],
      ['172.16/12', '172.31.255.255', /private, 172\.16\.0\.0\/12/],
      ['192.168/16', '192.168.1.1', /private, 192\.168\.0\.0\/16/],
      ['carrier-grade NAT', '100.64.0.1', /shared \(carrier-grade NAT\), 100\.64\.0\.0\/10/],
      ['0.0.0.0', '0.0.0.0', /unspecified, 0\.0\.0\.0\/8/],
      ['IPv6 loopback', '::1', /loopback, ::1\/128/],
      ['IPv6 unspecified', '::', /unspecified, ::\/128/],
      ['unique local', 'fd00::1', /private, fc00::\/7/],
      ['IPv6 link-local', 'fe80::1', /link-local, fe80::\/10/],
      ['IPv4-mapped loopback', '::ffff:7f00:1', /IPv4-mapped 127\.0\.0\.1: loopback/],
      ['NAT64 of a private address', '64:ff9b::a00:1', /NAT64 of 10\.0\.0\.1: private/],
      ['6to4 of a private address', '2002:c0a8:101::1', /6to4 of 192\.168\.1\.1: private/],
      ['multicast', '224.0.0.1', /multicast/],
      ['benchmarking', '198.18.0.1', /benchmarking/],
      ['documentation', '192.0.2.1', /documentation/],
    ])('refuses a host that resolves to %s, with the address and range in the reason', async (_name, address, detail) => {
      const admission = await production(new MemoryHostResolver({ 'issuer.example': address })).admit('https://issuer.example/');
      expect(refusal(admission)).toEqual({ failure: 'not_allowed', detail: expect.stringMatching(detail) });
    });

    it('refuses a host with one private address among public ones, whichever comes first', async () => {
      for (const addresses of [
        ['8.8.8.8', '127.0.0.1'],
        ['169.254.169.254', '8.8.8.8'],
        ['2606:4700::1', 'fe80::1'],
      ]) {
        const admission = await production(new MemoryHostResolver({ 'mixed.example': addresses })).admit('https://mixed.example/');
        expect({ addresses, failure: refusal(admission).failure }).toEqual({ addresses, failure: 'not_allowed' });
      }
    });

    it('refuses an IP literal of a refused range in every spelling the URL parser reads, resolving nothing', async () => {
      const resolver = new MemoryHostResolver();
      for (const url of [
        'https://127.0.0.1/',
        'https://2130706433/',
        'https://0177.0.0.1/',
        'https://0x7f.1/',
        'https://0x7f000001/',
        'https://127.1/',
        'https://%31%32%37.0.0.1/',
        'https://①②⑦.0.0.1/',
        'https://169.254.169.254./latest/meta-data/',
        'https://0/',
        'https://[::1]/',
        'https://[::ffff:127.0.0.1]/',
        'https://[::ffff:7f00:1]/',
        'https://[0:0:0:0:0:ffff:7f00:1]/',
        'https://[::127.0.0.1]/',
        'https://[64:ff9b::127.0.0.1]/',
        'https://[2002:7f00:1::]/',
        'https://[fe80::1]/',
      ]) {
        const admission = await production(resolver).admit(url);
        expect({ url, ...refusal(admission) }).toEqual({
          url,
          failure: 'not_allowed',
          detail: expect.stringMatching(/is not a public address$/),
        });
      }
      expect(resolver.lookups).toEqual([]);
    });

    it('judges an IPv4 address written as a number, in octal or in hex exactly as the dotted address (the URL parser normalises it)', async () => {
      const resolver = new MemoryHostResolver();
      const guard = production(resolver);
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 32 - 1 }), async (n) => {
          const octets = [24, 16, 8, 0].map((shift) => (n >>> shift) & 255);
          const dotted = octets.join('.');
          const expected = classifyAddress(dotted).public;
          const spellings = [
            String(n),
            `0x${n.toString(16)}`,
            octets.map((o) => `0${o.toString(8)}`).join('.'),
            `${octets[0]}.${(n & 0xffffff).toString()}`,
            octets.map((o) => `0x${o.toString(16)}`).join('.'),
          ];
          for (const spelling of spellings) {
            const admission = await guard.admit(`https://${spelling}/`);
            if (admission.ok !== expected) return false;
            if (admission.ok && admission.target.hostname !== dotted) return false;
          }
          return true;
        }),
        { numRuns: 500 },
      );
      expect(resolver.lookups).toEqual([]);
    });

    it('refuses http, other schemes and credentials before resolving anything', async () => {
      const resolver = new MemoryHostResolver({ 'issuer.example': '8.8.8.8', localhost: '127.0.0.1' });
      for (const [url, detail] of [
        ['http://issuer.example/', 'http is not requested (https only)'],
        ['http://localhost:7071/', 'http is not requested (https only)'],
        ['ftp://issuer.example/', 'ftp is not requested (https only)'],
        ['file:///etc/passwd', 'file is not requested (https only)'],
        ['https://user:secret@issuer.example/', 'credentials in the address'],
        ['not a url', 'not a URL'],
      ]) {
        expect({ url, ...refusal(await production(resolver).admit(url!)) }).toEqual({ url, failure: 'not_allowed', detail });
      }
      expect(resolver.lookups).toEqual([]);
    });

    it('tells a name that does not resolve (or resolves to nothing) from a refusal, and never puts the path in a reason', async () => {
      const resolver = new MemoryHostResolver({ 'empty.example': [] });
      expect(refusal(await production(resolver).admit('https://nowhere.example/hooks/secret-token'))).toEqual({
        failure: 'unresolved',
        detail: 'nowhere.example does not resolve (ENOTFOUND)',
      });
      expect(refusal(await production(resolver).admit('https://empty.example/'))).toEqual({
        failure: 'unresolved',
        detail: 'empty.example resolves to no address',
      });
      resolver.set('private.example', '10.0.0.1');
      expect(refusal(await production(resolver).admit('https://private.example/hooks/secret-token?sig=abc')).detail).not.toMatch(
        /secret|sig/,
      );
    });

    it('gives up on a resolver that does not answer when the signal ends', async () => {
      const resolver = new MemoryHostResolver({ 'slow.example': '8.8.8.8' });
      resolver.gate = new Promise(() => undefined);
      const controller = new AbortController();
      const admission = production(resolver).admit('https://slow.example/', controller.signal);
      controller.abort();
      expect(refusal(await admission)).toEqual({ failure: 'timeout', detail: 'slow.example did not resolve in time' });
    });
  });

  describe('security path: local mode', () => {
    it('takes http only for a loopback host whose addresses are all loopback', async () => {
      const resolver = new MemoryHostResolver({ localhost: ['127.0.0.1', '10.0.0.1'], 'dev.example': '127.0.0.1' });
      expect(refusal(await local(resolver).admit('http://localhost:7071/'))).toEqual({
        failure: 'not_allowed',
        detail: 'localhost resolves to 10.0.0.1, which is not loopback (http is for this machine only)',
      });
      expect(refusal(await local(resolver).admit('http://dev.example/'))).toEqual({
        failure: 'not_allowed',
        detail: 'http only to a loopback host (localhost, 127.0.0.1, [::1]) in local mode',
      });
      expect(refusal(await local(resolver).admit('http://10.0.0.1/')).failure).toBe('not_allowed');
    });
  });
});
