/**
 * The documentation's blocks as tests: parses a Markdown page into its fenced blocks, what each
 * one expects, and what the page asks to skip. Pure (no I/O); test/integration/docs.test.ts runs
 * what this finds against a host it starts, test/unit/doc-blocks.test.ts checks every rule.
 *
 * THE CONVENTION (how README.md and docs/*.md are written so that their blocks run as tests)
 *
 * 1. Shell. ```sh and ```bash blocks run with bash, `set -euo pipefail`, stdin empty. The shell
 *    blocks of one page are one session, in page order: variables (`X=...`, `export X=...`,
 *    arrays), functions and the working directory (`cd`) carry over to the page's later blocks.
 *    Each page starts clean in the repository root, with the prelude (rule 5). A command that
 *    fails fails the page (naming the page, the block's line and the output), and the page's
 *    later blocks do not run. A command that is meant to fail is written `cmd || true`.
 *    Background processes a block starts are stopped when the block ends. A block that runs
 *    `npm install`/`ci`/`i`/`update`, `npm start`, `npm run azurite`, `func start`, `npm test`,
 *    `npm run test...`, `npm run build` or `npm run bench` must be skipped (rule 4): unskipped,
 *    it fails the page unrun (they change the shared node_modules or dist/, never end, or run
 *    the suite again).
 * 2. Expected output. Lines `#> text` (or a bare `#>` for an empty line) directly after a
 *    command are that command's expected stdout, one `#>` line per output line. A command is
 *    everything up to where bash would run it: `\` continuations, lines ending in `|`, `&&` or
 *    `||`, quotes spanning lines, heredocs (`<<'PY'` ... `PY`) and if/for/while/case/{ }/( )
 *    up to their end. Comparison: both sides have each line's trailing spaces removed and
 *    leading/trailing blank space trimmed; `…` (U+2026) matches any run of characters, newlines
 *    included, possibly none; everything else is literal. stderr is never compared. A command
 *    with no `#>` lines is checked only by its exit status. A wrong output fails the page, which
 *    still runs on (to show every mismatch). `# comment` lines are comments; a `#>` line after
 *    a blank or comment line, inside an unfinished command, or spelled `#>x` is an error.
 *    `…` in a command is a literal character: write `$KEY`, not `'vp_cust_demo.…'`. `npm run`
 *    without `-s` prints its own `> veriproof-keys@... admin` lines on stdout: show the output
 *    of `npm run -s admin -- ...`.
 * 3. ```ts / ```typescript blocks are saved as `.local/doc-blocks/<page>-<line>.mts` (ES module:
 *    top-level await works; `@veriproof/sdk` resolves from node_modules) and run with the
 *    project's Node 22, which strips the types. ```python / ```py blocks run with the repository's
 *    `.venv/bin/python` (the Python SDK is installed there). Both run in the session's working
 *    directory with the environment the page's shell blocks exported so far. Their expected
 *    stdout is a ```text block right after them (blank lines allowed between), whose fence line
 *    is directly preceded by `<!-- output -->`; compared as in rule 2. ```json blocks must parse
 *    as JSON (no `…`; a shape with placeholders is a ```text block). Other blocks (text, http,
 *    bicep, console, no language, ...) are not run; the test counts them by language.
 * 4. Skipping. `<!-- doc-test: skip "name" reason -->` on the line directly above a fence skips
 *    that block (it must be one that would run). Name and reason are both required. The test
 *    prints, per page and in total, how many blocks ran and which were skipped, with name and
 *    reason. Any other `doc-test:` directive, or one that is not directly above a fence, fails.
 * 5. The host. One host for all pages: the built `npm start` (dist/local/start.js) with the demo
 *    customer, on free ports, with its own Azurite data folder, so it never meets a developer's
 *    `npm start`. Every run block has `localhost:7071` and `127.0.0.1:7071` (so also
 *    `http://localhost:7071`) replaced by the test host's address, and so do expected outputs:
 *    pages keep saying 7071. The prelude exports `KEY`, the demo key the host printed
 *    (`vp_cust_demo.…`), and the host's settings (PORT, AZURITE_TABLE_PORT, AZURITE_QUEUE_PORT, LOCAL_DATA_DIR,
 *    TABLES_CONNECTION_STRING=UseDevelopmentStorage=true and the rest of
 *    local.settings.sample.json), so `npm run admin -- ...` works on the test host's storage and
 *    signs portal tokens it accepts:
 *      eval "$(npm run -s admin -- token --customer demo --role CustomerAdmin --export)"   # $TOKEN
 *    `node_modules/.bin` is first on PATH, as in npm scripts (`node` is the project's Node 22).
 *    The host's data carries over from page to page (pages run in file-name order, README.md
 *    first): never assume an empty customer list, use slugs no other page uses, and do not
 *    revoke, roll or reset the demo key other pages use as `$KEY` (make a customer of your own).
 */

