import fc from 'fast-check';
import { normalizeLabel } from '../../shared/keys/labels';
import { text } from '../../shared/schemas/keys';
import { invisibleCharacter, withoutDefaultIgnorables, withoutInvisibles } from '../../shared/text/visible-text';

/** The Unicode property, as the engine's own data has it: the reference the rule is checked against. */
const DEFAULT_IGNORABLE = /^\p{Default_Ignorable_Code_Point}$/u;
const isSurrogate = (code: number) => code >= 0xd800 && code <= 0xdfff;
const hex = (code: number) => `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;

/** A label people would type: letters of a few scripts, digits, single spaces and hyphens. */
const plainLabel = fc
  .array(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-é東京ß'.split(''), ' '), { minLength: 1, maxLength: 30 })
  .map((chars) => `x${chars.join('')}`);

describe('visible text: default-ignorable code points', () => {
  it('refuses every default-ignorable code point, naming it (all of Unicode, against the property)', () => {
    const accepted: string[] = [];
    let ignorables = 0;
    for (let code = 0; code <= 0x10ffff; code++) {
      if (isSurrogate(code) || !DEFAULT_IGNORABLE.test(String.fromCodePoint(code))) continue;
      ignorables += 1;
      if (invisibleCharacter(`pro${String.fromCodePoint(code)}d`) !== hex(code)) accepted.push(hex(code));
    }
    expect(accepted).toEqual([]);
    expect(ignorables).toBeGreaterThan(4000); // the property as Unicode defines it, not a short list
  });

  it('refuses a label with a default-ignorable code point anywhere in it, with 400-ready messages naming it', () => {
    const label = text(64, 'checkout-ci');
    fc.assert(
      fc.property(plainLabel, fc.integer({ min: 0, max: 0x10ffff }), fc.nat(), (plain, code, at) => {
        fc.pre(!isSurrogate(code));
        const character = String.fromCodePoint(code);
        const position = at % (plain.length + 1);
        const value = plain.slice(0, position) + character + plain.slice(position);
        const parsed = label.safeParse(value);
        if (DEFAULT_IGNORABLE.test(character)) {
          expect(parsed.success).toBe(false);
          expect(parsed.error?.issues[0]?.message).toContain(`found ${hex(code)}`);
        }
        // The plain label itself always passes.
        expect(label.safeParse(plain).success).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it.each([
    ['a variation selector', 'pro\uFE00d', 'U+FE00'],
    ['the emoji presentation selector', 'heart \u2764\uFE0F', 'U+FE0F'],
    ['a supplementary variation selector (first)', 'pro\u{E0100}d', 'U+E0100'],
    ['a supplementary variation selector (last)', 'pro\u{E01EF}d', 'U+E01EF'],
    ['a Mongolian free variation selector', 'pro\u180Bd', 'U+180B'],
    ['the fourth Mongolian free variation selector', 'pro\u180Fd', 'U+180F'],
    ['a Khmer inherent vowel', 'pro\u17B4d', 'U+17B4'],
    ['the other Khmer inherent vowel', 'pro\u17B5d', 'U+17B5'],
    ['a Hangul filler', '\u3164prod', 'U+3164'],
    ['a tag character', 'prod\u{E0041}', 'U+E0041'],
    ['a zero-width space', 'pro\u200Bd', 'U+200B'],
  ])('refuses %s', (_name, value, named) => {
    expect(invisibleCharacter(value)).toBe(named);
    expect(text(64, 'checkout-ci').safeParse(value).success).toBe(false);
  });

  it('accepts letters, accents, scripts and emoji in their plain form', () => {
    for (const value of ['prod', 'Zürich prod', '東京 ingest', 'rocket 🚀', 'heart \u2764', 'नमस्ते', 'שלום']) {
      expect({ value, hidden: invisibleCharacter(value) }).toEqual({ value, hidden: undefined });
    }
  });

  it('compares labels without default-ignorable code points (uniqueness), and leaves other labels as they compared', () => {
    expect(normalizeLabel('pro\uFE00d')).toBe(normalizeLabel('prod'));
    expect(normalizeLabel('Pro\u{E0100}D ')).toBe(normalizeLabel('prod'));
    expect(normalizeLabel('pro\u180Bd\u17B4')).toBe(normalizeLabel('prod'));
    fc.assert(
      fc.property(plainLabel, (plain) => {
        expect(normalizeLabel(plain)).toBe(plain.trim().normalize('NFKC').toLowerCase());
      }),
    );
    expect(withoutDefaultIgnorables('a\uFE0F\u200Db')).toBe('ab');
  });

  it('drops them from names taken as given (portal tokens)', () => {
    expect(withoutInvisibles('Ada\uFE00 Lovelace\u{E0100}')).toBe('Ada Lovelace');
  });
});
