import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  RUN_KINDS,
  outputMatches,
  pageSlug,
  parseDoc,
  rewritePort,
  shellScript,
  splitOutput,
  type Expected,
  type Skip,
} from './doc-blocks';
import { COMPOUND_KEY_PATTERN } from './secrets';

/**
 * Runs one documentation page's blocks (test/support/doc-blocks.ts has the convention) as one
 * shell session against a running host. Each shell block is its own `bash` process: it sources
 * the state the page's previous blocks left (variables, functions, working directory) and saves
 * its own at the end, so a failing block names itself and its exit status.
 */

export interface PageContext {
  /** The repository root: where the session starts and where `.local/doc-blocks/` is. */
  root: string;
  /** The test host's port (replaces 7071 in the blocks). */
  port: number;
  /** The environment every page starts from (the prelude included). */
  env: Record<string, string>;
  /** The Python the python blocks run with; without one they are reported as skipped. */
  python: string | undefined;
  /** Bound on one block, a guard against a block that never ends (ms). */
  blockTimeoutMs: number;
}

export interface PageReport {
  page: string;
  /** Blocks run, by kind. */
  ran: Partial<Record<string, number>>;
  skipped: Array<Skip & { line: number }>;
  /** Blocks that do not run, by language ('(none)' for none). */
  notRun: Partial<Record<string, number>>;
  /** Each failure, ready to print (keys redacted). */
  failures: string[];
}

/** Bash variables that are the shell's own, not the session's. */
const SHELL_VARIABLES =
  '__vp_*|BASH*|COMP_*|DIRSTACK|EPOCHREALTIME|EPOCHSECONDS|EUID|FUNCNAME|GROUPS|HISTCMD|HOSTNAME|HOSTTYPE|IFS|LINENO|MACHTYPE|OLDPWD|OPTARG|OPTERR|OPTIND|OSTYPE|PIPESTATUS|PPID|PS1|PS2|PS4|PWD|RANDOM|SECONDS|SHELLOPTS|SHLVL|SRANDOM|UID|_';

