#!/usr/bin/env node
/**
 * The Python SDK's part of `npm test`: creates `.venv/` at the repository root on first run (again
 * whenever sdks/python/pyproject.toml changes), installs the package with its test extras, then
 * runs `mypy --strict` on the package and its pytest suite (unit, packaging and end-to-end tests
 * against the built local host). Arguments go to pytest: `npm run test:python -- -k rotated`.
 *
 * Without a Python 3.9+ interpreter it says so and fails under CI=true; elsewhere it warns and
 * skips, so a machine without Python can still run the TypeScript suite.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(PACKAGE, '..', '..');
const VENV = join(ROOT, '.venv');
const VENV_PYTHON = process.platform === 'win32' ? join(VENV, 'Scripts', 'python.exe') : join(VENV, 'bin', 'python');
const STAMP = join(VENV, '.veriproof-sdk-installed');

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: PACKAGE, ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

/** The first interpreter of PYTHON, python3, python that is CPython 3.9 or newer. */
function findPython() {
  for (const candidate of [process.env.PYTHON, 'python3', 'python'].filter(Boolean)) {
    const probe = spawnSync(candidate, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
    if (probe.status !== 0) continue;
    const [major, minor] = probe.stdout.trim().split('.').map(Number);
    if (major === 3 && minor >= 9) return candidate;
  }
  return undefined;
}

function prepareVenv(python) {
  const wanted = createHash('sha256')
    .update(readFileSync(join(PACKAGE, 'pyproject.toml')))
    .update(readFileSync(fileURLToPath(import.meta.url)))
    .digest('hex');
  if (existsSync(STAMP) && existsSync(VENV_PYTHON) && readFileSync(STAMP, 'utf8') === wanted) return;
  console.log('[python] creating .venv with sdks/python and its test extras (first run, or pyproject.toml changed)...');
  rmSync(VENV, { recursive: true, force: true });
  if (run(python, ['-m', 'venv', VENV]) !== 0) throw new Error('python -m venv failed');
  const pip = [VENV_PYTHON, '-m', 'pip', '--disable-pip-version-check', '--quiet'];
  if (run(pip[0], [...pip.slice(1), 'install', '--editable', `${PACKAGE}[test]`]) !== 0) throw new Error('pip install failed');
  writeFileSync(STAMP, wanted);
}

function main() {
  const python = findPython();
  if (!python) {
    const message = 'python3 (CPython 3.9 or newer) was not found: the Python SDK tests (sdks/python) did not run.';
    if (process.env.CI === 'true') {
      console.error(`[python] ${message} CI=true, so this fails.`);
      return 1;
    }
    console.warn(`[python] WARNING: ${message} Install Python 3 to run them (set PYTHON to use another interpreter).`);
    return 0;
  }
  prepareVenv(python);
  console.log('[python] mypy --strict (sdks/python/src)');
  if (run(VENV_PYTHON, ['-m', 'mypy']) !== 0) return 1;
  console.log('[python] pytest (sdks/python/tests)');
  return run(VENV_PYTHON, ['-m', 'pytest', ...process.argv.slice(2)]);
}

try {
  process.exitCode = main();
} catch (error) {
  console.error(`[python] ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
