import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { generateSigningKey, OidcTestIssuer, type IssuerKeyAlgorithm, type TestSigningKey } from '../../fixtures/oidc-issuer';
import { MemoryPublicDocumentFetch } from '../../shared/adapters/memory/memory-public-document-fetch';
import { ManualClock } from '../../shared/clock';
import type { TrustPolicy } from '../../shared/domain';
import { DEFAULT_ISSUER_KEY_BOUNDS, keyFitsAlgorithm, type IssuerKeyBounds } from '../../shared/trust/issuer-keys';
import {
  CLOCK_SKEW_SECONDS,
  MAX_TOKEN_AGE_SECONDS,
  MAX_TOKEN_LENGTH,
  SubjectTokenVerifier,
  type SubjectTokenVerdict,
} from '../../shared/trust/oidc-verifier';
import { recordingLogger } from '../support/services';

const ISSUER = 'https://issuer.example';
const COOLDOWN = DEFAULT_ISSUER_KEY_BOUNDS.refreshCooldownMs;
const MAX_AGE = DEFAULT_ISSUER_KEY_BOUNDS.maxKeyAgeMs;
const ALGORITHMS: IssuerKeyAlgorithm[] = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/** One key per algorithm, made once (RSA keys take a while): tests that rotate make their own. */
const KEYS: Record<IssuerKeyAlgorithm, TestSigningKey> = {
  RS256: generateSigningKey('RS256', 'rsa-1'),
  PS256: generateSigningKey('PS256', 'rsa-pss-1'),
  ES256: generateSigningKey('ES256', 'ec-1'),
  EdDSA: generateSigningKey('EdDSA', 'ed-1'),
};

