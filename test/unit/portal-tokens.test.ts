import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PortalTokenVerifier, signLocalPortalToken } from '../../shared/auth/portal-tokens';
import type { Config } from '../../shared/config';
import { DependencyUnavailableError } from '../../shared/errors';
import { TEST_PORTAL_ENV } from '../support/portal';

const local: Config['portal'] = {
  issuer: TEST_PORTAL_ENV.PORTAL_JWT_ISSUER,
  audience: TEST_PORTAL_ENV.PORTAL_JWT_AUDIENCE,
  jwksUrl: undefined,
  sharedSecret: TEST_PORTAL_ENV.PORTAL_JWT_SECRET,
  signInUrl: undefined,
};
const secret = new TextEncoder().encode(local.sharedSecret);
const sign = (claims: Record<string, unknown>, mutate: (jwt: SignJWT) => SignJWT = (j) => j) =>
  mutate(
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u-1')
      .setIssuer(local.issuer)
      .setAudience(local.audience)
      .setIssuedAt()
      .setExpirationTime('10m'),
  ).sign(secret);

/** A correctly signed HS256 token with any header at all (jose refuses to sign unknown crit headers). */
async function craftHs256(header: Record<string, unknown>): Promise<string> {
  const claims = { sub: 'u-1', iss: local.issuer, aud: local.audience, exp: Math.floor(Date.now() / 1000) + 600, roles: [] };
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${createHmac('sha256', Buffer.from(secret)).update(input).digest('base64url')}`;
}

describe('portal tokens: local HS256', () => {
  const verifier = new PortalTokenVerifier(local);

  it('verifies a token and reads its claims, ignoring unknown roles', async () => {
    const token = await sign({ name: 'Ada', customer: 'acme', roles: ['CustomerAdmin', 'Wizard'] });
    expect(await verifier.verify(token)).toEqual({ userId: 'u-1', name: 'Ada', customerSlug: 'acme', roles: ['CustomerAdmin'] });
  });

  it("shows a user's name as it reads: invisible and reordering characters from the identity provider are dropped", async () => {
    const token = await sign({ name: 'Ada\u202E nimdA\u200B', roles: ['Staff'] });
    expect((await verifier.verify(token)).name).toBe('Ada nimdA');
    expect((await verifier.verify(await sign({ name: '\u200B\u200B', roles: [] }))).name).toBe('u-1');
  });

  it('signs local tokens the verifier accepts', async () => {
    const token = await signLocalPortalToken(local, { sub: 'ops-1', roles: ['Staff'] });
    expect(await verifier.verify(token)).toMatchObject({ userId: 'ops-1', roles: ['Staff'], customerSlug: undefined });
  });

  it.each([
    ['expired', () => sign({ roles: [] }, (j) => j.setExpirationTime(Math.floor(Date.now() / 1000) - 120)), /expired/],
    ['another issuer', () => sign({ roles: [] }, (j) => j.setIssuer('https://evil.example')), /not valid/],
    ['another audience', () => sign({ roles: [] }, (j) => j.setAudience('other-api')), /not valid/],
    [
      'another secret',
      () =>
        new SignJWT({ roles: [] })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('u')
          .setIssuer(local.issuer)
          .setAudience(local.audience)
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode('x'.repeat(40))),
      /not valid/,
    ],
    [
      'no expiry',
      () =>
        new SignJWT({ roles: [] })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('u')
          .setIssuer(local.issuer)
          .setAudience(local.audience)
          .sign(secret),
      /not valid/,
    ],
    ['a bad customer claim', () => sign({ customer: 'Not A Slug', roles: [] }), /lacks required claims/],
    [
      'alg none',
      async () =>
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'u', iss: local.issuer, aud: local.audience, exp: 9999999999 })).toString('base64url')}.`,
      /not valid/,
    ],
    ['not a JWT', async () => 'vp_cust_acme.x.y.z', /not a portal session token/],
    // Unknown critical extensions, named with words an error-message matcher would fall for.
    [
      'a crit header naming a network fetch',
      () => craftHs256({ alg: 'HS256', crit: ['network fetch ECONNREFUSED'], 'network fetch ECONNREFUSED': true }),
      /not valid/,
    ],
    ['a crit header that is not a list', () => craftHs256({ alg: 'HS256', crit: 'fetch' }), /not valid/],
    ['b64 false', () => craftHs256({ alg: 'HS256', crit: ['b64'], b64: false }), /not valid/],
  ])('refuses a token with %s as 401 unauthenticated', async (_name, make, message) => {
    const token = await make();
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'unauthenticated', status: 401 });
    await expect(verifier.verify(token)).rejects.toThrow(message);
  });
});

