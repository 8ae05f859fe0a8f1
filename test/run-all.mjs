#!/usr/bin/env node
/**
 * `npm test`: every stage of the suite, in order, each with its own output as it runs, then one
 * line per stage (pass/FAIL/skipped, seconds) and a non-zero exit if any failed. A failing stage
 * does not hide the ones after it (lint errors do not keep the tests from running, nor a jest
 * failure the Python SDK's tests); only a failed build stops the run, since every later stage
 * reads what it builds.
 */
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NODE = process.execPath;
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const JEST = ['--experimental-vm-modules', '--disable-warning=ExperimentalWarning', 'node_modules/jest/bin/jest.js'];

/** name, command, arguments; `required` stops the run when it fails. */
const STAGES = [
  { name: 'build', command: NPM, args: ['run', 'build'], required: true },
  { name: 'lint', command: NPM, args: ['run', 'lint'] },
  { name: 'python-env', command: NODE, args: ['test/python-env.mjs'] },
  { name: 'jest', command: NODE, args: JEST },
  { name: 'python', command: NODE, args: ['sdks/python/run-tests.mjs'] },
];

const results = [];
let stopped = false;
for (const stage of STAGES) {
  if (stopped) {
    results.push({ name: stage.name, outcome: 'skipped', seconds: 0 });
    continue;
  }
  console.log(`\n[npm test] ${stage.name}: ${[stage.command === NODE ? 'node' : stage.command, ...stage.args].join(' ')}`);
  const started = performance.now();
  const run = spawnSync(stage.command, stage.args, { cwd: ROOT, stdio: 'inherit', shell: process.platform === 'win32' });
  const seconds = (performance.now() - started) / 1000;
  if (run.error) console.error(`[npm test] ${stage.name}: ${run.error.message}`);
  const passed = !run.error && run.status === 0;
  results.push({ name: stage.name, outcome: passed ? 'pass' : 'FAIL', seconds });
  // Ctrl-C reaches the stage and this runner alike: stop rather than start the next stage.
  if (!passed && (stage.required || run.signal === 'SIGINT')) stopped = true;
}

const failed = results.filter((result) => result.outcome !== 'pass');
console.log('\n[npm test] stages:');
for (const { name, outcome, seconds } of results)
  console.log(`  ${name.padEnd(11)} ${outcome.padEnd(8)} ${outcome === 'skipped' ? '' : `${seconds.toFixed(1)} s`}`.trimEnd());
const names = (outcome) => results.filter((result) => result.outcome === outcome).map((result) => result.name);
const failedNames = names('FAIL');
const skippedNames = names('skipped');
console.log(
  failed.length === 0
    ? `[npm test] all ${results.length} stages passed`
    : `[npm test] failed: ${failedNames.join(', ')}${skippedNames.length ? `; not run: ${skippedNames.join(', ')}` : ''}`,
);
process.exitCode = failed.length === 0 ? 0 : 1;
