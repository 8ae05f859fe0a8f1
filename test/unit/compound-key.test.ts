import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  COMPONENT_LENGTH,
  KEY_PATTERN,
  MAX_KEY_LENGTH,
  SECRET_RANDOM_BYTES,
  SECRET_LENGTH,
  displayForm,
  formatCompoundKey,
  generateComponent,
  generateSecret,
  hasValidChecksum,
  hashSecret,
  isValidSlug,
  parseCompoundKey,
  parsePresentedKey,
  secretFromRandom,
} from '../../shared/keys/compound-key';

const slugArb = fc
  .array(fc.stringMatching(/^[a-z0-9]{1,6}$/), { minLength: 1, maxLength: 5 })
  .map((parts) => parts.join('-'))
  .filter((s) => s.length >= 2 && s.length <= 32);
const componentArb = fc.stringMatching(/^[A-Za-z0-9]{32}$/);
const secretArb = fc.uint8Array({ minLength: SECRET_RANDOM_BYTES, maxLength: SECRET_RANDOM_BYTES }).map((b) => secretFromRandom(b));

describe('compound key: happy path', () => {
  it('formats and parses back to the same parts', () => {
    fc.assert(
      fc.property(slugArb, componentArb, secretArb, (slug, component, secret) => {
        const parsed = parseCompoundKey(formatCompoundKey({ slug, component, secret }));
        expect(parsed).toEqual({ ok: true, value: { slug, component, secret } });
      }),
    );
  });

  it('generates secrets of 32 CSPRNG bytes as 43 base64url characters, all distinct', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const secret = generateSecret();
      expect(secret).toHaveLength(SECRET_LENGTH);
      expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
      expect(parsePresentedKey(secret, true).ok).toBe(true);
      seen.add(secret);
    }
    expect(seen.size).toBe(2000);
  });

  it('generates components of 32 alphanumerics using the whole alphabet', () => {
    const chars = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const component = generateComponent();
      expect(component).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(component).toHaveLength(COMPONENT_LENGTH);
      for (const c of component) chars.add(c);
    }
    expect(chars.size).toBe(62);
  });

  it('hashes the secret segment with SHA-256 (hex) and nothing else', () => {
    // The SHA-256 of "abc" is a published test vector.
    expect(hashSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const secret = generateSecret();
    const key = formatCompoundKey({ slug: 'acme', component: generateComponent(), secret });
    expect(hashSecret(secret)).not.toBe(hashSecret(key));
  });

  it('masks to the prefix with the first and last four characters of the secret', () => {
    const secret = '3xQrAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAT4wk';
    expect(displayForm('acme', secret)).toBe('vp_cust_acme.…3xQr…T4wk');
  });

  it('accepts a bare secret only where allowed (X-API-Key)', () => {
    const secret = generateSecret();
    expect(parsePresentedKey(secret, true)).toEqual({ ok: true, value: { form: 'secret', secret } });
    expect(parsePresentedKey(secret, false).ok).toBe(false);
  });
});

