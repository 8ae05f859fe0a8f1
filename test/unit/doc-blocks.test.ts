import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  normalizeOutput,
  outputMatches,
  pageSlug,
  parseDoc,
  rewritePort,
  shellScript,
  splitOutput,
  splitShell,
  type DocBlock,
} from '../support/doc-blocks';
import { describeReport, describeTotals, redact, runPage, type PageContext } from '../support/doc-session';

/** The convention of the documentation's blocks (header of test/support/doc-blocks.ts), rule by rule. */

const ROOT = resolve(__dirname, '..', '..');
const hasPython = spawnSync('python3', ['-c', 'pass']).status === 0;
const md = (...lines: string[]) => lines.join('\n');
const fence = (lang: string, ...body: string[]) => ['```' + lang, ...body, '```'];
/** The commands of a one-block shell page: [first line, last line, expected text]. */
const commandsOf = (...body: string[]) => {
  const { blocks, problems } = parseDoc(md(...fence('sh', ...body)));
  expect(problems).toEqual([]);
  return blocks[0]!.commands!.map((c) => [c.line, c.endLine, c.expected?.text]);
};
const problemsOf = (...lines: string[]) => parseDoc(md(...lines)).problems;

describe('fenced blocks', () => {
  it('finds every fence with its kind, language and line, and counts the rest as other', () => {
    const { blocks, problems } = parseDoc(
      md(
        '# Title',
        ...fence('sh', 'echo a'),
        ...fence('bash', 'echo b'),
        ...fence('ts', 'const x = 1;'),
        ...fence('typescript title="x.ts"', 'const y = 2;'),
        ...fence('python', 'print(1)'),
        ...fence('py', 'print(2)'),
        ...fence('json', '{"a": 1}'),
        ...fence('text', 'words'),
        ...fence('http', 'GET / HTTP/1.1'),
        ...fence('', 'plain'),
        '~~~bicep',
        'param x string',
        '~~~',
      ),
    );
    expect(problems).toEqual([]);
    expect(blocks.map((b) => [b.line, b.kind, b.lang])).toEqual([
      [2, 'shell', 'sh'],
      [5, 'shell', 'bash'],
      [8, 'typescript', 'ts'],
      [11, 'typescript', 'typescript'],
      [14, 'python', 'python'],
      [17, 'python', 'py'],
      [20, 'json', 'json'],
      [23, 'other', 'text'],
      [26, 'other', 'http'],
      [29, 'other', ''],
      [32, 'other', 'bicep'],
    ]);
    expect(blocks[0]).toMatchObject({ bodyLine: 3, body: 'echo a' });
  });

  it('reads a fence inside a list item without its indentation, and a longer fence around a shorter one', () => {
    const { blocks } = parseDoc(
      md('1. Run:', '', '   ```sh', '   echo hi', '   #> hi', '   ```', '', '````text', '```sh', 'not a block', '```', '````'),
    );
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toMatchObject({ kind: 'shell', body: 'echo hi\n#> hi' });
    expect(blocks[0]!.commands![0]!.expected).toEqual({ line: 5, text: 'hi' });
    expect(blocks[1]).toMatchObject({ kind: 'other', lang: 'text', body: '```sh\nnot a block\n```' });
  });

  it('refuses a fence that is never closed', () => {
    expect(problemsOf('```sh', 'echo a')).toEqual([{ line: 1, message: 'this fence is never closed' }]);
  });
});

