#!/usr/bin/env node
/**
 * The repository's Python test environment, `.venv/` at the root: the Python SDK (sdks/python)
 * with its test extras, and the API fuzzer of test/schemathesis/requirements.txt. Every
 * third-party package (hypothesis included) comes from test/python-requirements.lock, pinned
 * with hashes and installed with `--require-hashes`; the SDK itself is then installed editable
 * with `--no-deps --no-build-isolation` (its build backend, hatchling, is in the lock too).
 * Created on first use and again whenever one of those files (or this one) changes.
 *
 * After changing the SDK's dependencies or the fuzzer's pin, regenerate the lock (pip-tools):
 *   pip-compile --generate-hashes --allow-unsafe --strip-extras --no-emit-find-links --extra test \
 *     --output-file test/python-requirements.lock sdks/python/pyproject.toml test/python-requirements.in
 *
 * Run as a script (`npm test` does, before jest) it prepares the environment. Without a CPython
 * 3.9+ interpreter it warns and exits 0, so a machine without Python still runs the TypeScript
 * suite; under CI=true it fails instead. Imported, `pythonEnv()` answers where the environment is.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '..');
const VENV = join(ROOT, '.venv');
const BIN = join(VENV, process.platform === 'win32' ? 'Scripts' : 'bin');
const EXE = process.platform === 'win32' ? '.exe' : '';
const STAMP = join(VENV, '.veriproof-test-env');
const SDK = join(ROOT, 'sdks', 'python');
const FUZZER_REQUIREMENTS = join(HERE, 'schemathesis', 'requirements.txt');
const LOCK = join(HERE, 'python-requirements.lock');

/** Where the environment's programs are, once prepared. */
export const VENV_PYTHON = join(BIN, `python${EXE}`);
export const SCHEMATHESIS = join(BIN, `st${EXE}`);

function run(command, args) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: ROOT });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

/** The first of PYTHON, python3, python that is CPython 3.9 or newer. */
function findPython() {
  for (const candidate of [process.env.PYTHON, 'python3', 'python'].filter(Boolean)) {
    const probe = spawnSync(candidate, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
    if (probe.status !== 0) continue;
    const [major, minor] = probe.stdout.trim().split('.').map(Number);
    if (major === 3 && minor >= 9) return candidate;
  }
  return undefined;
}

function wantedStamp() {
  const hash = createHash('sha256');
  for (const file of [join(SDK, 'pyproject.toml'), FUZZER_REQUIREMENTS, LOCK, fileURLToPath(import.meta.url)])
    hash.update(readFileSync(file));
  return hash.digest('hex');
}

/** True when `.venv/` exists and matches the current requirement files. */
export function pythonEnvReady() {
  return existsSync(STAMP) && existsSync(VENV_PYTHON) && readFileSync(STAMP, 'utf8') === wantedStamp();
}

/**
 * Prepares `.venv/` if needed. Answers `{ ok: true }`, or `{ ok: false, reason }` when no
 * suitable interpreter exists; throws when pip fails (that is a broken install, not a missing tool).
 */
export function preparePythonEnv() {
  if (pythonEnvReady()) return { ok: true };
  const python = findPython();
  if (!python) return { ok: false, reason: 'python3 (CPython 3.9 or newer) was not found' };
  console.log('[python] creating .venv: sdks/python with its test extras, and schemathesis (first run, or a requirement file changed)...');
  rmSync(VENV, { recursive: true, force: true });
  if (run(python, ['-m', 'venv', VENV]) !== 0) throw new Error('python -m venv failed');
  const pip = ['-m', 'pip', '--disable-pip-version-check', '--quiet', 'install'];
  if (run(VENV_PYTHON, [...pip, '--require-hashes', '--only-binary', ':all:', '--requirement', LOCK]) !== 0)
    throw new Error('pip install --require-hashes -r test/python-requirements.lock failed');
  if (run(VENV_PYTHON, [...pip, '--no-deps', '--no-build-isolation', '--editable', SDK]) !== 0)
    throw new Error('pip install --no-deps --editable sdks/python failed');
  // The lock must cover what the SDK declares: a dependency added to pyproject.toml but not locked fails here.
  const check = spawnSync(VENV_PYTHON, ['-m', 'pip', '--disable-pip-version-check', 'check'], { cwd: ROOT, encoding: 'utf8' });
  if (check.status !== 0) {
    process.stderr.write(check.stdout + check.stderr);
    throw new Error('pip check failed: regenerate test/python-requirements.lock (see the top of test/python-env.mjs)');
  }
  writeFileSync(STAMP, wantedStamp());
  return { ok: true };
}

/** For the callers' "skip here, fail in CI" rule. */
export function missingPython(reason, what) {
  const message = `${reason}: ${what} did not run.`;
  if (process.env.CI === 'true') {
    console.error(`[python] ${message} CI=true, so this fails.`);
    return 1;
  }
  console.warn(`[python] WARNING: ${message} Install Python 3 to run them (set PYTHON to use another interpreter).`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const env = preparePythonEnv();
    process.exitCode = env.ok ? 0 : missingPython(env.reason, 'the Python SDK tests and the schemathesis run');
  } catch (error) {
    console.error(`[python] ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
