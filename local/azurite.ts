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

/** The development account's connection string with its table and (when given) queue endpoints. */
export function azuriteConnectionString(tablePort: number, queuePort: number | undefined, host = '127.0.0.1'): string {
  const queue = queuePort === undefined ? '' : `QueueEndpoint=http://${host}:${queuePort}/${DEV_ACCOUNT};`;
  return `${tableConnectionString(tablePort, host)}${queue}`;
}

export interface AzuriteOptions {
  /** Table service port (0 picks a free one). */
  tablePort: number;
  /** Queue service port (0 picks a free one); omitted: no queue service. */
  queuePort?: number;
  /** Folder for Azurite's data; omitted means in memory (tests). */
  location?: string;
  /** Receives Azurite's own output lines. */
  onOutput?: (line: string) => void;
}

export interface RunningAzurite {
  /** The table service's port. */
  port: number;
  /** The queue service's port, when one was asked for. */
  queuePort: number | undefined;
  /** The table endpoint, and the queue endpoint when there is a queue service. */
  connectionString: string;
  /** True when every service asked for was already running (and is reused, left running at the end). */
  reused: boolean;
  /** The table service's process, when this call started it. */
  child: ChildProcess | undefined;
  /** The queue service's process, when this call started it. */
  queueChild: ChildProcess | undefined;
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

type AzuriteService = 'table' | 'queue';

/** Whether what listens on the port answers like Azurite's table or queue service. */
async function isAzurite(service: AzuriteService, port: number): Promise<boolean> {
  const path = service === 'table' ? `/${DEV_ACCOUNT}/Tables` : `/${DEV_ACCOUNT}?comp=list`;
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
    return (response.headers.get('server') ?? '').toLowerCase().includes('azurite');
  } catch {
    return false;
  }
}

/** One of Azurite's services: one this call started, or one already listening (reused). */
interface AzuriteProcess {
  port: number;
  child: ChildProcess | undefined;
  stop(): Promise<void>;
}

const SETTING: Record<AzuriteService, string> = { table: 'AZURITE_TABLE_PORT', queue: 'AZURITE_QUEUE_PORT' };

/**
 * Starts Azurite's table service, and its queue service when `queuePort` is given, from
 * node_modules as child processes (with the same Node binary), and waits until they accept
 * connections. A port that already serves that Azurite service is reused and left running at
 * the end; a service not yet running beside a reused one is started.
 */
export async function startAzurite(options: AzuriteOptions): Promise<RunningAzurite> {
  const table = await startService('table', options.tablePort, options);
  let queue: AzuriteProcess | undefined;
  try {
    queue = options.queuePort === undefined ? undefined : await startService('queue', options.queuePort, options);
  } catch (error) {
    await table.stop();
    throw error;
  }
  return {
    port: table.port,
    queuePort: queue?.port,
    connectionString: azuriteConnectionString(table.port, queue?.port),
    reused: table.child === undefined && (queue === undefined || queue.child === undefined),
    child: table.child,
    queueChild: queue?.child,
    async stop() {
      await Promise.all([table.stop(), queue?.stop()]);
    },
  };
}

async function startService(service: AzuriteService, requestedPort: number, options: AzuriteOptions): Promise<AzuriteProcess> {
  const port = requestedPort === 0 ? await freePort() : requestedPort;
  if (await isListening(port)) {
    if (await isAzurite(service, port)) return { port, child: undefined, stop: async () => {} };
    throw new Error(`Port ${port} is in use by something that is not Azurite's ${service} service. Free it or set ${SETTING[service]}.`);
  }
  const entry = join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', service, 'main.js');
  const args = [
    entry,
    `--${service}Host`,
    '127.0.0.1',
    `--${service}Port`,
    String(port),
    '--skipApiVersionCheck',
    '--disableTelemetry',
    '--silent',
  ];
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
      throw new Error(`Azurite (${service}) exited (code ${exited}) before it listened on ${port}:\n${output.join('\n')}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Azurite (${service}) did not listen on ${port} within 30 s:\n${output.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    port,
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