describe('shell blocks: commands and their #> lines', () => {
  it('gives #> lines to the command directly before them, and nothing to commands without', () => {
    expect(commandsOf('X=1', 'echo $X', '#> 1', '# a comment', '', 'echo two', 'echo "a  b"', '#> a  b', '#>', '#> after a blank')).toEqual(
      [
        [2, 2, undefined],
        [3, 3, '1'],
        [7, 7, undefined],
        [8, 8, 'a  b\n\nafter a blank'],
      ],
    );
  });

  it('keeps a trailing comment on a command, and a # inside a word', () => {
    expect(commandsOf('echo a#b   # prints a#b', '#> a#b')).toEqual([[2, 2, 'a#b']]);
  });

  it('reads \\ continuations, lines ending in | && ||, and quotes spanning lines as one command', () => {
    expect(
      commandsOf(
        'curl -s localhost:7071/v1/whoami \\',
        '  -H "X-API-Key: $KEY"',
        '#> {"ok":true}',
        'printf "%s\\n" "first',
        'second" \'third',
        '#> not expected: still inside the quote',
        "fourth'",
        '#> first',
        'seq 3 |',
        '  wc -l &&',
        '  true ||',
        '  false',
        '#> 3',
        'JSON=$(cat <<EOF',
        '{"a": "$(echo b)"}',
        'EOF',
        ')',
        'echo "$JSON"',
        '#> {"a": "b"}',
      ),
    ).toEqual([
      [2, 3, '{"ok":true}'],
      [5, 8, 'first'],
      [10, 13, '3'],
      [15, 18, undefined],
      [19, 19, '{"a": "b"}'],
    ]);
  });

  it("reads a heredoc (<<'PY', <<EOF, <<-EOF) to its end; #> lines inside it are its text", () => {
    expect(
      commandsOf(
        "python3 - <<'PY'",
        'print("hi")',
        '#> inside the heredoc',
        'PY',
        '#> hi',
        'cat <<EOF | tr a-z A-Z',
        'x',
        'EOF',
        '#> X',
        'cat <<-EOF',
        '\tindented',
        '\tEOF',
        '#> indented',
        'echo $(( 1 << 2 ))',
        '#> 4',
        'cat <<< "here-string"',
        '#> here-string',
      ),
    ).toEqual([
      [2, 5, 'hi'],
      [7, 9, 'X'],
      [11, 13, 'indented'],
      [15, 15, '4'],
      [17, 17, 'here-string'],
    ]);
  });

  it('reads if/for/while/case/{ }/( ) to their end as one command', () => {
    expect(
      commandsOf(
        'for n in 1 2; do',
        '  if [ "$n" = 1 ]; then echo one; else echo "fi done"; fi',
        'done',
        '#> one',
        '#> fi done',
        'case "$X" in',
        '  a) echo A ;;',
        '  *) echo other ;;',
        'esac',
        '#> other',
        '{ echo grouped',
        '}',
        '#> grouped',
        '(',
        '  echo sub',
        ')',
        '#> sub',
        'f() {',
        '  echo "${1:-{x}}"',
        '}',
        'while false; do :; done',
        'function g {',
        '  (cd /; pwd)',
        '}',
      ),
    ).toEqual([
      [2, 4, 'one\nfi done'],
      [7, 10, 'other'],
      [12, 13, 'grouped'],
      [15, 17, 'sub'],
      [19, 21, undefined],
      [22, 22, undefined],
      [23, 25, undefined],
    ]);
  });

  it('refuses #> lines that follow no command, sit inside one, or lack the space', () => {
    expect(
      splitShell(md('#> first line', 'echo a', '', '#> after a blank', 'echo b', '# comment', '#> after a comment'), 10).problems,
    ).toEqual([
      { line: 10, message: '#> lines must directly follow a command (no blank or comment line between)' },
      { line: 13, message: '#> lines must directly follow a command (no blank or comment line between)' },
      { line: 16, message: '#> lines must directly follow a command (no blank or comment line between)' },
    ]);
    expect(splitShell(md('echo a', '#>a'), 1).problems).toEqual([
      { line: 2, message: 'an expected-output line starts with "#> " (or is "#>")' },
    ]);
    expect(splitShell(md('for n in 1; do', '  echo $n', '  #> 1', 'done'), 1).problems).toEqual([
      {
        line: 3,
        message: '#> inside an unfinished command (after \\, |, && or inside if/for/while/case/{ }): put it after the whole command',
      },
    ]);
  });

  it('refuses a block that ends inside an unfinished command', () => {
    expect(splitShell(md('echo "open'), 1).problems[0]!.message).toMatch(/unfinished command: an open quote/);
    expect(splitShell(md("python3 - <<'PY'", 'print(1)'), 1).problems[0]!.message).toMatch(/an open heredoc \(no line "PY"\)/);
    expect(splitShell(md('echo a \\'), 1).problems[0]!.message).toMatch(/an open continued line/);
    expect(splitShell(md('if true; then', 'echo a'), 1).problems[0]!.message).toMatch(/compound command/);
  });
});

