import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The project root, whether this runs from `local/` (tests) or `dist/local/` (built). */
export const PROJECT_ROOT = __dirname.endsWith(join('dist', 'local')) ? resolve(__dirname, '..', '..') : resolve(__dirname, '..');
/** The built start script that `npm start` runs. */
export const START_SCRIPT = join(PROJECT_ROOT, 'dist', 'local', 'start.js');

export interface HostProcess {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface HostProcessOptions {
  /** Receives the host's log output (stderr, and stdout once it listens). */
  onLog?: (text: string) => void;
}

/**
 * Runs the built `npm start` script as a separate process (another instance of the app) and
 * waits until it says where it listens. For the tests and the benchmark.
 */
export async function startHostProcess(
  args: string[],
  env: Record<string, string>,
  options: HostProcessOptions = {},
): Promise<HostProcess> {
  if (!existsSync(START_SCRIPT)) throw new Error(`${START_SCRIPT} is missing: build first (npm run build)`);
  const child = spawn(process.execPath, [START_SCRIPT, ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => options.onLog?.(chunk.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 45_000;
  let match: RegExpExecArray | null;
  while (!(match = /listening on (http:\/\/localhost:\d+)/.exec(out))) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`start.js exited (${child.exitCode ?? child.signalCode}):\n${out}`);
    if (Date.now() > deadline) throw new Error(`start.js did not listen in time:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // From here on stdout carries log lines only (a demo key, if any, was printed before).
  child.stdout.on('data', (chunk: Buffer) => options.onLog?.(chunk.toString()));
  return {
    child,
    url: match[1]!,
    stdout: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
