import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { SECRET_LENGTH, SECRET_RANDOM_BYTES, generateSecret, hasValidChecksum, parsePresentedKey } from '../../shared/keys/compound-key';
import {
  FEDERATED_TOKEN_PATTERN,
  MAX_FEDERATED_TOKEN_LENGTH,
  federatedSecretFromRandom,
  formatFederatedToken,
  generateFederatedSecret,
  hasFederatedChecksum,
  parseFederatedToken,
  splitFederatedToken,
} from '../../shared/keys/federated-token';

const slugArb = fc
  .array(fc.stringMatching(/^[a-z0-9]{1,6}$/), { minLength: 1, maxLength: 5 })
  .map((parts) => parts.join('-'))
  .filter((s) => s.length >= 2 && s.length <= 32);
const randomArb = fc.uint8Array({ minLength: SECRET_RANDOM_BYTES, maxLength: SECRET_RANDOM_BYTES });

describe('federated access token: happy path', () => {
  it('formats, parses and splits back to the same parts', () => {
    fc.assert(
      fc.property(slugArb, randomArb, (slug, random) => {
        const secret = federatedSecretFromRandom(random);
        const token = formatFederatedToken({ slug, secret });
        expect(token.length).toBeLessThanOrEqual(MAX_FEDERATED_TOKEN_LENGTH);
        expect(parseFederatedToken(token)).toEqual({ ok: true, value: { slug, secret } });
        expect(splitFederatedToken(token)).toEqual({ slug, secret });
        expect(`token: ${token}\n`.match(FEDERATED_TOKEN_PATTERN)?.[0]).toBe(token);
      }),
    );
  });

  it('generates 43-character secrets of 32 bytes, all distinct, each with its checksum', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const secret = generateFederatedSecret();
      expect(secret).toHaveLength(SECRET_LENGTH);
      expect(hasFederatedChecksum(secret)).toBe(true);
      seen.add(secret);
    }
    expect(seen.size).toBe(1000);
  });
});

describe('federated access token: a key never passes for a token, nor a token for a key', () => {
  it("holds a checksum over its own prefix: a key's secret fails it, and a token's secret fails a key's", () => {
    fc.assert(
      fc.property(randomArb, (random) => {
        const secret = federatedSecretFromRandom(random);
        expect(hasFederatedChecksum(secret)).toBe(true);
        expect(hasValidChecksum(secret)).toBe(false);
      }),
    );
    for (let i = 0; i < 200; i++) {
      const keySecret = generateSecret();
      expect(hasFederatedChecksum(keySecret)).toBe(false);
      expect(parseFederatedToken(`vp_fed_acme.${keySecret}`)).toEqual({ ok: false, reason: 'bad_checksum' });
      const tokenSecret = generateFederatedSecret();
      expect(parsePresentedKey(tokenSecret, true)).toEqual({ ok: false, error: { reason: 'bad_checksum' } });
    }
  });
});

describe('federated access token: error path', () => {
  const secret = generateFederatedSecret();
  it.each([
    ['', 'empty'],
    [`vp_fed_acme.${secret}x`.padEnd(MAX_FEDERATED_TOKEN_LENGTH + 1, 'x'), 'too_long'],
    [`vp_cust_acme.${secret}`, 'bad_prefix'],
    [`vp_fed_acme${secret}`, 'bad_structure'],
    [`vp_fed_acme.x.${secret}`, 'bad_structure'],
    [`vp_fed_ACME.${secret}`, 'bad_slug'],
    [`vp_fed_a.${secret}`, 'bad_slug'],
    [`vp_fed_acme.${secret.slice(1)}`, 'bad_secret'],
    [`vp_fed_acme.${secret.slice(0, -1)}B`, 'bad_secret'], // not canonical base64url in its last character
  ])('refuses %j as %s', (input, reason) => {
    expect(parseFederatedToken(input)).toEqual({ ok: false, reason });
  });

  it('splits only what has the structure (prefix, one dot, a secret of the secret length)', () => {
    expect(splitFederatedToken(`vp_fed_acme.${secret}`)).toEqual({ slug: 'acme', secret });
    expect(splitFederatedToken(`vp_fed_acme.${secret}x`)).toBeUndefined();
    expect(splitFederatedToken(`vp_fed_acme${secret}`)).toBeUndefined();
    expect(splitFederatedToken(secret)).toBeUndefined();
  });

  it("states the scanners' pattern in the docs as the code has it, and in what GitHub's partner program is given", () => {
    expect(readFileSync(join(__dirname, '..', '..', 'docs', 'workload-identity.md'), 'utf8')).toContain(
      `PATTERN='${FEDERATED_TOKEN_PATTERN.source}'`,
    );
    expect(readFileSync(join(__dirname, '..', '..', 'docs', 'operations.md'), 'utf8')).toContain(
      `| \`veriproof_federated_token\` (access tokens of the token exchange) | \`${FEDERATED_TOKEN_PATTERN.source}\` |`,
    );
  });

  it('a lookalike of the shape without the checksum is not a token', () => {
    const lookalike = `vp_fed_acme.${'A'.repeat(42)}A`;
    expect(FEDERATED_TOKEN_PATTERN.test(lookalike)).toBe(true);
    expect(parseFederatedToken(lookalike)).toEqual({ ok: false, reason: 'bad_checksum' });
  });
});
