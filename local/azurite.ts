import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';

/** Azurite's well-known development account (public, documented, local only). */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function tableConnectionString(port: number, host = '127.0.0.1'): string {
  return `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_ACCOUNT_KEY};TableEndpoint=http://${host}:${port}/${DEV_ACCOUNT};`;
}

export interface AzuriteOptions {
  /** Table service port (0 picks a free one). */
  tablePort: number;
  /** Folder for Azurite's data; omitted means in memory (tests). */
  location?: string;
  /** Receives Azurite's own output lines. */
  onOutput?: (line: string) => void;
}

export interface RunningAzurite {
  port: number;
  connectionString: string;
  /** True when an Azurite that was already running is being reused. */
  reused: boolean;
  child: ChildProcess | undefined;
  stop(): Promise<void>;
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function isListening(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Whether what listens on the port answers like Azurite's table service. */
async function isAzuriteTable(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/${DEV_ACCOUNT}/Tables`, { signal: AbortSignal.timeout(2000) });
    return (response.headers.get('server') ?? '').toLowerCase().includes('azurite');
  } catch {
    return false;
  }
}

/**
 * Starts Azurite's table service from node_modules as a child process (with the same Node
 * binary) and waits until it accepts connections. When the port already serves Azurite,
 * that instance is reused and left running at the end.
 */
export async function startAzurite(options: AzuriteOptions): Promise<RunningAzurite> {
  const port = options.tablePort === 0 ? await freePort() : options.tablePort;
  if (await isListening(port)) {
    if (await isAzuriteTable(port)) {
      return { port, connectionString: tableConnectionString(port), reused: true, child: undefined, stop: async () => {} };
    }
    throw new Error(`Port ${port} is in use by something that is not Azurite. Free it or set AZURITE_TABLE_PORT.`);
  }
  const entry = join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'table', 'main.js');
  const args = [entry, '--tableHost', '127.0.0.1', '--tablePort', String(port), '--skipApiVersionCheck', '--disableTelemetry', '--silent'];
  if (options.location) {
    mkdirSync(options.location, { recursive: true });
    args.push('--location', options.location);
  } else {
    args.push('--inMemoryPersistence');
  }
  // Its own process group: a terminal's Ctrl-C reaches only us, and we stop Azurite once,
  // with SIGINT, the one signal on which it saves its data before exiting.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split(/\r?\n/).filter(Boolean)) {
      output.push(line);
      if (output.length > 50) output.shift();
      options.onOutput?.(line);
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exited = code;
      resolve();
    }),
  );

  const deadline = Date.now() + 30_000;
  while (!(await isListening(port))) {
    if (exited !== undefined) {
      throw new Error(`Azurite exited (code ${exited}) before it listened on ${port}:\n${output.join('\n')}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Azurite did not listen on ${port} within 30 s:\n${output.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    port,
    connectionString: tableConnectionString(port),
    reused: false,
    child,
    async stop() {
      process.off('exit', killOnExit);
      if (exited !== undefined) return;
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    },
  };
}