describe('portal tokens: production JWKS', () => {
  let server: Server;
  let jwksUrl: string;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  let jwksRequests = 0;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    server = createServer((_req, res) => {
      jwksRequests += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const production = () => new PortalTokenVerifier({ ...local, sharedSecret: undefined, jwksUrl });

  it('verifies RS256 tokens against the JWKS, fetching the key set once', async () => {
    const verifier = production();
    const token = await new SignJWT({ roles: ['Staff'], name: 'Sam' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('staff-1')
      .setIssuer(local.issuer)
      .setAudience(local.audience)
      .setExpirationTime('5m')
      .sign(privateKey);
    const before = jwksRequests;
    expect(await verifier.verify(token)).toMatchObject({ userId: 'staff-1', roles: ['Staff'] });
    expect(await verifier.verify(token)).toMatchObject({ userId: 'staff-1' });
    expect(jwksRequests - before).toBe(1);
  });

  const rs256 = (kid: string, header: Record<string, unknown> = {}) =>
    new SignJWT({ roles: ['Staff'] })
      .setProtectedHeader({ alg: 'RS256', kid, ...header })
      .setSubject('staff-1')
      .setIssuer(local.issuer)
      .setAudience(local.audience)
      .setExpirationTime('5m')
      .sign(privateKey);

  it('refuses a token whose kid the key set lacks, or whose crit header names the network, as 401', async () => {
    const verifier = production();
    await expect(verifier.verify(await rs256('unknown-kid'))).rejects.toMatchObject({ code: 'unauthenticated', status: 401 });
    const header = { alg: 'RS256', kid: 'k1', crit: ['fetch failed network'], 'fetch failed network': 1 };
    const claims = { sub: 'staff-1', iss: local.issuer, aud: local.audience, exp: Math.floor(Date.now() / 1000) + 300, roles: ['Staff'] };
    const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const signature = Buffer.from(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', privateKey, Buffer.from(input))).toString('base64url');
    const crafted = `${input}.${signature}`;
    await expect(verifier.verify(crafted)).rejects.toMatchObject({ code: 'unauthenticated', status: 401 });
  });

  it("reports a key set it cannot fetch as a dependency outage (503), never as the caller's fault or a 500", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const unreachable = new PortalTokenVerifier({ ...local, sharedSecret: undefined, jwksUrl: `http://127.0.0.1:${port}/keys` });
    await expect(unreachable.verify(await rs256('k1'))).rejects.toBeInstanceOf(DependencyUnavailableError);

    const failing = createServer((_req, res) => res.writeHead(500).end('oops'));
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    try {
      const broken = new PortalTokenVerifier({
        ...local,
        sharedSecret: undefined,
        jwksUrl: `http://127.0.0.1:${(failing.address() as AddressInfo).port}/keys`,
      });
      await expect(broken.verify(await rs256('k1'))).rejects.toBeInstanceOf(DependencyUnavailableError);
    } finally {
      await new Promise<void>((r) => failing.close(() => r()));
    }
  });

  it('refuses an HS256 token when a JWKS is configured (no algorithm confusion)', async () => {
    const token = await sign({ roles: ['Staff'] });
    await expect(production().verify(token)).rejects.toMatchObject({ code: 'unauthenticated' });
  });
});
