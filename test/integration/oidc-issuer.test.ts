import { randomBytes } from 'node:crypto';
import { LoopbackOidcIssuer, type IssuerKeyAlgorithm } from '../../fixtures/oidc-issuer';
import { DnsHostResolver } from '../../shared/adapters/net/dns-host-resolver';
import { GuardedHttpClient } from '../../shared/adapters/net/guarded-http-client';
import { HttpPublicDocumentFetch } from '../../shared/adapters/oidc/http-public-document-fetch';
import { OutboundGuard } from '../../shared/net/outbound-guard';
import { ManualClock } from '../../shared/clock';
import type { TrustPolicy } from '../../shared/domain';
import { DocumentFetchError } from '../../shared/ports/public-documents';
import { DEFAULT_ISSUER_KEY_BOUNDS, type IssuerKeyBounds } from '../../shared/trust/issuer-keys';
import { SubjectTokenVerifier, type SubjectTokenVerdict } from '../../shared/trust/oidc-verifier';
import { recordingLogger } from '../support/services';

/**
 * The subject token verifier against an OpenID issuer over real HTTP on loopback (discovery, key
 * set, keys made here), through the HTTP adapter: what the unit tests hold with an in-memory fetch,
 * held again on the wire, plus what only the wire has (a body cut while streaming, a redirect, an
 * issuer that never answers).
 */
const COOLDOWN = DEFAULT_ISSUER_KEY_BOUNDS.refreshCooldownMs;
const LIMITS = { timeoutMs: 5_000, maxBytes: 64 * 1024 };

let counter = 0;
function policy(issuer: string, overrides: Partial<TrustPolicy> = {}): TrustPolicy {
  counter += 1;
  const at = '2026-01-01T00:00:00.000Z';
  return {
    id: `tp_it${counter}`,
    customerSlug: 'acme',
    label: `policy-${counter}`,
    issuer,
    audience: 'acme',
    subject: 'repo:acme/checkout:ref:refs/heads/main',
    claims: { repository_owner: 'acme' },
    application: 'checkout',
    environment: 'live',
    tokenLifetimeMinutes: 15,
    status: 'active',
    createdAt: at,
    createdBy: { type: 'user', id: 'u1', name: 'Ada Admin' },
    updatedAt: at,
    ...overrides,
  };
}

const reasonOf = (verdict: SubjectTokenVerdict): string => (verdict.ok ? 'ok' : verdict.reason);

