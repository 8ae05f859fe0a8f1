import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PortalTokenVerifier, signLocalPortalToken } from '../../shared/auth/portal-tokens';
import type { Config } from '../../shared/config';
import { TEST_PORTAL_ENV } from '../support/portal';

const local: Config['portal'] = {
  issuer: TEST_PORTAL_ENV.PORTAL_JWT_ISSUER,
  audience: TEST_PORTAL_ENV.PORTAL_JWT_AUDIENCE,
  jwksUrl: undefined,
  sharedSecret: TEST_PORTAL_ENV.PORTAL_JWT_SECRET,
};
const secret = new TextEncoder().encode(local.sharedSecret);
const sign = (claims: Record<string, unknown>, mutate: (jwt: SignJWT) => SignJWT = (j) => j) =>
  mutate(new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('u-1').setIssuer(local.issuer).setAudience(local.audience).setIssuedAt().setExpirationTime('10m')).sign(secret);

describe('portal tokens: local HS256', () => {
  const verifier = new PortalTokenVerifier(local);

  it('verifies a token and reads its claims, ignoring unknown roles', async () => {
    const token = await sign({ name: 'Ada', customer: 'acme', roles: ['CustomerAdmin', 'Wizard'] });
    expect(await verifier.verify(token)).toEqual({ userId: 'u-1', name: 'Ada', customerSlug: 'acme', roles: ['CustomerAdmin'] });
  });

  it('signs local tokens the verifier accepts', async () => {
    const token = await signLocalPortalToken(local, { sub: 'ops-1', roles: ['Staff'] });
    expect(await verifier.verify(token)).toMatchObject({ userId: 'ops-1', roles: ['Staff'], customerSlug: undefined });
  });

  it.each([
    ['expired', () => sign({ roles: [] }, (j) => j.setExpirationTime(Math.floor(Date.now() / 1000) - 120)), /expired/],
    ['another issuer', () => sign({ roles: [] }, (j) => j.setIssuer('https://evil.example')), /not valid/],
    ['another audience', () => sign({ roles: [] }, (j) => j.setAudience('other-api')), /not valid/],
    ['another secret', () => new SignJWT({ roles: [] }).setProtectedHeader({ alg: 'HS256' }).setSubject('u').setIssuer(local.issuer).setAudience(local.audience).setExpirationTime('5m').sign(new TextEncoder().encode('x'.repeat(40))), /not valid/],
    ['no expiry', () => new SignJWT({ roles: [] }).setProtectedHeader({ alg: 'HS256' }).setSubject('u').setIssuer(local.issuer).setAudience(local.audience).sign(secret), /not valid/],
    ['a bad customer claim', () => sign({ customer: 'Not A Slug', roles: [] }), /lacks required claims/],
    ['alg none', async () => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'u', iss: local.issuer, aud: local.audience, exp: 9999999999 })).toString('base64url')}.`, /not valid/],
    ['not a JWT', async () => 'vp_cust_acme.x.y.z', /not a portal session token/],
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

  it('refuses an HS256 token when a JWKS is configured (no algorithm confusion)', async () => {
    const token = await sign({ roles: ['Staff'] });
    await expect(production().verify(token)).rejects.toMatchObject({ code: 'unauthenticated' });
  });
});
