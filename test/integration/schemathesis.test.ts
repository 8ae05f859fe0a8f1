import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ServiceContext } from '../../app/context';
import { FakeGitHubScanner } from '../../fixtures/github-scanner';
import { serveApp } from '../support/http';
import { op, portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { customerWithKey, testServices } from '../support/services';

/**
 * The OpenAPI document and the service agree, as judged by a fuzzer we did not write:
 * schemathesis (test/schemathesis/requirements.txt, installed into `.venv/` by
 * test/python-env.mjs) reads `/v1/openapi.json` of a running host and calls every operation
 * with valid credentials for each door, schema-valid and schema-violating data, and all of its
 * checks: server errors, undocumented status codes, content types, response headers and
 * schemas, auth that is ignored, bodies that should be rejected or accepted.
 *
 * SCHEMATHESIS_EXAMPLES (default 20 per operation) and SCHEMATHESIS_SEED tune the run. Unset, the
 * seed is fixed and Hypothesis is derandomized (`--generation-deterministic`, no example
 * database): `npm test` and CI make the same requests every time. `SCHEMATHESIS_SEED=random`
 * (`npm run test:explore`) draws a new seed and prints it; a number replays that seed as explored.
 * Without `.venv/` the test is skipped with a warning, except under CI=true where it fails.
 */
const ROOT = resolve(__dirname, '..', '..');
const ST = join(ROOT, '.venv', process.platform === 'win32' ? 'Scripts/st.exe' : 'bin/st');
const EXAMPLES = process.env.SCHEMATHESIS_EXAMPLES ?? '20';
const EXPLORE = process.env.SCHEMATHESIS_SEED !== undefined && process.env.SCHEMATHESIS_SEED !== '';
const SEED = !EXPLORE
  ? '20261202'
  : process.env.SCHEMATHESIS_SEED === 'random'
    ? String(randomInt(1, 2 ** 47))
    : process.env.SCHEMATHESIS_SEED!;
/** The fixed run is derandomized; an exploring run is not (its seed alone decides, and is printed). */
const SEED_ARGS = EXPLORE ? ['--seed', SEED] : ['--seed', SEED, '--generation-deterministic'];
const available = existsSync(ST);

if (!available) {
  if (process.env.CI === 'true') throw new Error(`${ST} is missing: run \`node test/python-env.mjs\` (npm test does) before jest`);
  console.warn(
    '[schemathesis] WARNING: .venv/bin/st is missing (no Python 3?): the OpenAPI fuzzing test is skipped. `node test/python-env.mjs` installs it.',
  );
}

/** Runs a program without blocking the event loop (the host under test lives in this process). */
function runProgram(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
  });
}

/** Whether a failed run's only error is the interpreter's AST fault (see the test), with no check failed. */
function interpreterFaultOnly(output: string): boolean {
  if (!output.includes('SystemError: AST constructor recursion depth mismatch')) return false;
  const summary = output.slice(output.lastIndexOf(' SUMMARY '));
  if (/^\s*Failures:/m.test(summary)) return false;
  const errors = (/Errors:\n([\s\S]*?)\n\s*\n/.exec(summary)?.[1] ?? '').split('\n').filter((line) => line.trim());
  return errors.length === 1 && /Runtime Error: 1$/.test(errors[0]!.trim());
}

(available ? describe : describe.skip)('schemathesis against /v1/openapi.json of a running host', () => {
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  let folder: string;
  let scanner: FakeGitHubScanner;

  beforeAll(async () => {
    // GitHub's key list, served locally: the fuzzer's reports are judged (and refused), not left unjudgeable.
    scanner = await FakeGitHubScanner.start();
    // Limits out of the way: the fuzzer sends thousands of requests, many of them unauthenticated.
    services = testServices({
      PLANS: '{"pro":{"requestsPerSecond":100000,"burst":100000,"keyLimit":1000}}',
      AUTH_FAILURES_PER_MINUTE: '100000',
      GITHUB_SECRET_SCANNING_KEYS_URL: scanner.url,
    });
    await services.revocations.poll();
    await services.useCases.health.probeAll();
    app = await serveApp(services);
    folder = mkdtempSync(join(tmpdir(), 'vp-schemathesis-'));
  });
  afterAll(async () => {
    await app?.close();
    await services?.dispose();
    await scanner?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('finds no disagreement between the document and the service, on any operation', async () => {
    // The ingest key belongs to one customer and the portal token to another, so that the
    // fuzzer's own "reset all keys" calls cannot revoke the key it ingests with.
    const ingest = await customerWithKey(services);
    const admin = await customerWithKey(services);
    const management = await services.useCases.keys.issue(
      admin.customer.slug,
      { label: 'fuzzer', application: 'schemathesis', type: 'management' },
      op(),
    );
    trackSecret(management.key);
    const token = await portalToken(services, { customer: admin.customer.slug, roles: ['CustomerAdmin', 'Staff'] }, 3600);
    const run = () =>
      runProgram(
        ST,
        [
          '--no-color',
          '--config-file',
          join(ROOT, 'test', 'schemathesis', 'schemathesis.toml'),
          'run',
          `${app.url}/v1/openapi.json`,
          '--checks',
          'all',
          '--max-examples',
          EXAMPLES,
          ...SEED_ARGS,
          '--workers',
          '2',
          '--request-timeout',
          '10',
          // Hypothesis's `too_slow` health check times the generation of examples against the wall
          // clock: on a busy machine it fails a run whose requests and answers were all right
          // (seen twice in ten runs with both cores taken). What is generated does not depend on
          // it, so the check says nothing about the API.
          '--suppress-health-check',
          'too_slow',
          '--output-truncate',
          'false',
          '--report',
          'junit',
          '--report-dir',
          folder,
        ],
        { ...process.env, VP_INGEST_KEY: ingest.key, VP_MANAGEMENT_KEY: management.key, VP_PORTAL_TOKEN: token, SCHEMATHESIS_HOOKS: '' },
        // Its example database and caches go to the scratch folder, not the repository.
        folder,
      );
    // Written past the log capture's console (shown only with TEST_VERBOSE): an explored seed is worth keeping.
    if (EXPLORE)
      process.stderr.write(`[schemathesis] exploring with seed ${SEED}: SCHEMATHESIS_SEED=${SEED} npm run test:explore replays it\n`);
    // CPython 3.11.7 (the machines' interpreter) can raise "SystemError: AST constructor recursion
    // depth mismatch" inside Hypothesis while it describes a strategy (an interpreter bug, fixed in
    // later 3.11 releases), which schemathesis reports as a Runtime Error of whatever operation it
    // was generating for. A run that failed for that reason alone, with no check failed, says
    // nothing about the service: it is run again (at most twice), and each retry is printed.
    let { code, output } = await run();
    for (let retry = 1; code !== 0 && retry <= 2 && interpreterFaultOnly(output); retry++) {
      console.warn(`[schemathesis] retry ${retry}: the run failed only on the interpreter's AST fault (CPython 3.11.7), not on a check`);
      ({ code, output } = await run());
    }
    if (code !== 0) throw new Error(`schemathesis (seed ${SEED}) exited with ${code}:\n${output}`);
    console.log(output.slice(output.lastIndexOf('SUMMARY')));
    // It really ran: every operation of the document was tested (but the document's own route,
    // which schemathesis leaves out).
    const document = (await (await app.fetch('/v1/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(document.paths).reduce((sum, methods) => sum + Object.keys(methods).length, 0);
    expect(/Tested: (\d+)/.exec(output)?.[1]).toBe(String(operations - 1));
  }, 600_000);
});