function header(stateFile: string, marker: string): string[] {
  return [
    'set -euo pipefail',
    `__vp_state=${shellQuote(stateFile)}`,
    '__vp_save() {',
    '  local __vp_n __vp_d __vp_f',
    '  {',
    '    for __vp_n in $(compgen -v); do',
    `      case $__vp_n in ${SHELL_VARIABLES}) continue ;; esac`,
    '      __vp_d=$(declare -p "$__vp_n" 2>/dev/null) || continue',
    '      __vp_f=${__vp_d#declare -}; __vp_f=${__vp_f%% *}',
    '      [[ $__vp_f == *r* ]] && continue',
    '      printf \'%s\\n\' "$__vp_d"',
    '    done',
    '    for __vp_n in $(compgen -A function); do [[ $__vp_n == __vp_* ]] || declare -f "$__vp_n"; done',
    '    printf \'cd -- %q\\n\' "$PWD"',
    '  } > "$__vp_state.next"',
    '  env -0 > "$__vp_state.env"',
    '  printf %s "$PWD" > "$__vp_state.cwd"',
    '  mv "$__vp_state.next" "$__vp_state"',
    '}',
    `trap 'printf "\\n%s:%s:%s\\n" ${shellQuote(`${marker}:error`)} "$LINENO" "$?" >&2' ERR`,
    'source "$__vp_state"',
  ];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Compound keys in text with their secret cut off, for failure messages. */
export function redact(text: string): string {
  return text.replace(COMPOUND_KEY_PATTERN, (key) => `${key.slice(0, key.lastIndexOf('.'))}.<secret>`);
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a program in a process group of its own; what it leaves running is stopped when it exits. */
function run(command: string, args: string[], cwd: string, env: Record<string, string>, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', killGroup);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

function tail(text: string, max = 4000): string {
  const trimmed = text.trimEnd();
  return trimmed.length > max ? `…${trimmed.slice(-max)}` : trimmed;
}

function mismatch(page: string, expected: Expected, what: string, actual: string): string {
  return redact(
    `${page}:${expected.line}: the output of ${what} differs.\n--- expected ---\n${expected.text}\n--- actual ---\n${actual.trimEnd()}`,
  );
}

/** Parses and runs one page; never throws for a page's own failures (they are in the report). */
export async function runPage(page: string, markdown: string, context: PageContext): Promise<PageReport> {
  const report: PageReport = { page, ran: {}, skipped: [], notRun: {}, failures: [] };
  const { blocks, problems } = parseDoc(markdown);
  if (problems.length > 0) {
    report.failures.push(...problems.map((p) => `${page}:${p.line}: ${p.message}`));
    return report;
  }
  const slug = pageSlug(page);
  const scratch = join(context.root, '.local', 'doc-blocks');
  mkdirSync(scratch, { recursive: true });
  const stateDir = mkdtempSync(join(tmpdir(), `doc-blocks-${slug}-`));
  const stateFile = join(stateDir, 'state');
  writeFileSync(stateFile, '');
  let env = context.env;
  let cwd = context.root;
  const count = (table: Partial<Record<string, number>>, name: string) => (table[name] = (table[name] ?? 0) + 1);

  try {
    for (const block of blocks) {
      if (block.kind === 'output') continue; // checked with the block it belongs to
      if (!RUN_KINDS.includes(block.kind)) {
        count(report.notRun, block.lang || '(none)');
        continue;
      }
      if (block.skip) {
        report.skipped.push({ ...block.skip, line: block.line });
        continue;
      }
      if (block.kind === 'python' && !context.python) {
        report.skipped.push({
          name: 'python block',
          reason: 'no Python environment (.venv/bin/python; no Python 3.9+?)',
          line: block.line,
        });
        continue;
      }
      count(report.ran, block.lang);
      const where = `${page}:${block.line} (${block.lang} block)`;
      if (block.kind === 'json') {
        try {
          JSON.parse(block.body);
        } catch (error) {
          report.failures.push(`${where}: not valid JSON: ${(error as Error).message}`);
        }
        continue;
      }
      if (block.kind === 'shell') {
        const marker = `@@doc-test-${randomBytes(6).toString('hex')}`;
        const script = shellScript(block, marker, header(stateFile, marker));
        const file = join(scratch, `${slug}-${block.line}.sh`);
        writeFileSync(file, `${rewritePort(script.script, context.port)}\n__vp_save\n`);
        const result = await run('bash', ['--noprofile', '--norc', file], context.root, context.env, context.blockTimeoutMs);
        const { segments } = splitOutput(result.stdout, marker, script.checked.length);
        script.checked.forEach((command, i) => {
          const actual = segments[i];
          if (actual === undefined) return; // it did not run: the exit status says why
          const expected = { ...command.expected!, text: rewritePort(command.expected!.text, context.port) };
          if (!outputMatches(expected.text, actual))
            report.failures.push(mismatch(page, expected, `the command at line ${command.line}`, actual));
        });
        if (result.code !== 0) {
          // bash's own messages name the script's lines: name the page's instead.
          const stderr = result.stderr
            .replace(new RegExp(`\\n?${marker}:error:\\d+:\\d+\\n`, 'g'), '\n')
            .replaceAll(`${file}: line `, `${page}:`)
            .replace(
              new RegExp(`^${escapeRegExp(page)}:(\\d+):`, 'gm'),
              (_, n: string) => `${page}:${script.pageLines[Number(n) - 1] ?? n}:`,
            );
          // The ERR trap's line, or else (an unset variable under set -u ends bash without it) bash's message.
          const at =
            new RegExp(`${marker}:error:(\\d+):`).exec(result.stderr)?.[1] ??
            new RegExp(`^${escapeRegExp(file)}: line (\\d+):`, 'm').exec(result.stderr)?.[1];
          const line = at === undefined ? undefined : script.pageLines[Number(at) - 1];
          const command = line === undefined ? undefined : block.commands?.find((c) => c.line <= line && line <= c.endLine);
          const stdout = result.stdout.replace(new RegExp(`\\n?${marker}:\\d+:(begin|end)\\n`, 'g'), '\n');
          report.failures.push(
            redact(
              `${where}: ${result.timedOut ? `did not finish in ${context.blockTimeoutMs / 1000} s` : `exited with ${result.code ?? result.signal}`}` +
                (command ? ` at the command on line ${command.line}:\n${command.text}` : '') +
                `\n--- stdout ---\n${tail(stdout)}\n--- stderr ---\n${tail(stderr)}`,
            ),
          );
          break; // the page's later blocks build on this one
        }
        // A block that ends with `exit 0` saves nothing: the session stays as it was.
        if (existsSync(`${stateFile}.env`)) env = readEnv(`${stateFile}.env`);
        if (existsSync(`${stateFile}.cwd`)) cwd = readFileSync(`${stateFile}.cwd`, 'utf8');
        continue;
      }
      // TypeScript and Python: a file of their own, the session's environment and directory.
      const typescript = block.kind === 'typescript';
      const file = join(scratch, `${slug}-${block.line}.${typescript ? 'mts' : 'py'}`);
      writeFileSync(file, `${rewritePort(block.body, context.port)}\n`);
      const result = await run(typescript ? projectNode(context.root) : context.python!, [file], cwd, env, context.blockTimeoutMs);
      if (result.code !== 0) {
        report.failures.push(
          redact(
            `${where}: ${result.timedOut ? 'did not finish in time' : `exited with ${result.code ?? result.signal}`} (run as ${file})` +
              `\n--- stdout ---\n${tail(result.stdout)}\n--- stderr ---\n${tail(result.stderr)}`,
          ),
        );
        break;
      }
      if (block.expected) {
        const expected = { ...block.expected, text: rewritePort(block.expected.text, context.port) };
        if (!outputMatches(expected.text, result.stdout))
          report.failures.push(mismatch(page, expected, `the ${block.lang} block at line ${block.line}`, result.stdout));
      }
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
  return report;
}

function readEnv(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of readFileSync(file, 'utf8').split('\0')) {
    const at = entry.indexOf('=');
    if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return env;
}

/** One line per page: what ran, what was skipped (name, reason), what does not run. */
export function describeReport(report: PageReport): string {
  const list = (table: Partial<Record<string, number>>) =>
    Object.entries(table)
      .map(([name, n]) => `${name} ${n}`)
      .join(', ');
  const ran = Object.values(report.ran).reduce<number>((a, n) => a + (n ?? 0), 0);
  const lines = [
    `${report.page}: ran ${ran} block(s)${ran ? ` (${list(report.ran)})` : ''}, skipped ${report.skipped.length}` +
      `${Object.keys(report.notRun).length ? `; not run by design: ${list(report.notRun)}` : ''}` +
      `${report.failures.length ? `; ${report.failures.length} FAILURE(S)` : ''}`,
    ...report.skipped.map((s) => `  skipped "${s.name}" (line ${s.line}): ${s.reason}`),
  ];
  return lines.join('\n');
}

/** The totals over all pages. */
export function describeTotals(reports: PageReport[]): string {
  const ran = reports.reduce((a, r) => a + Object.values(r.ran).reduce<number>((b, n) => b + (n ?? 0), 0), 0);
  const skipped = reports.flatMap((r) => r.skipped.map((s) => `  ${r.page}:${s.line} "${s.name}": ${s.reason}`));
  const failed = reports.filter((r) => r.failures.length > 0).map((r) => r.page);
  return [
    `doc blocks: ${reports.length} page(s), ${ran} block(s) ran, ${skipped.length} skipped${failed.length ? `; failing: ${failed.join(', ')}` : ''}`,
    ...skipped,
  ].join('\n');
}

/**
 * The project's Node 22 (the `node` dev dependency), which strips types from a `.mts` file: what a
 * reader's `npm run` puts first on the PATH, whichever Node runs the test itself.
 */
function projectNode(root: string): string {
  const pinned = join(root, 'node_modules', 'node', 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  return existsSync(pinned) ? pinned : process.execPath;
}