/** What a fenced block is, by its language (the info string's first word). */
export type BlockKind = 'shell' | 'typescript' | 'python' | 'json' | 'output' | 'other';

const KINDS: Record<string, BlockKind> = {
  sh: 'shell',
  bash: 'shell',
  ts: 'typescript',
  typescript: 'typescript',
  python: 'python',
  py: 'python',
  json: 'json',
};

/** Kinds the test runs (or parses, for json). */
export const RUN_KINDS: readonly BlockKind[] = ['shell', 'typescript', 'python', 'json'];

export interface Problem {
  /** 1-based line in the Markdown page. */
  line: number;
  message: string;
}

export interface Expected {
  /** Line of the first expected line in the page. */
  line: number;
  /** The expected stdout, one entry per line. */
  text: string;
}

export interface ShellCommand {
  /** Page lines of the command's first and last line. */
  line: number;
  endLine: number;
  text: string;
  expected?: Expected;
}

export interface Skip {
  name: string;
  reason: string;
}

export interface DocBlock {
  kind: BlockKind;
  /** The info string's first word, lower case ('' for none). */
  lang: string;
  /** Line of the opening fence. */
  line: number;
  /** Line of the body's first line (the fence line + 1). */
  bodyLine: number;
  body: string;
  skip?: Skip;
  /** Shell blocks: the commands, each with its expected output if it has one. */
  commands?: ShellCommand[];
  /** TypeScript and Python blocks: the `<!-- output -->` text block after them. */
  expected?: Expected;
}

export interface ParsedDoc {
  blocks: DocBlock[];
  problems: Problem[];
}

