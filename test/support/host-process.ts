import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { recordOutput } from './secrets';

export const ROOT = resolve(__dirname, '..', '..');
export const START_SCRIPT = join(ROOT, 'dist', 'local', 'start.js');

export interface HostProcess {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs the built `npm start` script as a separate process (a second instance of the app),
 * and waits until it says where it listens. Its log output (stderr) goes through the
 * no-secret check; stdout may carry the demo key by design and is kept apart.
 */
export async function startHostProcess(args: string[], env: Record<string, string>): Promise<HostProcess> {
  if (!existsSync(START_SCRIPT)) throw new Error('dist/ is missing: run the tests with npm test (it builds first)');
  const child = spawn(process.execPath, [START_SCRIPT, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => recordOutput(chunk.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 45_000;
  let match: RegExpExecArray | null = null;
  while (!(match = /listening on (http:\/\/localhost:\d+)/.exec(out))) {
    if (child.exitCode !== null) throw new Error(`start.js exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) throw new Error(`start.js did not listen in time:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // Log lines on stdout (info level) are checked too, minus the lines that print a demo key.
  child.stdout!.on('data', (chunk: Buffer) => recordOutput(chunk.toString()));
  return {
    child,
    url: match[1]!,
    stdout: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
