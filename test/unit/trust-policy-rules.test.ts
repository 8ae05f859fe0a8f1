import fc from 'fast-check';
import { isLoopbackHost, issuerModeProblem, issuerShapeProblem } from '../../shared/trust/issuer';
import { onlyWildcards, subjectMatches } from '../../shared/trust/subject-pattern';

/** The rule written the obvious way (a regular expression), to check the linear matcher against. */
const byRegExp = (pattern: string, subject: string): boolean =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
      .join('.*')}$`,
    's',
  ).test(subject);

describe("a trust policy's subject pattern", () => {
  it.each([
    ['repo:acme/checkout:ref:refs/heads/main', 'repo:acme/checkout:ref:refs/heads/main', true],
    ['repo:acme/checkout:ref:refs/heads/main', 'repo:acme/checkout:ref:refs/heads/main2', false],
    ['repo:acme/checkout:ref:refs/heads/main', 'REPO:acme/checkout:ref:refs/heads/main', false],
    ['repo:acme/checkout:*', 'repo:acme/checkout:environment:production', true],
    ['repo:acme/checkout:*', 'repo:acme/checkout:', true],
    ['repo:acme/checkout:*', 'repo:acme/checkout', false],
    ['repo:acme/*', 'repo:acme/billing:ref:refs/tags/v1', true],
    ['repo:acme/*', 'repo:acme-evil/billing:ref:refs/heads/main', false],
    ['repo:*/checkout:ref:refs/heads/main', 'repo:acme/checkout:ref:refs/heads/main', true],
    ['repo:*/checkout:ref:refs/heads/main', 'repo:acme/checkout:ref:refs/heads/main:extra', false],
    ['a*b*a', 'aba', true],
    ['a*b*a', 'ab', false],
    ['a*a', 'a', false],
    ['*:prod', 'system:serviceaccount:ns:prod', true],
    ['system:serviceaccount:ns:*', 'system:serviceaccount:ns:', true],
    // Parts never share characters: each needs its own.
    ['*aa*aa*', 'aaa', false],
    ['*aa*aa*', 'aaaa', true],
    ['x*ab*ba*y', 'xabay', false],
    ['x*ab*ba*y', 'xabbay', true],
  ])('%s matches %s: %s', (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });

  it('agrees with the rule written as a regular expression, on any pattern and subject', () => {
    // Few letters, so that parts repeat and overlap; regular-expression characters and newlines, so that they are literal.
    const text = fc.oneof(
      fc.string({ unit: fc.constantFrom('a', 'b', '*'), maxLength: 8 }),
      fc.string({ unit: fc.constantFrom('a', 'b', ':', '/', '*', '.', '\n'), maxLength: 12 }),
    );
    fc.assert(
      fc.property(text, text, (pattern, subject) => {
        expect({ pattern, subject, matches: subjectMatches(pattern, subject) }).toEqual({
          pattern,
          subject,
          matches: byRegExp(pattern, subject),
        });
      }),
      { numRuns: 5000 },
    );
  });

  it('answers at once on a pattern that makes a backtracking matcher run for minutes', () => {
    // No regular expression: each part is found once, left to right (a `.*a.*a…b` regex backtracks here).
    expect(subjectMatches(`${'*a'.repeat(40)}*b`, 'a'.repeat(500))).toBe(false);
    expect(subjectMatches(`${'*a'.repeat(40)}*b`, `${'a'.repeat(500)}b`)).toBe(true);
  });

  it('tells a pattern of nothing but stars and spaces (which admits anyone, or next to anyone)', () => {
    expect(['', '*', '***', ' * ', '* *'].map(onlyWildcards)).toEqual([true, true, true, true, true]);
    expect(['a*', '*a', '*.*'].map(onlyWildcards)).toEqual([false, false, false]);
  });
});

describe("a trust policy's issuer", () => {
  it.each([
    'https://token.actions.githubusercontent.com',
    'https://login.microsoftonline.com/0b3a7b2a-1c2d-4e5f-8a9b-0c1d2e3f4a5b/v2.0',
    'https://oidc.eks.eu-west-1.amazonaws.com/id/ABC123',
    'https://accounts.google.com',
    'http://127.0.0.1:8443/issuer',
  ])('takes the shape of %s', (issuer) => {
    expect(issuerShapeProblem(issuer)).toBeUndefined();
  });

  it.each([
    ['ftp://example.com', 'must be an https URL'],
    ['https://example.com/?tenant=1', 'query'],
    ['https://example.com/#frag', 'fragment'],
    ['https://user:pw@example.com', 'credentials'],
    [' https://example.com', 'printable'],
    ['https://exa mple.com', 'printable'],
    ['HTTPS://EXAMPLE.COM', 'must be an https URL'],
    ['https://', 'must be an https URL'],
    ['https://[::1', 'must be an https URL'],
  ])('refuses the shape of %j', (issuer, problem) => {
    expect(issuerShapeProblem(issuer)).toContain(problem);
  });

  it('takes http only for a loopback host, and only in local mode', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]']) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['example.com', '10.0.0.1', 'localhost.example.com', '0.0.0.0', '128.0.0.1'])
      expect(isLoopbackHost(host)).toBe(false);
    expect(issuerModeProblem('https://issuer.example.com', false)).toBeUndefined();
    expect(issuerModeProblem('http://127.0.0.1:9000', true)).toBeUndefined();
    expect(issuerModeProblem('http://localhost:9000/x', true)).toBeUndefined();
    expect(issuerModeProblem('http://[::1]:9000', true)).toBeUndefined();
    expect(issuerModeProblem('http://127.0.0.1:9000', false)).toBe('must be https');
    expect(issuerModeProblem('http://issuer.example.com', true)).toContain('loopback');
  });
});
