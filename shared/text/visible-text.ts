/**
 * Text that shows what it says. Names people read in the portal and the audit log (labels,
 * application and customer names, reasons) must not carry characters that render as nothing
 * or reorder what is around them: a label with a right-to-left override or a zero-width space
 * can display as another label.
 *
 * Refused: control characters (Cc), format characters (Cf: bidirectional overrides and
 * isolates, zero-width spaces and joiners, the byte-order mark, soft hyphens), line and
 * paragraph separators, private-use and unassigned code points, spaces other than U+0020, and
 * the characters that draw as blanks (Hangul fillers, the braille blank, the combining
 * grapheme joiner). Variation selectors stay allowed (emoji need them).
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\u034f\u115f\u1160\u3164\uffa0\u2800\u180e]/u;

/** The first character that would hide or disguise text, as `U+XXXX`, or undefined. */
export function invisibleCharacter(text: string): string | undefined {
  const match = INVISIBLE.exec(text);
  return match ? `U+${match[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` : undefined;
}

/** Text with every such character removed (for names we must take as given, like a token's). */
export function withoutInvisibles(text: string): string {
  return text.replace(new RegExp(INVISIBLE.source, 'gu'), '');
}