describe('subject tokens from an OpenID issuer over HTTP', () => {
  const clock = new ManualClock('2026-03-01T12:00:00.000Z');
  // The local rules (http to a loopback host), as the test host's; the production rules are the outbound guard's tests.
  const fetch = new HttpPublicDocumentFetch(new GuardedHttpClient(new OutboundGuard(new DnsHostResolver(), { localMode: true })));
  const issuers: LoopbackOidcIssuer[] = [];

  async function startIssuer(path = ''): Promise<LoopbackOidcIssuer> {
    const issuer = await LoopbackOidcIssuer.start({ path, now: () => clock.millis() });
    issuers.push(issuer);
    return issuer;
  }

  const verifier = (options: { localMode?: boolean; bounds?: Partial<IssuerKeyBounds> } = {}) =>
    new SubjectTokenVerifier({
      fetch,
      clock,
      log: recordingLogger(),
      localMode: options.localMode ?? true,
      ...(options.bounds ? { bounds: options.bounds } : {}),
    });

  let issuer: LoopbackOidcIssuer;
  const kids = {} as Record<IssuerKeyAlgorithm, string>;

  beforeAll(async () => {
    // An issuer under a path, as Entra's (/{tenant}/v2.0) and Kubernetes' often are.
    issuer = await startIssuer('/tenant-a/v2.0');
    for (const alg of ['RS256', 'PS256', 'ES256', 'EdDSA'] as const) kids[alg] = issuer.addKey(alg);
    issuer.currentKid = kids.ES256;
  });

  afterAll(async () => {
    await Promise.all(issuers.map((started) => started.close()));
  });

  it('accepts a good token of each algorithm, reading discovery and the key set once', async () => {
    const v = verifier();
    const before = { ...issuer.reads };
    const trusted = policy(issuer.issuer);
    for (const alg of ['RS256', 'PS256', 'ES256', 'EdDSA'] as const) {
      const verdict = await v.verify(issuer.sign({ repository_owner: 'acme' }, { kid: kids[alg] }), [trusted]);
      expect(verdict).toMatchObject({ ok: true, policy: { id: trusted.id }, token: { algorithm: alg, keyId: kids[alg] } });
    }
    expect(issuer.reads).toEqual({ discovery: before.discovery + 1, jwks: before.jwks + 1 });
  });

  it('refuses wrong audience, subject and claim, and time out of bounds, with the reason for the audit', async () => {
    const v = verifier();
    const trusted = [policy(issuer.issuer)];
    const now = Math.floor(clock.millis() / 1000);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ repository_owner: 'acme' }, 'ok'],
      [{ repository_owner: 'acme', aud: 'initech' }, 'audience_mismatch'],
      [{ repository_owner: 'acme', sub: 'repo:acme/checkout:pull_request' }, 'subject_mismatch'],
      [{ repository_owner: 'acme-evil' }, 'claim_mismatch'],
      [{ repository_owner: 'acme', exp: now - 61 }, 'expired'],
      [{ repository_owner: 'acme', nbf: now + 61 }, 'not_yet_valid'],
      [{ repository_owner: 'acme', iat: now - 86_400 - 61, nbf: undefined }, 'too_old'],
    ];
    const reasons = [];
    for (const [claims] of cases) reasons.push(reasonOf(await v.verify(issuer.sign(claims), trusted)));
    expect(reasons).toEqual(cases.map(([, reason]) => reason));
  });

  it('refuses alg none and HS256 signed with the public key, reading nothing', async () => {
    const fresh = await startIssuer();
    fresh.addKey('RS256');
    const trusted = [policy(fresh.issuer)];
    const v = verifier();
    for (const token of [fresh.unsigned({ repository_owner: 'acme' }), fresh.hmacWithPublicKey({ repository_owner: 'acme' }, 'pem')]) {
      expect(reasonOf(await v.verify(token, trusted))).toBe('unsupported_algorithm');
    }
    expect(fresh.reads).toEqual({ discovery: 0, jwks: 0 });
    expect(reasonOf(await v.verify(fresh.sign({ repository_owner: 'acme' }), trusted))).toBe('ok');
  });

  it('reads the key set at most once per cooldown under a flood of unknown key ids, and picks up a rotated key after it', async () => {
    const rotating = await startIssuer();
    const first = rotating.addKey('EdDSA');
    const trusted = [policy(rotating.issuer)];
    const v = verifier();
    expect(reasonOf(await v.verify(rotating.sign({ repository_owner: 'acme' }), trusted))).toBe('ok');
    clock.advance(COOLDOWN);
    const flood = await Promise.all(
      Array.from({ length: 300 }, () =>
        v.verify(rotating.sign({ repository_owner: 'acme' }, { kid: randomBytes(8).toString('hex'), signWith: first }), trusted),
      ),
    );
    expect(new Set(flood.map(reasonOf))).toEqual(new Set(['unknown_key']));
    expect(rotating.reads).toEqual({ discovery: 1, jwks: 2 });

    const second = rotating.rotate({ retire: true });
    const rotated = rotating.sign({ repository_owner: 'acme' });
    expect(reasonOf(await v.verify(rotated, trusted))).toBe('unknown_key');
    expect(rotating.reads.jwks).toBe(2);
    clock.advance(COOLDOWN);
    expect(await v.verify(rotated, trusted)).toMatchObject({ ok: true, token: { keyId: second } });
    expect(rotating.reads).toEqual({ discovery: 1, jwks: 3 });
  });

  it("refuses a token of customer A's issuer against customer B's policies, without reading A's issuer", async () => {
    const issuerOfA = await startIssuer('/a');
    const issuerOfB = await startIssuer('/b');
    issuerOfA.addKey('ES256');
    issuerOfB.addKey('ES256');
    const policiesOfB = [policy(issuerOfB.issuer, { customerSlug: 'b', audience: 'b', subject: 'repo:b/*', claims: {} })];
    const v = verifier();
    expect(reasonOf(await v.verify(issuerOfA.sign({ aud: 'b', sub: 'repo:b/app:ref:refs/heads/main' }), policiesOfB))).toBe(
      'untrusted_issuer',
    );
    expect(issuerOfA.reads).toEqual({ discovery: 0, jwks: 0 });
    expect(issuerOfB.reads).toEqual({ discovery: 0, jwks: 0 });
    expect(reasonOf(await v.verify(issuerOfB.sign({ aud: 'b', sub: 'repo:b/app:ref:refs/heads/main' }), policiesOfB))).toBe('ok');
  });

  it('refuses an issuer whose discovery document names another issuer, reading no key set', async () => {
    const lying = await startIssuer();
    lying.addKey('ES256');
    lying.discoveryOverrides = { issuer: issuer.issuer };
    const verdict = await verifier().verify(lying.sign({ repository_owner: 'acme' }), [policy(lying.issuer)]);
    expect(verdict).toMatchObject({ ok: false, reason: 'issuer_unavailable', detail: 'discovery document names another issuer' });
    expect(lying.reads).toEqual({ discovery: 1, jwks: 0 });
  });

  it('reads nothing over http outside local mode, and no http jwks_uri off loopback in local mode', async () => {
    const plain = await startIssuer();
    plain.addKey('ES256');
    const trusted = [policy(plain.issuer)];
    expect(reasonOf(await verifier({ localMode: false }).verify(plain.sign({ repository_owner: 'acme' }), trusted))).toBe(
      'issuer_not_allowed',
    );
    expect(plain.reads).toEqual({ discovery: 0, jwks: 0 });
    plain.discoveryOverrides = { jwks_uri: 'http://keys.example.com/jwks' };
    const verdict = await verifier().verify(plain.sign({ repository_owner: 'acme' }), trusted);
    expect(verdict).toMatchObject({ ok: false, reason: 'issuer_not_allowed', detail: expect.stringMatching(/^jwks_uri not read: http/) });
    expect(plain.reads).toEqual({ discovery: 1, jwks: 0 });
  });

  it('refuses a key set over 64 KiB, whether its length is declared or it streams, and takes one of 64 KiB', async () => {
    const big = await startIssuer();
    big.addKey('ES256');
    const token = () => big.sign({ repository_owner: 'acme' });
    const trusted = [policy(big.issuer)];
    for (const chunked of [false, true]) {
      big.chunked = chunked;
      big.jwksBytes = 64 * 1024 + 1;
      expect(await verifier().verify(token(), trusted)).toMatchObject({
        ok: false,
        reason: 'issuer_unavailable',
        detail: expect.stringMatching(/too_large/),
      });
      big.jwksBytes = 4 * 1024 * 1024;
      await expect(fetch.get(big.jwksUri, LIMITS)).rejects.toMatchObject({ kind: 'too_large' });
      big.jwksBytes = 64 * 1024;
      expect(reasonOf(await verifier().verify(token(), trusted))).toBe('ok');
      expect((await fetch.get(big.jwksUri, LIMITS)).length).toBe(64 * 1024);
    }
  });

  it('does not follow a redirect of the key set', async () => {
    const redirecting = await startIssuer();
    redirecting.addKey('ES256');
    redirecting.redirectJwksTo = issuer.jwksUri;
    const before = issuer.reads.jwks;
    const verdict = await verifier().verify(redirecting.sign({ repository_owner: 'acme' }), [policy(redirecting.issuer)]);
    expect(verdict).toMatchObject({ ok: false, reason: 'issuer_unavailable', detail: expect.stringMatching(/redirect/) });
    expect(issuer.reads.jwks).toBe(before);
  });

  it('gives up on an issuer that never answers, within the read bound, and reads it again only after the cooldown', async () => {
    const silent = await startIssuer();
    silent.addKey('ES256');
    silent.hang = true;
    const v = verifier({ bounds: { fetchTimeoutMs: 200 } });
    const trusted = [policy(silent.issuer)];
    const verdict = await v.verify(silent.sign({ repository_owner: 'acme' }), trusted);
    expect(verdict).toMatchObject({ ok: false, reason: 'issuer_unavailable', detail: expect.stringMatching(/timeout/) });
    silent.hang = false;
    expect(reasonOf(await v.verify(silent.sign({ repository_owner: 'acme' }), trusted))).toBe('issuer_unavailable');
    clock.advance(COOLDOWN);
    expect(reasonOf(await v.verify(silent.sign({ repository_owner: 'acme' }), trusted))).toBe('ok');
  });

  it('answers the adapter failures by kind: status, unreachable, a scheme it does not read', async () => {
    await expect(fetch.get(`${issuer.issuer}/nothing-here`, LIMITS)).rejects.toMatchObject({ kind: 'status' });
    const closed = await startIssuer();
    const address = closed.discoveryUrl;
    await closed.close();
    issuers.splice(issuers.indexOf(closed), 1);
    await expect(fetch.get(address, LIMITS)).rejects.toMatchObject({ kind: 'unreachable' });
    await expect(fetch.get('file:///etc/passwd', LIMITS)).rejects.toBeInstanceOf(DocumentFetchError);
    await expect(fetch.get('data:application/json,{}', LIMITS)).rejects.toMatchObject({ kind: 'not_allowed' });
  });
});