const OPEN_FENCE = /^(\s*)(`{3,}|~{3,})\s*(.*)$/;
const DIRECTIVE = /^\s*<!--\s*doc-test:\s*(.*?)\s*-->\s*$/;
const ANY_DIRECTIVE = /<!--\s*doc-test\b/;
const OUTPUT_MARK = /^\s*<!--\s*output\s*-->\s*$/;
const SKIP = /^skip\s+"([^"]*)"\s*(.*)$/;

/** Parses one page. Problems are collected (with their lines) rather than thrown. */
export function parseDoc(markdown: string): ParsedDoc {
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n');
  const blocks: DocBlock[] = [];
  const problems: Problem[] = [];
  /** Lines (0-based) holding a comment that a fence consumed. */
  const consumed = new Set<number>();
  let lastClose = -1;

  for (let i = 0; i < lines.length; i++) {
    const open = OPEN_FENCE.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    if (fence.startsWith('`') && info.includes('`')) continue; // inline code, not a fence
    const lang = (info.trim().split(/\s+/)[0] ?? '').toLowerCase();
    let close = i + 1;
    const closing = new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    while (close < lines.length && !closing.test(lines[close]!)) close++;
    if (close >= lines.length) {
      problems.push({ line: i + 1, message: 'this fence is never closed' });
      break;
    }
    const strip = new RegExp(`^ {0,${indent.length}}`);
    const body = lines
      .slice(i + 1, close)
      .map((l) => l.replace(strip, ''))
      .join('\n');
    const block: DocBlock = { kind: KINDS[lang] ?? 'other', lang, line: i + 1, bodyLine: i + 2, body };

    const before = i > 0 ? lines[i - 1]! : '';
    if (OUTPUT_MARK.test(before)) {
      consumed.add(i - 1);
      const previous = blocks.at(-1);
      const gapIsBlank = previous !== undefined && lines.slice(lastClose + 1, i - 1).every((l) => l.trim() === '');
      if (lang !== 'text') problems.push({ line: i, message: '<!-- output --> must stand above a ```text block' });
      else if (!previous || !gapIsBlank || (previous.kind !== 'typescript' && previous.kind !== 'python'))
        problems.push({ line: i, message: '<!-- output --> must follow a ts or python block (only blank lines between)' });
      else if (previous.expected) problems.push({ line: i, message: 'a block has one <!-- output --> block' });
      else {
        block.kind = 'output';
        previous.expected = { line: i + 2, text: body };
      }
    } else if (ANY_DIRECTIVE.test(before)) {
      consumed.add(i - 1);
      const directive = DIRECTIVE.exec(before);
      const skip = directive ? SKIP.exec(directive[1]!) : null;
      if (!directive) problems.push({ line: i, message: 'a doc-test directive is one whole line: <!-- doc-test: ... -->' });
      else if (!/^skip\b/.test(directive[1]!)) problems.push({ line: i, message: `unknown doc-test directive: ${directive[1]}` });
      else if (!skip || skip[1]!.trim() === '')
        problems.push({ line: i, message: 'a skip needs a name in double quotes: <!-- doc-test: skip "name" reason -->' });
      else if (skip[2]!.trim() === '') problems.push({ line: i, message: `skip "${skip[1]}" needs a reason after its name` });
      else if (!RUN_KINDS.includes(block.kind))
        problems.push({ line: i, message: `skip "${skip[1]}" stands above a ${lang || 'plain'} block, which does not run anyway` });
      else block.skip = { name: skip[1]!.trim(), reason: skip[2]!.trim() };
    }

    if (block.kind === 'shell') {
      const shell = splitShell(body, block.bodyLine);
      block.commands = shell.commands;
      problems.push(...shell.problems);
      if (!block.skip) problems.push(...shell.commands.flatMap(guard));
    } else if (block.kind === 'json' && !block.skip) {
      if (body.includes('…')) problems.push({ line: block.line, message: 'a json block may not contain … (it must be valid JSON)' });
    }
    blocks.push(block);
    lastClose = close;
    i = close;
  }

  // Comments meant for a block that are not directly above one.
  let inFence: RegExp | undefined;
  lines.forEach((line, index) => {
    if (inFence) {
      if (inFence.test(line)) inFence = undefined;
      return;
    }
    const open = OPEN_FENCE.exec(line);
    if (open && !(open[2]!.startsWith('`') && open[3]!.includes('`'))) {
      inFence = new RegExp(`^\\s*${open[2]![0] === '`' ? '`' : '~'}{${open[2]!.length},}\\s*$`);
      return;
    }
    if (consumed.has(index)) return;
    if (ANY_DIRECTIVE.test(line))
      problems.push({ line: index + 1, message: 'this doc-test directive is not on the line directly above a fence' });
    else if (OUTPUT_MARK.test(line))
      problems.push({ line: index + 1, message: '<!-- output --> is not on the line directly above a fence' });
  });

  problems.sort((a, b) => a.line - b.line);
  return { blocks, problems };
}

/**
 * Commands a page's test must not run: they change the shared node_modules, start a second
 * host that never ends, or run the test suite (and with it this test) again.
 */
const GUARDED: Array<[RegExp, string]> = [
  [/\bnpm\s+(install|i|ci|uninstall|update|add)\b/, 'changes node_modules'],
  [/\bnpm\s+(start|restart)\b|\bnpm\s+run(-script)?\s+(start|azurite)\b|\bfunc\s+start\b/, 'starts a host that runs until Ctrl-C'],
  [/\bnpm\s+(test|t)\b|\bnpm\s+run(-script)?\s+test/, 'runs the test suite (and this test in it)'],
  [/\bnpm\s+run(-script)?\s+(build|bench)\b/, 'rewrites dist/ while other tests start hosts from it'],
];