describe('shell blocks the test must not run', () => {
  it('refuses npm install/ci, npm start, func start, npm test, npm run build/bench unless the block is skipped', () => {
    const message = (cmd: string, why: string) => ({
      line: 2,
      message: `"${cmd}" ${why}: the test cannot run it; mark the block <!-- doc-test: skip "name" reason -->`,
    });
    expect(problemsOf(...fence('sh', 'npm install && npm start'))).toEqual([message('npm install', 'changes node_modules')]);
    expect(problemsOf(...fence('sh', 'npm ci'))).toEqual([message('npm ci', 'changes node_modules')]);
    expect(problemsOf(...fence('sh', 'PORT=8080 npm start'))).toEqual([message('npm start', 'starts a host that runs until Ctrl-C')]);
    expect(problemsOf(...fence('sh', 'func start'))).toEqual([message('func start', 'starts a host that runs until Ctrl-C')]);
    expect(problemsOf(...fence('sh', 'npm run bench -- --figure x'))).toEqual([
      message('npm run bench', 'rewrites dist/ while other tests start hosts from it'),
    ]);
    expect(problemsOf(...fence('sh', 'npm run azurite'))).toEqual([message('npm run azurite', 'starts a host that runs until Ctrl-C')]);
    expect(problemsOf(...fence('sh', 'npm test'))).toEqual([message('npm test', 'runs the test suite (and this test in it)')]);
    expect(problemsOf(...fence('sh', 'npm run test:python'))).toEqual([
      message('npm run test', 'runs the test suite (and this test in it)'),
    ]);
    expect(
      problemsOf('<!-- doc-test: skip "first start" installs and runs until Ctrl-C -->', ...fence('sh', 'npm install && npm start')),
    ).toEqual([]);
    expect(problemsOf(...fence('sh', 'npm run -s admin -- token --role Staff   # not npm start', 'npm run typecheck'))).toEqual([]);
  });
});

describe('expected output of ts and python blocks', () => {
  it('is the text block under <!-- output --> after the block (blank lines allowed between)', () => {
    const { blocks, problems } = parseDoc(
      md(
        ...fence('ts', 'console.log(1);'),
        '',
        '<!-- output -->',
        ...fence('text', '1'),
        ...fence('python', 'print(2)'),
        '<!-- output -->',
        ...fence('text', '2'),
      ),
    );
    expect(problems).toEqual([]);
    expect(blocks.map((b) => [b.kind, b.expected])).toEqual([
      ['typescript', { line: 7, text: '1' }],
      ['output', undefined],
      ['python', { line: 14, text: '2' }],
      ['output', undefined],
    ]);
  });

  it('refuses <!-- output --> elsewhere: not after ts/python, not above text, prose between, not above a fence', () => {
    expect(problemsOf(...fence('sh', 'echo 1'), '<!-- output -->', ...fence('text', '1'))).toEqual([
      { line: 4, message: '<!-- output --> must follow a ts or python block (only blank lines between)' },
    ]);
    expect(problemsOf(...fence('ts', 'x'), '<!-- output -->', ...fence('json', '1'))).toEqual([
      { line: 4, message: '<!-- output --> must stand above a ```text block' },
    ]);
    expect(problemsOf(...fence('ts', 'x'), 'Prints:', '<!-- output -->', ...fence('text', '1'))).toEqual([
      { line: 5, message: '<!-- output --> must follow a ts or python block (only blank lines between)' },
    ]);
    expect(problemsOf(...fence('ts', 'x'), '<!-- output -->', '', ...fence('text', '1'))).toEqual([
      { line: 4, message: '<!-- output --> is not on the line directly above a fence' },
    ]);
  });
});