let policyCounter = 0;
function policy(overrides: Partial<TrustPolicy> = {}): TrustPolicy {
  policyCounter += 1;
  const at = '2026-01-01T00:00:00.000Z';
  return {
    id: `tp_${policyCounter}`,
    customerSlug: 'acme',
    label: `policy-${policyCounter}`,
    issuer: ISSUER,
    audience: 'acme',
    subject: 'repo:acme/checkout:ref:refs/heads/main',
    claims: {},
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

function refused(verdict: SubjectTokenVerdict): Extract<SubjectTokenVerdict, { ok: false }> {
  if (verdict.ok) throw new Error(`expected a refusal, got policy ${verdict.policy.id}`);
  return verdict;
}

function accepted(verdict: SubjectTokenVerdict): Extract<SubjectTokenVerdict, { ok: true }> {
  if (!verdict.ok) throw new Error(`expected a match, got ${verdict.reason}: ${verdict.detail}`);
  return verdict;
}

describe('SubjectTokenVerifier', () => {
  let clock: ManualClock;
  let fetch: MemoryPublicDocumentFetch;
  let issuer: OidcTestIssuer;
  let log: ReturnType<typeof recordingLogger>;

  /** Serves an issuer's two documents through the in-memory fetch. */
  function serve(served: OidcTestIssuer): void {
    for (const url of [served.discoveryUrl, served.jwksUri]) fetch.serve(url, () => served.answer(url)!);
  }

  function verifier(options: { localMode?: boolean; bounds?: Partial<IssuerKeyBounds> } = {}): SubjectTokenVerifier {
    return new SubjectTokenVerifier({
      fetch,
      clock,
      log,
      localMode: options.localMode ?? false,
      ...(options.bounds ? { bounds: options.bounds } : {}),
    });
  }

  beforeEach(() => {
    clock = new ManualClock('2026-03-01T12:00:00.000Z');
    fetch = new MemoryPublicDocumentFetch();
    log = recordingLogger();
    issuer = new OidcTestIssuer(ISSUER, undefined, () => clock.millis());
    for (const alg of ALGORITHMS) issuer.adoptKey(KEYS[alg]);
    issuer.currentKid = KEYS.RS256.kid;
    serve(issuer);
  });

  const now = () => Math.floor(clock.millis() / 1000);

  describe('happy path', () => {
    it.each(ALGORITHMS)('accepts a good %s token and says who it is, reading discovery and the key set once', async (alg) => {
      const trusted = policy();
      const verdict = accepted(await verifier().verify(issuer.sign({}, { kid: KEYS[alg].kid }), [trusted]));
      expect(verdict.policy).toBe(trusted);
      expect(verdict.token).toMatchObject({
        issuer: ISSUER,
        subject: 'repo:acme/checkout:ref:refs/heads/main',
        audiences: ['acme'],
        algorithm: alg,
        keyId: KEYS[alg].kid,
        issuedAt: now(),
        expiresAt: now() + 300,
      });
      expect(issuer.reads).toEqual({ discovery: 1, jwks: 1 });
    });

    it('keeps the keys: later tokens of every algorithm read nothing', async () => {
      const v = verifier();
      for (const alg of ALGORITHMS) accepted(await v.verify(issuer.sign({}, { kid: KEYS[alg].kid }), [policy()]));
      for (const alg of ALGORITHMS) accepted(await v.verify(issuer.sign({}, { kid: KEYS[alg].kid }), [policy()]));
      expect(issuer.reads).toEqual({ discovery: 1, jwks: 1 });
    });

    it('reads once for tokens arriving together at a cold start', async () => {
      let open!: () => void;
      fetch.gate = new Promise((resolve) => (open = resolve));
      const v = verifier();
      const verdicts = Promise.all(Array.from({ length: 20 }, () => v.verify(issuer.sign(), [policy()])));
      open();
      expect((await verdicts).every((verdict) => verdict.ok)).toBe(true);
      expect(issuer.reads).toEqual({ discovery: 1, jwks: 1 });
    });

    it('asks the fetch for at most 64 KiB within 5 s', async () => {
      accepted(await verifier().verify(issuer.sign(), [policy()]));
      expect(fetch.requests.map((r) => r.url)).toEqual([`${ISSUER}/.well-known/openid-configuration`, issuer.jwksUri]);
      for (const request of fetch.requests) expect(request.limits).toEqual({ maxBytes: 64 * 1024, timeoutMs: 5_000 });
    });

    it('takes an audience in a list, a subject pattern, and claims of the same string', async () => {
      const trusted = policy({ subject: 'repo:acme/*', claims: { repository_owner: 'acme', ref_protected: 'true' } });
      const token = issuer.sign({ aud: ['other', 'acme'], repository_owner: 'acme', ref_protected: 'true' });
      expect(accepted(await verifier().verify(token, [trusted])).token.audiences).toEqual(['other', 'acme']);
    });

    it('takes a key that states no alg (as Entra publishes them), and a token without kid when one key fits', async () => {
      const plain = new OidcTestIssuer('https://plain.example', undefined, () => clock.millis());
      plain.addKey('ES256', { jwkAlg: false });
      serve(plain);
      const trusted = policy({ issuer: plain.issuer });
      const v = verifier();
      accepted(await v.verify(plain.sign(), [trusted]));
      accepted(await v.verify(plain.sign({}, { kid: null }), [trusted]));
    });

    it('finds the issuer discovery document without doubling a trailing slash, and compares iss with it exactly', async () => {
      const slashed = new OidcTestIssuer('https://k8s.example/cluster-1/', undefined, () => clock.millis());
      slashed.adoptKey(KEYS.ES256);
      serve(slashed);
      expect(slashed.discoveryUrl).toBe('https://k8s.example/cluster-1/.well-known/openid-configuration');
      accepted(
        await verifier().verify(slashed.sign({ sub: 'system:serviceaccount:ci:deployer' }), [
          policy({ issuer: slashed.issuer, subject: 'system:serviceaccount:ci:*' }),
        ]),
      );
    });
  });

  describe('policy matching', () => {
    it('refuses a token no policy names the issuer of, without reading anything', async () => {
      const verdict = refused(await verifier().verify(issuer.sign(), [policy({ issuer: 'https://token.actions.githubusercontent.com' })]));
      expect(verdict).toMatchObject({ reason: 'untrusted_issuer', issuer: ISSUER });
      expect(fetch.requests).toEqual([]);
    });

    it('refuses a token whose issuer differs only in case or a trailing slash', async () => {
      for (const iss of ['https://ISSUER.example', `${ISSUER}/`]) {
        expect(refused(await verifier().verify(issuer.sign({ iss }), [policy()])).reason).toBe('untrusted_issuer');
      }
      expect(fetch.requests).toEqual([]);
    });

    it.each([
      ['another audience', { aud: 'acme-staging' }, 'audience_mismatch'],
      ['an audience that only starts the same', { aud: 'acme2' }, 'audience_mismatch'],
      ['no audience', { aud: undefined }, 'audience_mismatch'],
      ['an audience list without it', { aud: ['x', 'y'] }, 'audience_mismatch'],
      ['an audience not a string', { aud: [{ acme: true }] }, 'audience_mismatch'],
      ['another branch', { sub: 'repo:acme/checkout:ref:refs/heads/feature' }, 'subject_mismatch'],
      ['another repository', { sub: 'repo:acme/checkout-evil:ref:refs/heads/main' }, 'subject_mismatch'],
    ])('refuses %s', async (_name, claims, reason) => {
      const trusted = policy();
      const verdict = refused(await verifier().verify(issuer.sign(claims), [trusted]));
      expect(verdict).toMatchObject({ reason, policyId: trusted.id, issuer: ISSUER });
    });

    const required = { repository_owner: 'acme', run_attempt: '42', ref_protected: 'true' };
    it.each([
      ['another value', { repository_owner: 'acme-evil' }],
      ['the value in another case', { repository_owner: 'ACME' }],
      ['no such claim', { repository_owner: undefined }],
      ['a number for a digit string', { run_attempt: 42 }],
      ['a boolean for "true"', { ref_protected: true }],
      ['a list holding the value', { repository_owner: ['acme'] }],
      ['an object', { repository_owner: { value: 'acme' } }],
    ])('refuses a claim with %s (claims are exact strings)', async (_name, changed) => {
      const trusted = policy({ claims: required });
      accepted(await verifier().verify(issuer.sign(required), [trusted]));
      const verdict = refused(await verifier().verify(issuer.sign({ ...required, ...changed }), [trusted]));
      expect(verdict).toMatchObject({ reason: 'claim_mismatch', detail: `claim ${Object.keys(changed)[0]}`, policyId: trusted.id });
    });

    it('never finds a claim on the prototype chain', async () => {
      const trusted = policy({ claims: { constructor: 'function Object() { [native code] }' } });
      expect(refused(await verifier().verify(issuer.sign(), [trusted])).reason).toBe('claim_mismatch');
    });

    it('takes the first matching policy in the order listed, and says which came nearest when none does', async () => {
      const wide = policy({ label: 'wide', subject: 'repo:acme/*' });
      const narrow = policy({ label: 'narrow' });
      const otherAudience = policy({ audience: 'other' });
      const v = verifier();
      expect(accepted(await v.verify(issuer.sign(), [wide, narrow])).policy).toBe(wide);
      expect(accepted(await v.verify(issuer.sign(), [narrow, wide])).policy).toBe(narrow);
      expect(accepted(await v.verify(issuer.sign(), [otherAudience, narrow])).policy).toBe(narrow);
      // None matches: the reason is the one of the policy that got furthest (audience, then subject, then claims).
      const claimsMiss = policy({ claims: { repository_owner: 'initech' } });
      const subjectMiss = policy({ subject: 'repo:acme/billing:*' });
      const verdict = refused(await v.verify(issuer.sign(), [otherAudience, claimsMiss, subjectMiss]));
      expect(verdict).toMatchObject({
        reason: 'claim_mismatch',
        policyId: claimsMiss.id,
        subject: 'repo:acme/checkout:ref:refs/heads/main',
      });
    });

    it('skips a policy that is not active', async () => {
      expect(refused(await verifier().verify(issuer.sign(), [policy({ status: 'deleted' })])).reason).toBe('untrusted_issuer');
    });

    it("does not let customer A's token through customer B's policies", async () => {
      const v = verifier();
      // A trusts its own issuer; B trusts another issuer: A's token is refused for B with nothing read.
      const customerA = new OidcTestIssuer('https://a.example', undefined, () => clock.millis());
      customerA.adoptKey(KEYS.ES256);
      serve(customerA);
      const policiesOfB = [policy({ customerSlug: 'b', issuer: ISSUER, audience: 'b', subject: 'repo:b/*' })];
      const tokenOfA = customerA.sign({ aud: 'a', sub: 'repo:a/app:ref:refs/heads/main' });
      expect(refused(await v.verify(tokenOfA, policiesOfB)).reason).toBe('untrusted_issuer');
      expect(customerA.reads).toEqual({ discovery: 0, jwks: 0 });
      // Both trust the same issuer (GitHub, say): B's audience and subject keep A's token out.
      const sharedIssuerToken = issuer.sign({ aud: 'a', sub: 'repo:a/app:ref:refs/heads/main' });
      expect(refused(await v.verify(sharedIssuerToken, policiesOfB)).reason).toBe('audience_mismatch');
      const aimedAtB = issuer.sign({ aud: 'b', sub: 'repo:a/app:ref:refs/heads/main' });
      expect(refused(await v.verify(aimedAtB, policiesOfB)).reason).toBe('subject_mismatch');
      accepted(await v.verify(issuer.sign({ aud: 'b', sub: 'repo:b/app:ref:refs/heads/main' }), policiesOfB));
    });
  });

  describe('time', () => {
    // The contract's numbers, written out: 60 s of skew each way, a day of age at most.
    it.each([
      ['expired beyond the skew', { exp: -61 }, 'expired'],
      ['expired exactly by the skew', { exp: -60 }, 'expired'],
      ['expired within the skew', { exp: -59 }, undefined],
      ['valid from beyond the skew', { nbf: 61 }, 'not_yet_valid'],
      ['valid from within the skew', { nbf: 60 }, undefined],
      ['issued in the future beyond the skew', { iat: 61, nbf: undefined }, 'issued_in_future'],
      ['issued in the future within the skew', { iat: 60, nbf: undefined }, undefined],
      ['issued longer ago than a day (and the skew)', { iat: -86_400 - 61, nbf: undefined }, 'too_old'],
      ['issued just within a day (and the skew)', { iat: -86_400 - 60, nbf: undefined }, undefined],
    ])('%s: %s', async (_name, offsets, reason) => {
      const claims = Object.fromEntries(
        Object.entries(offsets).map(([name, offset]) => [name, offset === undefined ? undefined : now() + offset]),
      );
      const verdict = await verifier().verify(issuer.sign(claims), [policy()]);
      if (reason === undefined) accepted(verdict);
      else expect(refused(verdict)).toMatchObject({ reason, subject: 'repo:acme/checkout:ref:refs/heads/main' });
    });

    it('states its bounds as the contract does', () => {
      expect({ CLOCK_SKEW_SECONDS, MAX_TOKEN_AGE_SECONDS }).toEqual({ CLOCK_SKEW_SECONDS: 60, MAX_TOKEN_AGE_SECONDS: 86_400 });
    });

    it('judges time by the injected clock, not the wall clock', async () => {
      const token = issuer.sign();
      const v = verifier();
      accepted(await v.verify(token, [policy()]));
      clock.advance((300 + 60) * 1000);
      expect(refused(await v.verify(token, [policy()])).reason).toBe('expired');
    });

    it.each([
      ['no exp', { exp: undefined }],
      ['exp as text', { exp: 'tomorrow' }],
      ['no iat', { iat: undefined }],
      ['nbf as text', { nbf: 'now' }],
      ['no sub', { sub: undefined }],
      ['sub as a number', { sub: 12345 }],
    ])('refuses a token with %s', async (_name, claims) => {
      expect(refused(await verifier().verify(issuer.sign(claims), [policy({ subject: '*x' })])).reason).toBe('missing_claim');
    });
  });

  describe('algorithms and keys', () => {
    it('refuses alg none (with or without a signature) without reading anything', async () => {
      for (const token of [issuer.unsigned(), issuer.unsigned({}, 'c2lnbmF0dXJl')]) {
        expect(refused(await verifier().verify(token, [policy()])).reason).toBe('unsupported_algorithm');
      }
      expect(fetch.requests).toEqual([]);
    });

    it.each(['pem', 'der', 'jwk'] as const)(
      'refuses HS256 signed with the public key (%s) as the secret, without reading anything',
      async (form) => {
        for (const alg of ALGORITHMS) {
          expect(refused(await verifier().verify(issuer.hmacWithPublicKey({}, form, KEYS[alg].kid), [policy()])).reason).toBe(
            'unsupported_algorithm',
          );
        }
        expect(fetch.requests).toEqual([]);
      },
    );

    it('refuses any other algorithm by name', async () => {
      for (const alg of ['HS256', 'HS384', 'HS512', 'RS384', 'RS512', 'ES384', 'ES512', 'PS512', 'Ed25519', 'none', 'NONE', 'rs256', '']) {
        expect(refused(await verifier().verify(issuer.sign({}, { alg }), [policy()])).reason).toBe('unsupported_algorithm');
      }
      expect(fetch.requests).toEqual([]);
    });

    it.each([
      ['ES256 naming the RSA key', { alg: 'ES256', kid: 'rsa-1', signWith: 'ec-1' }],
      ['RS256 naming the EC key', { alg: 'RS256', kid: 'ec-1', signWith: 'rsa-1' }],
      ['EdDSA naming the RSA key', { alg: 'EdDSA', kid: 'rsa-1', signWith: 'ed-1' }],
      ['PS256 by the key published for RS256 (a valid PSS signature)', { alg: 'PS256', kid: 'rsa-1' }],
      ['RS256 by the key published for PS256 (a valid PKCS#1 signature)', { alg: 'RS256', kid: 'rsa-pss-1' }],
    ] as const)('refuses an alg that disagrees with the key: %s', async (_name, options) => {
      const verdict = refused(await verifier().verify(issuer.sign({}, options), [policy()]));
      expect(verdict.reason).toBe('key_mismatch');
      expect(issuer.reads.jwks).toBe(1);
    });

    it('refuses ES256 by a P-384 key, and RS256 by an RSA key under 2048 bits', async () => {
      const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
      const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
      issuer.adoptKey({
        kid: 'p384',
        alg: 'ES256',
        ...p384,
        jwk: { ...p384.publicKey.export({ format: 'jwk' }), kid: 'p384', use: 'sig' },
      });
      issuer.adoptKey({
        kid: 'rsa-1024',
        alg: 'RS256',
        ...rsa1024,
        jwk: { ...rsa1024.publicKey.export({ format: 'jwk' }), kid: 'rsa-1024' },
      });
      const v = verifier();
      expect(refused(await v.verify(issuer.sign({}, { kid: 'rsa-1024' }), [policy()]))).toMatchObject({ reason: 'key_mismatch' });
      expect(keyFitsAlgorithm(issuer.keys.get('p384')!.jwk, 'ES256')).toBe(false);
      // A P-384 signature cannot even be made as ES256 by node; the header alone decides.
      expect(refused(await v.verify(issuer.sign({}, { kid: 'p384', alg: 'ES256', signWith: 'ec-1' }), [policy()])).reason).toBe(
        'key_mismatch',
      );
    });

    it('refuses a bad signature: a changed payload, another key under the same id', async () => {
      const v = verifier();
      const [head, , signature] = issuer.sign().split('.');
      const forged = Buffer.from(JSON.stringify(issuer.claims({ sub: 'repo:acme/checkout:ref:refs/heads/main', aud: 'acme' }))).toString(
        'base64url',
      );
      expect(refused(await v.verify(`${head}.${forged}.${signature}`, [policy()])).reason).toBe('bad_signature');
      const impostor = new OidcTestIssuer(ISSUER, undefined, () => clock.millis());
      impostor.adoptKey(generateSigningKey('ES256', 'ec-1'));
      expect(refused(await v.verify(impostor.sign(), [policy()])).reason).toBe('bad_signature');
    });

    it('refuses a kid-less token when several keys fit its algorithm', async () => {
      issuer.addKey('ES256', { current: false });
      expect(refused(await verifier().verify(issuer.sign({}, { kid: null, signWith: 'ec-1' }), [policy()])).reason).toBe('unknown_key');
    });

    it('ignores entries of the key set that are not public signature keys', async () => {
      const ec = KEYS.ES256.jwk;
      issuer.extraJwks = [
        { ...ec, kid: 'private', d: 'AAAA' },
        { ...ec, kid: 'for-encryption', use: 'enc' },
        { ...ec, kid: 'ops-sign-only', key_ops: ['sign'] },
        { kty: 'oct', kid: 'secret', k: 'c2VjcmV0' },
        'junk',
        null,
        { kid: 'no-kty' },
      ];
      const v = verifier();
      for (const kid of ['private', 'for-encryption', 'ops-sign-only', 'secret']) {
        expect(refused(await v.verify(issuer.sign({}, { kid, alg: 'ES256', signWith: 'ec-1' }), [policy()])).reason).toBe('unknown_key');
      }
      accepted(await v.verify(issuer.sign({}, { kid: 'ec-1' }), [policy()]));
    });
  });

  describe('reading the keys, bounded', () => {
    it('reads the key set again for an unknown kid at most once per cooldown, however many come', async () => {
      const v = verifier();
      accepted(await v.verify(issuer.sign(), [policy()]));
      expect(issuer.reads).toEqual({ discovery: 1, jwks: 1 });
      // Signed by the Ed25519 key (fast to sign), each naming a made-up key id.
      const flood = () =>
        Promise.all(
          Array.from({ length: 200 }, () =>
            v.verify(issuer.sign({}, { kid: randomBytes(8).toString('hex'), signWith: 'ed-1' }), [policy()]),
          ),
        );
      for (const step of [1, 2, 3]) {
        clock.advance(COOLDOWN);
        const verdicts = await flood();
        expect(verdicts.every((verdict) => !verdict.ok && verdict.reason === 'unknown_key')).toBe(true);
        for (let i = 0; i < 5; i += 1) {
          clock.advance(COOLDOWN / 10);
          await flood();
        }
        // One read per cooldown window (the flood at its start), none for the floods inside it.
        expect(issuer.reads.jwks).toBe(1 + step);
      }
      expect(issuer.reads.discovery).toBe(1);
      accepted(await v.verify(issuer.sign(), [policy()]));
    });

    it('reads at most once per cooldown when the flood comes first, at a cold start', async () => {
      const v = verifier();
      await Promise.all(
        Array.from({ length: 100 }, () => v.verify(issuer.sign({}, { kid: randomBytes(8).toString('hex'), signWith: 'ed-1' }), [policy()])),
      );
      expect(issuer.reads).toEqual({ discovery: 1, jwks: 1 });
      // The genuine key was read with them.
      accepted(await v.verify(issuer.sign(), [policy()]));
      expect(issuer.reads).toEqual({ discovery: 1, jwks: 1 });
    });

    it('picks up a rotated key once the cooldown has passed, and drops a retired one when the set is read again', async () => {
      const rotating = new OidcTestIssuer('https://rotating.example', undefined, () => clock.millis());
      const oldKid = rotating.adoptKey(KEYS.ES256);
      serve(rotating);
      const trusted = policy({ issuer: rotating.issuer });
      const v = verifier();
      const oldToken = rotating.sign();
      accepted(await v.verify(oldToken, [trusted]));

      clock.advance(COOLDOWN / 2);
      const newKid = rotating.rotate({ alg: 'ES256', retire: true });
      expect(newKid).not.toBe(oldKid);
      const newToken = rotating.sign();
      // Within the cooldown of the last read: not read again yet.
      expect(refused(await v.verify(newToken, [trusted])).reason).toBe('unknown_key');
      expect(rotating.reads.jwks).toBe(1);
      clock.advance(COOLDOWN / 2);
      expect(accepted(await v.verify(newToken, [trusted])).token.keyId).toBe(newKid);
      expect(rotating.reads.jwks).toBe(2);
      // The retired key left the set with that read.
      expect(refused(await v.verify(rotating.sign({}, { kid: oldKid }), [trusted])).reason).toBe('unknown_key');
    });

    it('reads the set (and discovery) again once it is ten minutes old, even for known keys', async () => {
      const v = verifier();
      accepted(await v.verify(issuer.sign(), [policy()]));
      clock.advance(MAX_AGE - 1);
      accepted(await v.verify(issuer.sign(), [policy()]));
      expect(issuer.reads).toEqual({ discovery: 1, jwks: 1 });
      clock.advance(1);
      issuer.unpublish(KEYS.RS256.kid);
      expect(refused(await v.verify(issuer.sign(), [policy()])).reason).toBe('unknown_key');
      expect(issuer.reads).toEqual({ discovery: 2, jwks: 2 });
    });

    it('keeps known keys through an issuer outage up to an hour after they were read, reading once per cooldown meanwhile', async () => {
      const v = verifier();
      accepted(await v.verify(issuer.sign(), [policy()]));
      issuer.failWith = { discovery: 503, jwks: 503 };
      clock.advance(MAX_AGE);
      accepted(await v.verify(issuer.sign(), [policy()]));
      accepted(await v.verify(issuer.sign(), [policy()]));
      expect(issuer.reads.discovery).toBe(2);
      clock.advance(DEFAULT_ISSUER_KEY_BOUNDS.staleKeyLimitMs - MAX_AGE - 1);
      accepted(await v.verify(issuer.sign(), [policy()]));
      clock.advance(1);
      const verdict = refused(await v.verify(issuer.sign(), [policy()]));
      expect(verdict.reason).toBe('issuer_unavailable');
      expect(verdict.detail).toMatch(/503/);
      expect(log.lines.some((line) => line.includes('could not be read'))).toBe(true);
      // The issuer is back: the next read (after the cooldown) restores it.
      issuer.failWith = {};
      clock.advance(COOLDOWN);
      accepted(await v.verify(issuer.sign(), [policy()]));
    });

    it('reads an unreachable issuer at most once per cooldown', async () => {
      issuer.failWith = { discovery: 500 };
      const v = verifier();
      for (let i = 0; i < 10; i += 1) expect(refused(await v.verify(issuer.sign(), [policy()])).reason).toBe('issuer_unavailable');
      expect(issuer.reads.discovery).toBe(1);
      clock.advance(COOLDOWN);
      issuer.failWith = {};
      accepted(await v.verify(issuer.sign(), [policy()]));
      expect(issuer.reads).toEqual({ discovery: 2, jwks: 1 });
    });

    it('refuses an issuer whose discovery document names another issuer, without reading its key set', async () => {
      issuer.discoveryOverrides = { issuer: 'https://evil.example' };
      const verdict = refused(await verifier().verify(issuer.sign(), [policy()]));
      expect(verdict).toMatchObject({ reason: 'issuer_unavailable', detail: 'discovery document names another issuer' });
      expect(issuer.reads).toEqual({ discovery: 1, jwks: 0 });
    });

    it.each([
      ['http in production', 'http://issuer.example/jwks', false],
      ['http on loopback in production', 'http://127.0.0.1:8080/jwks', false],
      ['http on another host in local mode', 'http://issuer.example/jwks', true],
      ['a file', 'file:///etc/passwd', true],
      ['credentials in it', 'https://user:pass@issuer.example/jwks', false],
      ['not a URL', 'jwks', false],
    ])('refuses a jwks_uri with %s, without reading it', async (_name, jwksUri, localMode) => {
      issuer.discoveryOverrides = { jwks_uri: jwksUri };
      fetch.serve(jwksUri, () => issuer.answer(issuer.jwksUri)!);
      const verdict = refused(await verifier({ localMode }).verify(issuer.sign(), [policy()]));
      expect(verdict.reason).toBe('issuer_not_allowed');
      expect(verdict.detail).toMatch(/^jwks_uri not read/);
      expect(fetch.count(jwksUri)).toBe(0);
    });

    it('refuses an issuer at an address the outbound guard refuses as issuer_not_allowed, asking again only after the cooldown', async () => {
      const why = 'issuer.example resolves to 127.0.0.1 (loopback, 127.0.0.0/8), not a public address';
      fetch.refuse(issuer.discoveryUrl, why);
      const v = verifier();
      for (let i = 0; i < 5; i += 1) {
        expect(refused(await v.verify(issuer.sign(), [policy()]))).toMatchObject({
          reason: 'issuer_not_allowed',
          detail: `not read (not_allowed): ${why}`,
          issuer: ISSUER,
        });
      }
      expect(fetch.count(issuer.discoveryUrl)).toBe(1);
      fetch.allow(issuer.discoveryUrl);
      clock.advance(COOLDOWN);
      accepted(await v.verify(issuer.sign(), [policy()]));
    });

    it('keeps keys read from a public address when the name later resolves elsewhere, until the stale limit; then issuer_not_allowed', async () => {
      const v = verifier();
      accepted(await v.verify(issuer.sign(), [policy()]));
      fetch.refuse(issuer.discoveryUrl, 'issuer.example resolves to 169.254.169.254 (link-local, 169.254.0.0/16)');
      clock.advance(MAX_AGE);
      accepted(await v.verify(issuer.sign(), [policy()]));
      clock.advance(DEFAULT_ISSUER_KEY_BOUNDS.staleKeyLimitMs - MAX_AGE);
      expect(refused(await v.verify(issuer.sign(), [policy()]))).toMatchObject({
        reason: 'issuer_not_allowed',
        detail: expect.stringMatching(/169\.254\.169\.254/),
      });
      // A read that fails for another reason is unavailability again.
      fetch.allow(issuer.discoveryUrl);
      issuer.failWith = { discovery: 503 };
      clock.advance(COOLDOWN);
      expect(refused(await v.verify(issuer.sign(), [policy()])).reason).toBe('issuer_unavailable');
    });

    it('reads an http issuer only on loopback and only in local mode', async () => {
      const local = new OidcTestIssuer('http://127.0.0.1:4555', undefined, () => clock.millis());
      local.adoptKey(KEYS.EdDSA);
      serve(local);
      const trusted = policy({ issuer: local.issuer });
      expect(refused(await verifier({ localMode: false }).verify(local.sign(), [trusted])).reason).toBe('issuer_not_allowed');
      expect(fetch.requests).toEqual([]);
      accepted(await verifier({ localMode: true }).verify(local.sign(), [trusted]));
    });

    it('refuses a key set over 64 KiB, and takes one of exactly 64 KiB', async () => {
      issuer.jwksBytes = 64 * 1024 + 1;
      const verdict = refused(await verifier().verify(issuer.sign(), [policy()]));
      expect(verdict.reason).toBe('issuer_unavailable');
      expect(verdict.detail).toMatch(/too_large/);
      issuer.jwksBytes = 64 * 1024;
      accepted(await verifier().verify(issuer.sign(), [policy()]));
    });

    it('refuses a discovery document or key set that is not what it should be', async () => {
      for (const broken of ['not json', '{"keys":"none"}', JSON.stringify({ keys: Array(201).fill({}) })]) {
        fetch.serve(issuer.jwksUri, broken);
        expect(refused(await verifier().verify(issuer.sign(), [policy()])).reason).toBe('issuer_unavailable');
      }
      fetch.serve(issuer.discoveryUrl, JSON.stringify({ issuer: ISSUER }));
      expect(refused(await verifier().verify(issuer.sign(), [policy()])).detail).toMatch(/without issuer and jwks_uri/);
    });

    it('holds at most so many keys per issuer, and so many issuers', async () => {
      const crowded = new OidcTestIssuer('https://crowded.example', undefined, () => clock.millis());
      for (let i = 0; i < 5; i += 1) crowded.adoptKey(generateSigningKey('EdDSA', `ed-${i}`));
      serve(crowded);
      const trusted = policy({ issuer: crowded.issuer });
      const v = verifier({ bounds: { maxKeysPerIssuer: 3, maxIssuers: 1 } });
      accepted(await v.verify(crowded.sign({}, { kid: 'ed-2' }), [trusted]));
      expect(refused(await v.verify(crowded.sign({}, { kid: 'ed-3' }), [trusted])).reason).toBe('unknown_key');
      // Other issuers push it out (the cache gives a used entry a second chance: two rounds): it is read again when it comes back.
      accepted(await v.verify(issuer.sign(), [policy()]));
      accepted(await v.verify(issuer.sign(), [policy()]));
      accepted(await v.verify(crowded.sign({}, { kid: 'ed-0' }), [trusted]));
      expect(crowded.reads).toEqual({ discovery: 2, jwks: 2 });
    });
  });

  describe('malformed tokens, refused unread', () => {
    it.each([
      ['empty', ''],
      ['two segments', 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0'],
      ['four segments', 'a.b.c.d'],
      ['characters outside base64url', 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0=.c2ln'],
      ['a header that is not JSON', `${Buffer.from('not json').toString('base64url')}.eyJpc3MiOiJ4In0.c2ln`],
      ['a payload that is an array', `eyJhbGciOiJSUzI1NiJ9.${Buffer.from('["x"]').toString('base64url')}.c2ln`],
      ['too long', `eyJhbGciOiJSUzI1NiJ9.${'A'.repeat(MAX_TOKEN_LENGTH)}.c2ln`],
    ])('%s', async (_name, token) => {
      expect(refused(await verifier().verify(token, [policy()])).reason).toBe('malformed');
      expect(fetch.requests).toEqual([]);
    });

    it('refuses a crit header, a kid that is not a string, and a token without iss', async () => {
      const v = verifier();
      expect(refused(await v.verify(issuer.sign({}, { header: { crit: ['exp'], exp: 1 } }), [policy()])).reason).toBe('malformed');
      expect(refused(await v.verify(issuer.sign({}, { header: { kid: 7 } }), [policy()])).reason).toBe('malformed');
      expect(refused(await v.verify(issuer.sign({ iss: undefined }), [policy()])).reason).toBe('missing_claim');
      expect(fetch.requests).toEqual([]);
    });
  });
});
