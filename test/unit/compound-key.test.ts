import fc from 'fast-check';
import {
  COMPONENT_LENGTH,
  MAX_KEY_LENGTH,
  SECRET_LENGTH,
  displayForm,
  formatCompoundKey,
  generateComponent,
  generateSecret,
  hashSecret,
  isValidSlug,
  parseCompoundKey,
  parsePresentedKey,
} from '../../shared/keys/compound-key';

const slugArb = fc
  .array(fc.stringMatching(/^[a-z0-9]{1,6}$/), { minLength: 1, maxLength: 5 })
  .map((parts) => parts.join('-'))
  .filter((s) => s.length >= 2 && s.length <= 32);
const componentArb = fc.stringMatching(/^[A-Za-z0-9]{32}$/);
const secretArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64url'));

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
            expect(['empty', 'too_long', 'bad_prefix', 'bad_structure', 'bad_slug', 'bad_component', 'bad_secret']).toContain(
              parsed.error.reason,
            );
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
    // 'B' as last character sets a padding bit: it decodes to the same bytes as 'A' but is not canonical.
    const canonical = `${'A'.repeat(42)}A`;
    const nonCanonical = `${'A'.repeat(42)}B`;
    expect(parsePresentedKey(canonical, true).ok).toBe(true);
    expect(parsePresentedKey(nonCanonical, true)).toEqual({ ok: false, error: { reason: 'bad_secret' } });
    expect(parsePresentedKey(`${'A'.repeat(42)}=`, true).ok).toBe(false);
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
