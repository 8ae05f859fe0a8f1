/**
 * A trust policy's subject: the identity token's `sub` exactly, where `*` matches any run of
 * characters (none included; `/` and `:` too). Everything else is literal and compared as is
 * (case included). `repo:acme/checkout:*` admits every ref and environment of one repository;
 * `repo:acme/*` every repository of an organisation.
 *
 * Matching is linear in the subject for each star (no regular expression, so no pattern can make
 * it backtrack for long); both sides are bounded in length by the schemas.
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  const parts = pattern.split('*');
  const first = parts[0]!;
  if (parts.length === 1) return pattern === subject;
  const last = parts[parts.length - 1]!;
  if (subject.length < first.length + last.length || !subject.startsWith(first) || !subject.endsWith(last)) return false;
  // The middle parts in order, each at its earliest place after the previous one (greedy is exact for `*` alone).
  let at = first.length;
  const end = subject.length - last.length;
  for (const part of parts.slice(1, -1)) {
    if (part === '') continue;
    const found = subject.indexOf(part, at);
    if (found === -1 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/**
 * Whether a pattern is nothing but stars (and spaces): one that admits any subject, or next to any.
 * Refused when a policy is written: a policy names who it trusts.
 */
export const onlyWildcards = (pattern: string): boolean => /^[ *]*$/.test(pattern);
