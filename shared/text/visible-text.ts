/**
 * Text that shows what it says. Names people read in the portal and the audit log (labels,
 * application and customer names, reasons) must not carry characters that render as nothing
 * or reorder what is around them: a label with a right-to-left override, a zero-width space or
 * a variation selector can display as another label.
 *
 * Refused: every default-ignorable code point (the Unicode property Default_Ignorable_Code_Point,
 * read from the engine's Unicode data, not listed here: zero-width spaces and joiners, variation
 * selectors, Hangul fillers, the combining grapheme joiner, tags, Mongolian free variation
 * selectors, …), control characters (Cc), format characters (Cf: bidirectional overrides and
 * isolates, the byte-order mark, soft hyphens), line and paragraph separators, private-use and
 * unassigned code points, spaces other than U+0020, and the braille blank (it draws as a blank).
 * Emoji pass in their plain form; an emoji presentation selector (U+FE0F) is refused like any
 * variation selector.
 */
const INVISIBLE =
  /[\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\u2800]/u;

const DEFAULT_IGNORABLE_ALL = /\p{Default_Ignorable_Code_Point}/gu;

/** The first character that would hide or disguise text, as `U+XXXX`, or undefined. */
export function invisibleCharacter(text: string): string | undefined {
  const match = INVISIBLE.exec(text);
  return match ? `U+${match[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` : undefined;
}

const INVISIBLE_ALL = new RegExp(INVISIBLE.source, 'gu');

/** Text with every such character removed (for names we must take as given, like a token's). */
export function withoutInvisibles(text: string): string {
  return text.replace(INVISIBLE_ALL, '');
}

/**
 * Text without its default-ignorable code points: what comparisons of names see (two labels
 * that differ only by characters that render as nothing are the same label).
 */
export function withoutDefaultIgnorables(text: string): string {
  return text.replace(DEFAULT_IGNORABLE_ALL, '');
}

let pattern: string | undefined;

/**
 * The same rule as a JSON Schema `pattern` (for the OpenAPI document): every character allowed,
 * as explicit ranges, at least one of them not a space. Regex engines disagree on `\p{…}`
 * classes, so the ranges are spelled out: BMP characters as `\uXXXX`, others as themselves,
 * which ECMAScript (with `u`), Python and Rust engines all read alike. Built once, on first use,
 * from the very expression the check uses, for the Unicode version of the running Node.
 */
export function visibleTextPattern(): string {
  if (pattern !== undefined) return pattern;
  const spell = (code: number) => (code <= 0xffff ? `\\u${code.toString(16).padStart(4, '0')}` : String.fromCodePoint(code));
  const ranges: string[] = [];
  let start = -1;
  for (let code = 0; code <= 0x110000; code++) {
    const allowed = code < 0x110000 && (code < 0xd800 || code > 0xdfff) && !INVISIBLE.test(String.fromCodePoint(code));
    if (allowed && start < 0) start = code;
    if (!allowed && start >= 0) {
      const end = code - 1;
      ranges.push(start === end ? spell(start) : `${spell(start)}-${spell(end)}`);
      start = -1;
    }
  }
  pattern = `^(?! *$)[${ranges.join('')}]*$`;
  return pattern;
}
