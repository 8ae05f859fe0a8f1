import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * `npm run admin` runs cli/run-admin.mjs: it compiles only when dist/cli/admin.js is missing or
 * older than one of tsconfig.json's inputs. Checked on a tiny project of its own (the launcher
 * copied into it, the repository's TypeScript), by the decision the launcher prints with
 * VERIPROOF_ADMIN_BUILD_LOG=1 and by what the compiled CLI prints; mtimes are set explicitly.
 */
const REPO = resolve(__dirname, '..', '..');

describe('npm run admin builds only when a source changed', () => {
  let dir: string;
  const at = (year: number) => Date.UTC(year, 0, 1) / 1000;
  const source = (text: string, year: number) => {
    const file = join(dir, 'cli', 'admin.ts');
    writeFileSync(file, `declare const process: { argv: string[] };\nconsole.log(${text}, process.argv.slice(2).join(' '));\n`);
    utimesSync(file, at(year), at(year));
  };
  const admin = (...args: string[]) => {
    const result = spawnSync(process.execPath, [join(dir, 'cli', 'run-admin.mjs'), ...args], {
      env: { ...process.env, VERIPROOF_ADMIN_BUILD_LOG: '1' },
      encoding: 'utf8',
    });
    return { status: result.status, stdout: result.stdout, built: /admin: building/.test(result.stderr), stderr: result.stderr };
  };
  const output = () => join(dir, 'dist', 'cli', 'admin.js');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'admin-launcher-'));
    mkdirSync(join(dir, 'cli'));
    copyFileSync(join(REPO, 'cli', 'run-admin.mjs'), join(dir, 'cli', 'run-admin.mjs'));
    symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const tsconfig = join(dir, 'tsconfig.json');
    writeFileSync(
      tsconfig,
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'commonjs', rootDir: '.', outDir: 'dist', strict: true, types: [] },
        include: ['cli'],
      }),
    );
    utimesSync(tsconfig, at(2020), at(2020));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds on a fresh tree, skips while nothing changed, rebuilds when a source is newer', () => {
    source("'v1'", 2020);
    const fresh = admin('token', '--export');
    expect(fresh).toMatchObject({ status: 0, built: true, stdout: 'v1 token --export\n' });
    expect(fresh.stderr).toMatch(/dist\/cli\/admin\.js is missing/);

    utimesSync(output(), at(2021), at(2021));
    expect(admin('token')).toMatchObject({ status: 0, built: false, stdout: 'v1 token\n' });
    expect(admin('token')).toMatchObject({ status: 0, built: false });

    source("'v2'", 2022);
    const changed = admin('token');
    expect(changed).toMatchObject({ status: 0, built: true, stdout: 'v2 token\n' });
    expect(changed.stderr).toMatch(/cli\/admin\.ts is newer than dist\/cli\/admin\.js/);
    expect(statSync(output()).mtimeMs).toBeGreaterThan(at(2022) * 1000);
    expect(admin('token')).toMatchObject({ status: 0, built: false, stdout: 'v2 token\n' });
  }, 120_000);

  it('does not run a CLI that failed to compile, and compiles again on the next call', () => {
    utimesSync(output(), at(2022), at(2022));
    source("'v3' * 2", 2023); // a type error: tsc still emits, so the launcher must not trust the output
    const broken = admin('token');
    expect(broken.status).not.toBe(0);
    expect(broken).toMatchObject({ built: true, stdout: '' });
    expect(admin('token')).toMatchObject({ built: true, stdout: '' });

    source("'v4'", 2023);
    expect(admin('token')).toMatchObject({ status: 0, built: true, stdout: 'v4 token\n' });
    expect(admin('token')).toMatchObject({ status: 0, built: false });
  }, 120_000);

  it('is what npm run admin runs', () => {
    const scripts = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.admin).toBe('node cli/run-admin.mjs');
  });
});