describe('json blocks', () => {
  it('may not hold …', () => {
    expect(problemsOf(...fence('json', '{"id": "cus_…"}'))).toEqual([
      { line: 1, message: 'a json block may not contain … (it must be valid JSON)' },
    ]);
  });
});

describe('skipping', () => {
  it('skips the block under <!-- doc-test: skip "name" reason --> with its name and reason', () => {
    const { blocks, problems } = parseDoc(
      md('<!-- doc-test: skip "deploy to Azure" needs an Azure subscription -->', ...fence('sh', 'azd up')),
    );
    expect(problems).toEqual([]);
    expect(blocks[0]!.skip).toEqual({ name: 'deploy to Azure', reason: 'needs an Azure subscription' });
  });

  it('refuses a skip without a name or a reason, an unknown directive, one not above a fence, one above a block that does not run', () => {
    expect(problemsOf('<!-- doc-test: skip needs Azure -->', ...fence('sh', 'azd up'))).toEqual([
      { line: 1, message: 'a skip needs a name in double quotes: <!-- doc-test: skip "name" reason -->' },
    ]);
    expect(problemsOf('<!-- doc-test: skip "" needs Azure -->', ...fence('sh', 'azd up'))[0]!.message).toMatch(/needs a name/);
    expect(problemsOf('<!-- doc-test: skip "azure" -->', ...fence('sh', 'azd up'))).toEqual([
      { line: 1, message: 'skip "azure" needs a reason after its name' },
    ]);
    expect(problemsOf('<!-- doc-test: only-on-linux -->', ...fence('sh', 'true'))).toEqual([
      { line: 1, message: 'unknown doc-test directive: only-on-linux' },
    ]);
    expect(problemsOf('<!-- doc-test: skip "x" reason', ...fence('sh', 'true'))[0]!.message).toMatch(/one whole line/);
    expect(problemsOf('<!-- doc-test: skip "x" reason -->', '', ...fence('sh', 'true'))).toEqual([
      { line: 1, message: 'this doc-test directive is not on the line directly above a fence' },
    ]);
    expect(problemsOf('<!-- doc-test: skip "x" reason -->', ...fence('text', 'words'))[0]!.message).toMatch(
      /above a text block, which does not run/,
    );
  });
});

describe('comparing outputs', () => {
  it('trims surrounding blank space and trailing spaces, and ignores the final newline', () => {
    expect(normalizeOutput('\n  a  \r\nb \n\n')).toBe('a\nb');
    expect(outputMatches('a\nb', 'a\nb\n')).toBe(true);
    expect(outputMatches('a\nb', 'a\nc\n')).toBe(false);
    expect(outputMatches('a b', 'a  b')).toBe(false); // inner spaces count
  });

  it('lets … match any run of characters, newlines included, or none; the rest is literal', () => {
    expect(outputMatches('{"id":"cus_…","slug":"demo"}', '{"id":"cus_01ab","slug":"demo"}')).toBe(true);
    expect(outputMatches('first\n…\nlast', 'first\n2\n3\nlast')).toBe(true);
    expect(outputMatches('a…b', 'ab')).toBe(true);
    expect(outputMatches('(1.5) [x]*', '(1.5) [x]*')).toBe(true);
    expect(outputMatches('(1.5)', '(105)')).toBe(false);
    expect(outputMatches('…"slug":"demo"…', '{"slug":"acme"}')).toBe(false);
  });

  it('replaces the documented port with the test host', () => {
    expect(rewritePort('curl localhost:7071/x http://localhost:7071 127.0.0.1:7071 localhost:70710 :7071', 4321)).toBe(
      'curl localhost:4321/x http://localhost:4321 127.0.0.1:4321 localhost:70710 :7071',
    );
  });

  it('names a page for files', () => {
    expect(pageSlug('docs/keys.md')).toBe('docs-keys');
    expect(pageSlug('README.md')).toBe('README');
  });
});

