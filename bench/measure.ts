/**
 * What the figure modules of `npm run bench` measure with: autocannon runs, sequential latency
 * over one connection, a host's diagnostics, and keys seeded straight into the lookup table.
 */
import autocannon from 'autocannon';
import { Agent, request as httpRequest } from 'node:http';
import type { HostProcess } from '../local/host-process';
import type { ServiceContext } from '../app/context';
import { TableKeyRepository } from '../shared/adapters/table/table-key-repository';
import { masterComponentState } from '../shared/domain';
import { generateSecret, hashSecret } from '../shared/keys/compound-key';

/** The actor and request id of the bench's own writes through the services. */
export const BENCH_OP = { actor: { type: 'system' as const, id: 'bench', name: 'bench' }, requestId: 'bench' };

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An autocannon run, 20 connections unless `options` says otherwise. */
export async function load(options: autocannon.Options): Promise<autocannon.Result> {
  return autocannon({ connections: 20, ...options });
}

/** Cycles through a list for autocannon requests (distinct keys or bodies per request). */
export function cycling<T>(items: T[], apply: (request: autocannon.Request, item: T) => void): autocannon.Request[] {
  let i = 0;
  return [{ setupRequest: (request: autocannon.Request) => (apply(request, items[i++ % items.length]!), request) }];
}

/**
 * Median latency of `n` sequential GETs over one kept-alive connection, in microseconds
 * (autocannon reports whole milliseconds, too coarse for sub-millisecond reads).
 */
export async function sequentialLatencyMicros(url: string, headersFor: (i: number) => Record<string, string>, n: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(url, { agent, headers: headersFor(i) }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    samples.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  agent.destroy();
  return median(samples);
}

/** A host's `GET /_local/diagnostics` (`?gc=1`: after a full collection): storage operations counted, auth-cache size, memory. */
export async function diagnostics(host: HostProcess, query = '') {
  return (await (await fetch(`${host.url}/_local/diagnostics${query}`)).json()) as {
    storageOperations: Record<string, number> & { total: number; requestDriven: number; timeDriven: number };
    queueOperations: Record<'create' | 'send' | 'receive' | 'delete' | 'update', number>;
    authCacheEntries: number;
    authCacheMaxEntries: number;
    rssBytes: number;
    heapUsedBytes: number;
    /** The host process's CPU time so far (user and system). */
    cpuMicros: number;
    memory: HostMemory;
  };
}

/** The memory breakdown of a host's diagnostics (local/diagnostics.ts). */
export interface HostMemory {
  rssBytes: number;
  heapLimitBytes: number;
  heapCommittedBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
  arrayBuffersBytes: number;
  heapSpaces: Record<string, { committedBytes: number; usedBytes: number }>;
  kernel: { RssAnonBytes?: number; RssFileBytes?: number; VmHWMBytes?: number };
}

/** A customer with `count` keys whose lookup rows are written directly (fast), returning their secrets. */
export async function seedKeys(services: ServiceContext, slug: string, count: number): Promise<string[]> {
  const customer = await services.useCases.customers.create({ slug, name: slug, plan: 'enterprise' });
  const repo = new TableKeyRepository(services.storage);
  const secrets: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const secret = generateSecret();
      secrets.push(secret);
      await repo.insertLookup({
        secretHash: hashSecret(secret),
        status: 'active',
        customerId: customer.id,
        customerSlug: customer.slug,
        plan: customer.plan,
        keyId: `key_BENCH${String(i).padStart(21, '0')}`,
        keyLabel: `bench-${i}`,
        application: 'bench',
        environment: 'live',
        keyType: 'secondary',
        masterComponent: masterComponentState(customer),
      });
    }
  };
  await Promise.all(Array.from({ length: 48 }, worker));
  return secrets;
}