function guard(command: ShellCommand): Problem[] {
  const code = command.text.replace(/(^|\s)#.*$/gm, '');
  for (const [pattern, why] of GUARDED) {
    const found = pattern.exec(code);
    if (found)
      return [
        {
          line: command.line,
          message: `"${found[0]}" ${why}: the test cannot run it; mark the block <!-- doc-test: skip "name" reason -->`,
        },
      ];
  }
  return [];
}

// ---------------------------------------------------------------------------------------------
// Shell: where commands start and end, as far as bash would read them.

type Frame = 'top' | 'subst' | 'paren' | 'if' | 'case' | 'loop' | 'brace' | 'sq' | 'dq' | 'ansi' | 'bt' | 'param' | 'arith' | 'aparen';
const COMMAND_FRAMES: ReadonlySet<Frame> = new Set(['top', 'subst', 'paren', 'if', 'case', 'loop', 'brace']);
const OPENERS: Record<string, Frame> = { if: 'if', case: 'case', for: 'loop', while: 'loop', until: 'loop', select: 'loop', '{': 'brace' };
const CLOSERS: Record<string, Frame> = { fi: 'if', esac: 'case', done: 'loop', '}': 'brace' };
/** After these words the next word is again a command (so `if`, `}` etc. are keywords there). */
const COMMAND_NEXT = new Set(['if', 'while', 'until', 'then', 'do', 'else', 'elif', '{', '!', 'time']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/;
/** A word made of quoted text is never a keyword: quoted parts add this to the word. */
const QUOTED = '\u0000';

interface LexState {
  stack: Frame[];
  /** Heredocs opened on the current line, whose bodies start on the next. */
  pending: Array<{ delimiter: string; stripTabs: boolean }>;
  /** Heredoc bodies being read. */
  bodies: Array<{ delimiter: string; stripTabs: boolean }>;
  /** The line ended in `\`, `|`, `&&` or `||`: the command goes on. */
  continued: boolean;
  /** It ended in `\` (a heredoc body then starts after the next line, not this one). */
  backslash: boolean;
  /** The next word is in command position (a keyword there counts). */
  commandPosition: boolean;
  /** The previous word was `function`: the next is a name. */
  functionName: boolean;
}

/** Scans one line (not a heredoc body) and updates the state. */
function scanLine(line: string, state: LexState): void {
  const { stack } = state;
  let word = '';
  let lastOperator = '';
  state.continued = false;
  state.backslash = false;
  const top = () => stack[stack.length - 1]!;
  const endWord = () => {
    if (word === '') return;
    if (state.commandPosition && COMMAND_FRAMES.has(top())) {
      const opener = OPENERS[word];
      const closer = CLOSERS[word];
      if (opener) stack.push(opener);
      else if (closer && top() === closer) stack.pop();
      state.commandPosition = COMMAND_NEXT.has(word) || CLOSERS[word] !== undefined || ASSIGNMENT.test(word);
      state.functionName = word === 'function';
    } else {
      // `function name {`: the body's `{` follows the name.
      state.commandPosition = state.functionName;
      state.functionName = false;
    }
    word = '';
    lastOperator = '';
  };
  const operator = (op: string) => {
    endWord();
    lastOperator = op;
    state.commandPosition = true;
  };

  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    const next = line[i + 1];
    const frame = top();
    if (frame === 'sq') {
      if (c === "'") stack.pop();
      continue;
    }
    if (frame === 'ansi' || frame === 'bt') {
      if (c === '\\') i++;
      else if (c === (frame === 'ansi' ? "'" : '`')) stack.pop();
      continue;
    }
    if (frame === 'arith' || frame === 'aparen') {
      if (c === '(') stack.push('aparen');
      else if (c === ')' && frame === 'aparen') stack.pop();
      else if (c === ')' && next === ')') {
        stack.pop();
        i++;
      }
      continue;
    }
    if (frame === 'dq' || frame === 'param') {
      if (c === '\\') i++;
      else if (frame === 'dq' && c === '"') stack.pop();
      else if (frame === 'param' && c === '}') stack.pop();
      else if (c === '$' && next === '(' && line[i + 2] === '(') {
        stack.push('arith');
        i += 2;
      } else if (c === '$' && next === '(') {
        stack.push('subst');
        i++;
        state.commandPosition = true;
      } else if (c === '$' && next === '{') {
        stack.push('param');
        i++;
      } else if (c === '`') stack.push('bt');
      else if (frame === 'param' && c === '"') stack.push('dq');
      else if (frame === 'param' && c === "'") stack.push('sq');
      continue;
    }

    // A command frame.
    if (c === ' ' || c === '\t') {
      endWord();
      continue;
    }
    if (c === '#' && word === '') break; // a comment to the end of the line
    if (c === '\\') {
      if (i === line.length - 1) {
        state.continued = true;
        state.backslash = true;
        return; // the word goes on on the next line
      }
      word += line.slice(i, i + 2);
      i++;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      word += QUOTED;
      stack.push(c === "'" ? 'sq' : c === '"' ? 'dq' : 'bt');
      continue;
    }
    if (c === '$' && (next === '(' || next === '{' || next === "'")) {
      word += QUOTED;
      i++;
      if (next === '(' && line[i + 1] === '(') {
        stack.push('arith');
        i++;
      } else if (next === '(') {
        stack.push('subst');
        state.commandPosition = true;
        word = ''; // the substitution's first word is a command of its own; the outer word resumes after
      } else stack.push(next === '{' ? 'param' : 'ansi');
      continue;
    }
    if (c === '(') {
      stack.push('paren');
      operator('(');
      continue;
    }
    if (c === ')') {
      endWord();
      if (frame === 'subst') {
        stack.pop();
        word = QUOTED; // `$(...)` ends inside a word
        state.commandPosition = false;
      } else if (frame === 'paren') {
        stack.pop();
        state.commandPosition = true; // after `f()` comes the function's body: `{` is a keyword there
      } else if (frame === 'case') state.commandPosition = true; // the end of a case pattern
      lastOperator = '';
      continue;
    }
    if (c === ';' || c === '&' || c === '|') {
      let op = c;
      while (i + 1 < line.length && ';&|'.includes(line[i + 1]!)) op += line[++i];
      operator(op);
      continue;
    }
    if (c === '<' || c === '>') {
      endWord();
      if (c === '<' && next === '<' && line[i + 2] !== '<') {
        let j = i + 2;
        const stripTabs = line[j] === '-';
        if (stripTabs) j++;
        while (line[j] === ' ' || line[j] === '\t') j++;
        let delimiter = '';
        while (j < line.length && !/[\s;&|<>()]/.test(line[j]!)) {
          const q = line[j]!;
          if (q === "'" || q === '"') {
            const end = line.indexOf(q, j + 1);
            delimiter += line.slice(j + 1, end < 0 ? line.length : end);
            j = end < 0 ? line.length : end + 1;
          } else if (q === '\\') {
            delimiter += line[j + 1] ?? '';
            j += 2;
          } else delimiter += line[j++];
        }
        if (delimiter !== '') state.pending.push({ delimiter, stripTabs });
        i = j - 1;
      } else if (c === '<' && next === '<')
        i += 2; // a here-string
      else if (next === '&' || next === '>' || next === '|') i++;
      state.commandPosition = false;
      lastOperator = '';
      continue;
    }
    word += c;
  }
  if (COMMAND_FRAMES.has(top())) {
    endWord();
    if (lastOperator === '|' || lastOperator === '&&' || lastOperator === '||' || lastOperator === '|&') state.continued = true;
    else state.commandPosition = true; // a newline ends a command like `;`
  }
}

/**
 * Splits a shell block into commands and attaches each `#>` group to the command before it.
 * `firstLine` is the page line of the block's first line.
 */
export function splitShell(body: string, firstLine: number): { commands: ShellCommand[]; problems: Problem[] } {
  const lines = body.split('\n');
  const commands: ShellCommand[] = [];
  const problems: Problem[] = [];
  const state: LexState = {
    stack: ['top'],
    pending: [],
    bodies: [],
    continued: false,
    backslash: false,
    commandPosition: true,
    functionName: false,
  };
  let start = -1;
  /** The command whose `#>` lines may follow (the previous line ended it, or was one of its `#>` lines). */
  let open: ShellCommand | undefined;
  const finish = (index: number) => {
    const command: ShellCommand = { line: firstLine + start, endLine: firstLine + index, text: lines.slice(start, index + 1).join('\n') };
    commands.push(command);
    open = command;
    start = -1;
  };
  const complete = () => state.stack.length === 1 && !state.continued && state.pending.length === 0 && state.bodies.length === 0;

  lines.forEach((line, index) => {
    const heredoc = state.bodies[0];
    if (heredoc) {
      if ((heredoc.stripTabs ? line.replace(/^\t+/, '') : line) === heredoc.delimiter) state.bodies.shift();
      if (complete()) finish(index);
      return;
    }
    const trimmed = line.trim();
    const isExpected = trimmed.startsWith('#>');
    if (start < 0) {
      if (isExpected) {
        if (!/^#>( |$)/.test(trimmed))
          problems.push({ line: firstLine + index, message: 'an expected-output line starts with "#> " (or is "#>")' });
        else if (!open)
          problems.push({ line: firstLine + index, message: '#> lines must directly follow a command (no blank or comment line between)' });
        else {
          const text = trimmed === '#>' ? '' : trimmed.slice(3);
          if (open.expected) open.expected.text += `\n${text}`;
          else open.expected = { line: firstLine + index, text };
        }
        return;
      }
      open = undefined;
      if (trimmed === '' || trimmed.startsWith('#')) return;
      start = index;
    } else if (isExpected && COMMAND_FRAMES.has(state.stack.at(-1)!)) {
      problems.push({
        line: firstLine + index,
        message: '#> inside an unfinished command (after \\, |, && or inside if/for/while/case/{ }): put it after the whole command',
      });
    }
    scanLine(line, state);
    if (state.pending.length > 0 && !state.backslash) state.bodies.push(...state.pending.splice(0));
    if (complete()) finish(index);
  });
  if (start >= 0) {
    const what =
      state.bodies.length > 0
        ? `heredoc (no line "${state.bodies[0]!.delimiter}")`
        : state.continued
          ? 'continued line'
          : 'quote or compound command';
    problems.push({ line: firstLine + start, message: `the block ends inside an unfinished command: an open ${what}` });
  }
  return { commands, problems };
}

// ---------------------------------------------------------------------------------------------
// Running: the script of a shell block, and comparing outputs.

/** Replaces the documented host address (port 7071) with the test host's port. */
export function rewritePort(text: string, port: number): string {
  return text.replace(/\b(localhost|127\.0\.0\.1):7071\b/g, `$1:${port}`);
}

/** The lines printed around a checked command's stdout (see `shellScript` and `splitOutput`). */
export function markerLine(marker: string, index: number, edge: 'begin' | 'end'): string {
  return `${marker}:${index}:${edge}`;
}

export interface ShellScript {
  /** The block's own lines with the markers around each command that has expected output. */
  script: string;
  /** Page line of each script line (1-based script line -> page line), for error locations. */
  pageLines: number[];
  /** The commands with expected output, in order (index i is marked with i). */
  checked: ShellCommand[];
}

/**
 * The block's lines as bash runs them, with `printf` markers around each command that has `#>`
 * lines, so that its stdout can be cut out of the block's (`splitOutput`). `header` lines go
 * first (they map to the fence line).
 */
export function shellScript(block: DocBlock, marker: string, header: string[] = []): ShellScript {
  const lines = block.body.split('\n');
  const checked = (block.commands ?? []).filter((c) => c.expected);
  const out: string[] = [...header];
  const pageLines: number[] = header.map(() => block.line);
  const print = (index: number, edge: 'begin' | 'end', line: number) => {
    out.push(`printf '\\n%s\\n' '${markerLine(marker, index, edge)}'`);
    pageLines.push(line);
  };
  lines.forEach((line, i) => {
    const pageLine = block.bodyLine + i;
    checked.forEach((c, n) => c.line === pageLine && print(n, 'begin', pageLine));
    out.push(line);
    pageLines.push(pageLine);
    checked.forEach((c, n) => c.endLine === pageLine && print(n, 'end', pageLine));
  });
  return { script: out.join('\n'), pageLines, checked };
}

/**
 * Cuts the checked commands' stdout out of a block's stdout: `segments[i]` is command i's
 * (undefined if it did not finish: a marker is missing), `rest` the stdout without them.
 */
export function splitOutput(stdout: string, marker: string, count: number): { segments: Array<string | undefined>; rest: string } {
  const segments: Array<string | undefined> = [];
  let rest = stdout;
  for (let i = 0; i < count; i++) {
    const begin = `\n${markerLine(marker, i, 'begin')}\n`;
    const end = `\n${markerLine(marker, i, 'end')}\n`;
    const from = rest.indexOf(begin);
    const to = from < 0 ? -1 : rest.indexOf(end, from + begin.length);
    if (from < 0 || to < 0) {
      segments.push(undefined);
      continue;
    }
    segments.push(rest.slice(from + begin.length, to));
    rest = `${rest.slice(0, from)}\n${rest.slice(to + end.length)}`;
  }
  return { segments, rest };
}

/** Trailing spaces off every line, surrounding blank space off the whole. */
export function normalizeOutput(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .trim();
}

/** Whether actual stdout matches the expected text (`…` matches any run of characters). */
export function outputMatches(expected: string, actual: string): boolean {
  const pattern = normalizeOutput(expected)
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*?');
  return new RegExp(`^${pattern}$`).test(normalizeOutput(actual));
}

/** A file-name-safe name for a page: `docs/keys.md` -> `docs-keys`. */
export function pageSlug(page: string): string {
  return page
    .replace(/\.md$/i, '')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}