describe('compound key: error path', () => {
  const good = () => ({ slug: 'acme', component: generateComponent(), secret: generateSecret() });

  it('parses arbitrary strings to an error, never a throw', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (input) => {
        // Random text is not a key (a valid one needs the prefix and three exact segments).
        expect(parseCompoundKey(input).ok).toBe(false);
        expect(parsePresentedKey(input, true).ok).toBe(false);
        expect(parsePresentedKey(input, false).ok).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects near-misses of a valid key with a typed reason', () => {
    fc.assert(
      fc.property(
        slugArb,
        componentArb,
        secretArb,
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 3 }),
        (slug, component, secret, at, junk) => {
          const key = formatCompoundKey({ slug, component, secret });
          const pos = at % (key.length + 1);
          const mutated = key.slice(0, pos) + junk + key.slice(pos);
          const parsed = parseCompoundKey(mutated);
          if (parsed.ok) {
            // Inserting characters can still yield a valid key (say, one more slug letter): then it round-trips.
            expect(formatCompoundKey(parsed.value)).toBe(mutated);
          } else {
            expect([
              'empty',
              'too_long',
              'bad_prefix',
              'bad_structure',
              'bad_slug',
              'bad_component',
              'bad_secret',
              'bad_checksum',
            ]).toContain(parsed.error.reason);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['', 'empty'],
    ['vp_live_abc', 'bad_prefix'],
    ['vp_cust_acme', 'bad_structure'],
    ['vp_cust_acme.a.b.c', 'bad_structure'],
  ])('%j -> %s', (input, reason) => {
    expect(parseCompoundKey(input)).toEqual({ ok: false, error: { reason } });
  });

  it('names the bad segment', () => {
    const { slug, component, secret } = good();
    expect(parseCompoundKey(formatCompoundKey({ slug: 'Acme', component, secret }))).toEqual({ ok: false, error: { reason: 'bad_slug' } });
    expect(parseCompoundKey(formatCompoundKey({ slug, component: component.slice(1), secret }))).toEqual({
      ok: false,
      error: { reason: 'bad_component' },
    });
    expect(parseCompoundKey(formatCompoundKey({ slug, component: `${component.slice(1)}-`, secret }))).toEqual({
      ok: false,
      error: { reason: 'bad_component' },
    });
    expect(parseCompoundKey(formatCompoundKey({ slug, component, secret: secret.slice(1) }))).toEqual({
      ok: false,
      error: { reason: 'bad_secret' },
    });
  });

  it('rejects a secret that is not canonical base64url of 32 bytes', () => {
    // The last character carries 2 padding bits: flipping one decodes to the same bytes, but is not canonical.
    const canonical = secretFromRandom(Buffer.alloc(SECRET_RANDOM_BYTES));
    const nonCanonical = `${canonical.slice(0, 42)}${String.fromCharCode(canonical.charCodeAt(42) + 1)}`;
    expect(parsePresentedKey(canonical, true).ok).toBe(true);
    expect(parsePresentedKey(nonCanonical, true)).toEqual({ ok: false, error: { reason: 'bad_secret' } });
    expect(parsePresentedKey(`${canonical.slice(0, 42)}=`, true).ok).toBe(false);
  });

  it('refuses a secret whose checksum does not match, whichever character is wrong', () => {
    const { slug, component, secret } = good();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let at = 0; at < 42; at++) {
      // Every one-character typo in the first 42 characters (the 43rd only carries padding with its last bits).
      const typo = `${secret.slice(0, at)}${alphabet[(alphabet.indexOf(secret[at]!) + 1) % 64]}${secret.slice(at + 1)}`;
      expect(parsePresentedKey(typo, true)).toEqual({ ok: false, error: { reason: 'bad_checksum' } });
      expect(parseCompoundKey(formatCompoundKey({ slug, component, secret: typo }))).toEqual({
        ok: false,
        error: { reason: 'bad_checksum' },
      });
    }
    // Well-formed random secrets (what a guesser or a lookalike generator makes) almost never pass: 1 in 2^32.
    let passed = 0;
    for (let i = 0; i < 10_000; i++)
      if (hasValidChecksum(Buffer.from(new Uint8Array(32).map(() => Math.floor(Math.random() * 256))).toString('base64url'))) passed++;
    expect(passed).toBe(0);
  });

  it('publishes a pattern that finds our keys in text, and only their shape', () => {
    const keys = Array.from({ length: 200 }, () => formatCompoundKey(good()));
    for (const key of keys) expect(`config = "${key}";`.match(KEY_PATTERN)?.[0]).toBe(key);
    const lookalikes = [
      'vp_live_acme.0123456789abcdefABCDEF0123456789.' + 'A'.repeat(43), // another prefix
      'vp_cust_Acme.0123456789abcdefABCDEF0123456789.' + 'A'.repeat(43), // upper-case slug
      'vp_cust_acme.0123456789abcdefABCDEF012345678.' + 'A'.repeat(43), // a component one short
      'vp_cust_acme.0123456789abcdefABCDEF0123456789.' + 'A'.repeat(42) + 'B', // a non-canonical last character
      'sk_live_' + 'a'.repeat(40),
      'ghp_' + 'a'.repeat(36),
    ];
    for (const text of lookalikes) expect(KEY_PATTERN.test(text)).toBe(false);
    // docs/keys.md publishes this very pattern.
    expect(readFileSync(join(__dirname, '..', '..', 'docs', 'keys.md'), 'utf8')).toContain(`PATTERN='${KEY_PATTERN.source}'`);
    // docs/operations.md gives it to GitHub's partner program.
    expect(readFileSync(join(__dirname, '..', '..', 'docs', 'operations.md'), 'utf8')).toContain(
      `| \`veriproof_api_key\` (ingest and management keys) | \`${KEY_PATTERN.source}\` |`,
    );
  });

  it('rejects over-long input before matching any pattern', () => {
    expect(parseCompoundKey('vp_cust_' + 'a'.repeat(MAX_KEY_LENGTH))).toEqual({ ok: false, error: { reason: 'too_long' } });
    expect(parsePresentedKey('x'.repeat(10_000), true)).toEqual({ ok: false, error: { reason: 'too_long' } });
  });

  it('holds the slug grammar: 2 to 32 characters, lower-case, digits, single inner hyphens', () => {
    for (const ok of ['ab', 'acme', 'acme-corp', 'a1-b2-c3', 'a'.repeat(32)]) expect(isValidSlug(ok)).toBe(true);
    for (const bad of ['a', 'a'.repeat(33), '-acme', 'acme-', 'ac--me', 'Acme', 'ac_me', 'ac.me', 'acmé', ''])
      expect(isValidSlug(bad)).toBe(false);
  });

  it('treats non-string input as empty', () => {
    expect(parseCompoundKey(undefined)).toEqual({ ok: false, error: { reason: 'empty' } });
    expect(parsePresentedKey(42, true)).toEqual({ ok: false, error: { reason: 'empty' } });
  });
});
