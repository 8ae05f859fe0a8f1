/**
 * Every shell and code block of README.md and docs/*.md runs, as written, against a host this
 * test starts, and the outputs the pages show are checked: one test per page.
 *
 * The convention the pages are written to, in short (the whole of it is the header of
 * test/support/doc-blocks.ts):
 * - ```sh/```bash blocks of a page run in order as one bash session (`set -euo pipefail`;
 *   variables, functions and `cd` carry over); `#> line` lines right after a command are its
 *   expected stdout, `…` matching anything.
 * - ```ts blocks run as .mts files with Node 22, ```python blocks with .venv/bin/python, in the
 *   session's environment; a ```text block under `<!-- output -->` right after is their stdout.
 *   ```json blocks must parse. Other blocks do not run.
 * - `<!-- doc-test: skip "name" reason -->` above a fence skips the block (counted, printed).
 * - The prelude exports `KEY` (the demo key) and the host's settings, so `npm run -s admin --`
 *   works on the test host; `localhost:7071` means the test host. Its data carries over between
 *   pages.
 *
 * The summary (blocks run and skipped, per page and in total) is printed to stdout and written
 * to .local/doc-blocks/summary.txt.
 *
 * DOC_BLOCKS_DIR=<folder> runs the *.md files of that folder instead (the runner's own checks,
 * e.g. DOC_BLOCKS_DIR=test/fixtures/doc-blocks: one page that passes, one that must fail).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, resolve } from 'node:path';
import { freePort } from '../../local/azurite';
import { describeReport, describeTotals, runPage, type PageContext, type PageReport } from '../support/doc-session';
import { startHostProcess, type HostProcess } from '../support/host-process';
import { trackSecret } from '../support/secrets';

const ROOT = resolve(__dirname, '..', '..');

/** README.md and docs/**\/*.md, found when the test runs (a new page is picked up by itself). */
function discoverPages(): string[] {
  const markdown = (dir: string, deep: boolean): string[] =>
    existsSync(dir)
      ? readdirSync(dir, { withFileTypes: true })
          .flatMap((e) =>
            e.isDirectory() ? (deep ? markdown(join(dir, e.name), deep) : []) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
          )
          .sort()
      : [];
  const override = process.env.DOC_BLOCKS_DIR;
  const files = override ? markdown(resolve(ROOT, override), false) : [join(ROOT, 'README.md'), ...markdown(join(ROOT, 'docs'), true)];
  return files.filter((f) => existsSync(f)).map(pageName);
}

/** The host's settings: the sample's values, with ports and a data folder of the test's own. */
function hostSettings(port: number, azuritePort: number, azuriteQueuePort: number, dataDir: string): Record<string, string> {
  const sample = JSON.parse(readFileSync(join(ROOT, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, unknown> };
  const values = Object.fromEntries(Object.entries(sample.Values).map(([k, v]) => [k, String(v)]));
  return {
    ...values,
    PORT: String(port),
    AZURITE_TABLE_PORT: String(azuritePort),
    AZURITE_QUEUE_PORT: String(azuriteQueuePort),
    LOCAL_DATA_DIR: dataDir,
    TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true',
    TABLES_PREFIX: '',
  };
}

/** What a page's session starts from: this process's environment without the test runner's own. */
function sessionEnv(settings: Record<string, string>, key: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || /^(JEST_|TEST_|npm_lifecycle_|npm_package_)/.test(name)) continue;
    if (['NODE_ENV', 'BASH_ENV', 'ENV', 'NODE_OPTIONS', 'INIT_CWD'].includes(name)) continue;
    env[name] = value;
  }
  return {
    ...env,
    ...settings,
    PATH: [join(ROOT, 'node_modules', '.bin'), env.PATH ?? ''].join(delimiter),
    KEY: key,
  };
}

/**
 * The repository's Python environment (test/python-env.mjs, which `npm test` runs first). Without
 * it python blocks are reported as skipped, with a warning; under CI=true that fails instead.
 */
function pythonEnv(): string | undefined {
  const python = join(ROOT, '.venv', 'bin', 'python');
  if (existsSync(python)) return python;
  if (process.env.CI === 'true') throw new Error(`${python} is missing: run \`node test/python-env.mjs\` (npm test does) before jest`);
  print(`[docs] WARNING: ${python} is missing (no Python 3?): python blocks are skipped. \`node test/python-env.mjs\` makes it.`);
  return undefined;
}

/** A page's name: its path from the repository root (absolute when outside it). */
function pageName(file: string): string {
  const path = relative(ROOT, file);
  return path.startsWith('..') ? file : path;
}

const pages = discoverPages();
const reports: PageReport[] = [];
let host: HostProcess | undefined;
let context: PageContext | undefined;
let dataDir: string | undefined;

function print(text: string): void {
  // The test setup silences console; stdout reaches the terminal (and jest's output).
  process.stdout.write(`\n${text}\n`);
}

describe('the documentation runs as written', () => {
  beforeAll(async () => {
    const port = await freePort();
    const azuritePort = await freePort();
    const azuriteQueuePort = await freePort();
    dataDir = mkdtempSync(join(tmpdir(), 'vp-docs-'));
    const settings = hostSettings(port, azuritePort, azuriteQueuePort, dataDir);
    host = await startHostProcess([], settings);
    const key = /^\s+(vp_cust_demo\.\S+)$/m.exec(host.stdout())?.[1];
    if (!key) throw new Error(`the host printed no demo key:\n${host.stdout()}`);
    trackSecret(key);
    context = {
      root: ROOT,
      port,
      env: sessionEnv(settings, key),
      python: pythonEnv(),
      blockTimeoutMs: 600_000,
    };
  }, 120_000);

  afterAll(async () => {
    await host?.stop('SIGINT');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (reports.length === 0) return;
    const totals = describeTotals(reports);
    print(totals);
    mkdirSync(join(ROOT, '.local', 'doc-blocks'), { recursive: true });
    writeFileSync(join(ROOT, '.local', 'doc-blocks', 'summary.txt'), `${reports.map(describeReport).join('\n')}\n${totals}\n`);
  }, 60_000);

  it('finds pages to run', () => {
    expect(pages.length).toBeGreaterThan(0);
  });

  it.each(pages)(
    '%s',
    async (page) => {
      if (!context) throw new Error('the host did not start');
      const report = await runPage(page, readFileSync(resolve(ROOT, page), 'utf8'), context);
      reports.push(report);
      print(describeReport(report));
      if (report.failures.length > 0) throw new Error(report.failures.join('\n\n'));
    },
    1_800_000,
  );
});