describe('the script of a shell block', () => {
  const block = (...body: string[]): DocBlock => parseDoc(md('', ...fence('sh', ...body))).blocks[0]!;

  it('puts markers around the commands with #> lines and maps script lines to page lines', () => {
    const script = shellScript(block('X=1', 'echo $X \\', '  more', '#> 1 more', 'true'), 'M', ['set -e']);
    expect(script.script.split('\n')).toEqual([
      'set -e',
      'X=1',
      "printf '\\n%s\\n' 'M:0:begin'",
      'echo $X \\',
      '  more',
      "printf '\\n%s\\n' 'M:0:end'",
      '#> 1 more',
      'true',
    ]);
    expect(script.pageLines).toEqual([2, 3, 4, 4, 5, 5, 6, 7]);
    expect(script.checked.map((c) => c.line)).toEqual([4]);
  });

  it("cuts each checked command's stdout out, and says which did not finish", () => {
    const stdout = 'before\n\nM:0:begin\nout 0\n\nM:0:end\nbetween\n\nM:1:begin\npartial';
    expect(splitOutput(stdout, 'M', 2)).toEqual({ segments: ['out 0\n', undefined], rest: 'before\n\nbetween\n\nM:1:begin\npartial' });
  });
});

describe('running a page (bash, TypeScript, Python; no host involved)', () => {
  const context: PageContext = {
    root: ROOT,
    port: 4321,
    env: { PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '/tmp', KEY: 'k' },
    python: 'python3',
    blockTimeoutMs: 60_000,
  };
  const run = (...lines: string[]) => runPage('page.md', md(...lines), context);

  it('runs the blocks as one session: variables, exports, functions and the directory carry over, into ts too', async () => {
    const report = await run(
      ...fence('sh', 'A=1', 'export B=two', 'f() { echo "f:$1"; }', 'cd test', 'arr=(x "y z")'),
      ...fence(
        'bash',
        'echo "$A $B $KEY ${arr[1]} $(basename "$PWD")"',
        '#> 1 two k y z test',
        'f 3',
        '#> f:3',
        'echo localhost:7071',
        '#> localhost:7071',
      ),
      ...fence(
        'ts',
        'const b: string = process.env.B ?? "";',
        'console.log(b, process.env.A ?? "unexported", process.cwd().endsWith("test"));',
      ),
      '<!-- output -->',
      ...fence('text', 'two unexported true'),
      ...fence('json', '{"a": [1, 2]}'),
      '<!-- doc-test: skip "needs Azure" no subscription here -->',
      ...fence('sh', 'azd up'),
      ...fence('text', 'not run'),
      ...fence('http', 'GET /'),
    );
    expect(report.failures).toEqual([]);
    expect(report).toMatchObject({
      ran: { sh: 1, bash: 1, ts: 1, json: 1 },
      skipped: [{ name: 'needs Azure', reason: 'no subscription here', line: 28 }],
    });
    expect(report.notRun).toEqual({ text: 1, http: 1 });
    expect(describeReport(report)).toBe(
      'page.md: ran 4 block(s) (sh 1, bash 1, ts 1, json 1), skipped 1; not run by design: text 1, http 1\n  skipped "needs Azure" (line 28): no subscription here',
    );
    expect(describeTotals([report, { ...report, page: 'b.md', skipped: [] }])).toBe(
      'doc blocks: 2 page(s), 8 block(s) ran, 1 skipped\n  page.md:28 "needs Azure": no subscription here',
    );
  });

  it('keeps the session as it was after a block that ends with exit 0', async () => {
    const report = await run(...fence('sh', 'exit 0'), ...fence('sh', 'A=1', 'exit 0'), ...fence('sh', 'echo "${A:-unset}"', '#> unset'));
    expect(report.failures).toEqual([]);
  });

  it('fails a wrong expected output with expected and actual, and goes on', async () => {
    const report = await run(
      ...fence('sh', 'echo actual', '#> expected', 'echo fine', '#> fine'),
      ...fence('sh', 'echo later', '#> later!'),
    );
    expect(report.failures).toEqual([
      'page.md:3: the output of the command at line 2 differs.\n--- expected ---\nexpected\n--- actual ---\nactual',
      'page.md:9: the output of the command at line 8 differs.\n--- expected ---\nlater!\n--- actual ---\nlater',
    ]);
  });

  it('fails a failing command with its line and output, and runs none of the later blocks', async () => {
    const report = await run(
      ...fence('sh', 'echo one', 'printf "oops" >&2', 'grep -q nothing /dev/null', 'echo never'),
      ...fence('sh', 'echo "not run"'),
      ...fence('python', 'print("not run")'),
    );
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0]).toBe(
      'page.md:1 (sh block): exited with 1 at the command on line 4:\ngrep -q nothing /dev/null\n--- stdout ---\none\n--- stderr ---\noops',
    );
    expect(report.ran).toEqual({ sh: 1 });
  });

  it('names the page line of an unset variable (set -u ends bash without the ERR trap)', async () => {
    const report = await run('Text.', '', ...fence('sh', 'echo ok', 'echo "$NOT_SET"'));
    expect(report.failures).toEqual([
      'page.md:3 (sh block): exited with 1 at the command on line 5:\necho "$NOT_SET"\n--- stdout ---\nok\n--- stderr ---\npage.md:5: NOT_SET: unbound variable',
    ]);
  });

  // npm test warns and goes on without Python (test/python-env.mjs); so does this.
  (hasPython ? it : it.skip)('fails a python block that raises, and a wrong python output', async () => {
    const python = await run(...fence('python', 'raise SystemExit("bad")'));
    expect(python.failures[0]).toMatch(
      /^page\.md:1 \(python block\): exited with 1 \(run as .*page-1\.py\)\n--- stdout ---\n\n--- stderr ---\nbad$/,
    );
    const output = await run(...fence('py', 'print("yes")'), '<!-- output -->', ...fence('text', 'no'));
    expect(output.failures).toEqual([
      'page.md:6: the output of the py block at line 1 differs.\n--- expected ---\nno\n--- actual ---\nyes',
    ]);
  });

  it('fails a wrong ts output, invalid json, and a page with a bad directive', async () => {
    const ts = await run(...fence('ts', 'console.log("yes")'), '<!-- output -->', ...fence('text', 'no'));
    expect(ts.failures).toEqual(['page.md:6: the output of the ts block at line 1 differs.\n--- expected ---\nno\n--- actual ---\nyes']);
    const json = await run(...fence('json', '{"a": }'));
    expect(json.failures[0]).toMatch(/^page\.md:1 \(json block\): not valid JSON/);
    const unnamed = await run('<!-- doc-test: skip needs Azure -->', ...fence('sh', 'azd up'));
    expect(unnamed).toMatchObject({
      failures: ['page.md:1: a skip needs a name in double quotes: <!-- doc-test: skip "name" reason -->'],
      ran: {},
    });
  });

  it('reports python blocks as skipped where there is no Python environment', async () => {
    const report = await runPage('page.md', md(...fence('python', 'print(1)')), { ...context, python: undefined });
    expect(report).toMatchObject({ failures: [], ran: {}, skipped: [{ name: 'python block', line: 1 }] });
  });

  it('redacts compound keys in what it reports', () => {
    const key = `vp_cust_demo.${'A'.repeat(32)}.${'b'.repeat(43)}`;
    expect(redact(`key ${key} end`)).toBe(`key vp_cust_demo.${'A'.repeat(32)}.<secret> end`);
  });
});

describe('the fixture pages of the integration test', () => {
  it.each(['good.md', 'bad.md'])('%s follows the convention', (name) => {
    expect(parseDoc(readFileSync(join(ROOT, 'test', 'fixtures', 'doc-blocks', name), 'utf8')).problems).toEqual([]);
  });
});
