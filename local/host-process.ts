import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The project root, whether this runs from `local/` (tests) or `dist/local/` (built). */
export const PROJECT_ROOT = __dirname.endsWith(join('dist', 'local')) ? resolve(__dirname, '..', '..') : resolve(__dirname, '..');
/** The built start script that `npm start` runs. */
export const START_SCRIPT = join(PROJECT_ROOT, 'dist', 'local', 'start.js');

/**
 * The V8 heap every host runs with, wherever it is launched: Azure (`languageWorkers__node__arguments`
 * in infra/modules/function-app.bicep, half the instance's memory), `func start`
 * (local.settings.sample.json), `npm start` (package.json) and the hosts of the tests and the
 * benchmark (below); test/unit/infra-drift.test.ts holds them equal. Left to itself, Node sizes the
 * heap from the machine's memory: 4 GiB on a developer's 24 GiB machine, where V8 then lets the old
 * generation grow to 4 times its live size between full collections, and the pages it frees stay
 * resident, kept for reuse (a host of 40 MiB live heap held 250 to 290 MiB after bench figure 7's
 * load). Under 2 GiB V8 grows it by at most 1.3 to 2 times, so a host's memory follows what it
 * holds, on every machine. 1 GiB is four times what the app's own bounds need (the ingest budget,
 * 256 MiB, and the intake, 32 MiB: docs/capacity.md).
 */
export const HOST_NODE_ARGUMENTS = '--max-old-space-size=1024';

export interface HostProcess {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  /** Resolves once the host has printed text matching `pattern` (at any time since it started); rejects if it exits first. */
  printed(pattern: RegExp): Promise<void>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface HostProcessOptions {
  /** Receives the host's log output (stderr, and stdout once it listens). */
  onLog?: (text: string) => void;
}

/**
 * Runs the built `npm start` script as a separate process (another instance of the app) and
 * waits until it says where it listens (or exits). For the tests and the benchmark.
 */
export async function startHostProcess(
  args: string[],
  env: Record<string, string>,
  options: HostProcessOptions = {},
): Promise<HostProcess> {
  if (!existsSync(START_SCRIPT)) throw new Error(`${START_SCRIPT} is missing: build first (npm run build)`);
  const child = spawn(process.execPath, [START_SCRIPT, ...args], {
    cwd: PROJECT_ROOT,
    // The launch's heap first: a caller's own NODE_OPTIONS (a smaller heap in the hostile suite) come after it, and win.
    env: { ...process.env, ...env, NODE_OPTIONS: `${HOST_NODE_ARGUMENTS} ${env.NODE_OPTIONS ?? process.env.NODE_OPTIONS ?? ''}`.trim() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let listening = false;
  /** Callers of `printed`, each told when stdout matches (or the process is gone). */
  const waiting = new Set<{ pattern: RegExp; resolve: () => void; reject: (error: Error) => void }>();
  const check = () => {
    for (const waiter of waiting) {
      if (waiter.pattern.test(out)) {
        waiting.delete(waiter);
        waiter.resolve();
      }
    }
  };
  child.stdout.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    out += text;
    // From the listening line on, stdout carries log lines only (a demo key, if any, was printed before).
    if (listening) options.onLog?.(text);
    check();
  });
  child.stderr.on('data', (chunk: Buffer) => options.onLog?.(chunk.toString()));
  const exited = new Promise<number | null>((r) =>
    child.once('exit', (code) => {
      for (const waiter of waiting) waiter.reject(new Error(`start.js exited (${code ?? child.signalCode}):\n${out}`));
      waiting.clear();
      r(code);
    }),
  );
  const printed = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      if (pattern.test(out)) return resolve();
      if (child.exitCode !== null || child.signalCode !== null)
        return reject(new Error(`start.js exited (${child.exitCode ?? child.signalCode}):\n${out}`));
      waiting.add({ pattern, resolve, reject });
    });
  const LISTENING = /listening on (http:\/\/localhost:\d+)/;
  await printed(LISTENING);
  listening = true;
  return {
    child,
    url: LISTENING.exec(out)![1]!,
    stdout: () => out,
    printed,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
