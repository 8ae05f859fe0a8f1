#!/usr/bin/env node
/**
 * The Python SDK's part of `npm test`: prepares the repository's `.venv/` (test/python-env.mjs),
 * then runs `mypy --strict` on the package and its pytest suite (unit, packaging and end-to-end
 * tests against the built local host). Arguments go to pytest: `npm run test:python -- -k rotated`.
 *
 * Without a Python 3.9+ interpreter it says so and fails under CI=true; elsewhere it warns and
 * skips, so a machine without Python can still run the TypeScript suite.
 */
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingPython, preparePythonEnv, VENV_PYTHON } from '../../test/python-env.mjs';

const PACKAGE = dirname(fileURLToPath(import.meta.url));

function run(args) {
  const result = spawnSync(VENV_PYTHON, args, { stdio: 'inherit', cwd: PACKAGE });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function main() {
  const env = preparePythonEnv();
  if (!env.ok) return missingPython(env.reason, 'the Python SDK tests (sdks/python)');
  console.log('[python] mypy --strict (sdks/python/src)');
  if (run(['-m', 'mypy']) !== 0) return 1;
  console.log('[python] pytest (sdks/python/tests)');
  return run(['-m', 'pytest', ...process.argv.slice(2)]);
}

try {
  process.exitCode = main();
} catch (error) {
  console.error(`[python] ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
