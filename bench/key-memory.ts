/**
 * Figure 7 of `npm run bench`: a host's resident memory after 100,000 requests over 10,000 keys
 * (after a forced collection), against a target of 200 MiB, with where it is: what the process
 * held at start, V8's heap (committed, used, by space), what lives outside it, and the auth
 * cache's share (its entries times an entry's size, measured here).
 */
import { randomBytes } from 'node:crypto';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ServiceContext } from '../app/context';
import { eachLimited } from '../shared/adapters/table/each-limited';
import { TableKeyRepository } from '../shared/adapters/table/table-key-repository';
import { KeyAuthenticator } from '../shared/auth/key-authenticator';
import { systemClock } from '../shared/clock';
import { hashSecret } from '../shared/keys/compound-key';
import type { KeyLookupEntry } from '../shared/ports/key-repository';
import { cycling, diagnostics, load, seedKeys, type HostMemory } from './measure';
import type { BenchContext } from './modules';

const KEYS = 10_000;
const TARGET_MIB = 200;

const mib = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;

export async function keyMemoryFigure(ctx: BenchContext): Promise<void> {
  const prefix = `b${randomBytes(4).toString('hex')}`;
  const seeder = ctx.seeder(prefix);
  const secrets = await seedKeys(seeder, 'memory', KEYS);
  const entryBytes = await authCacheEntryBytes(seeder, secrets);
  const amount = ctx.quick ? 30_000 : 100_000;

  const m = await ctx.host(prefix, { USAGE_FLUSH_INTERVAL_MS: '5000', NODE_OPTIONS: '--expose-gc' });
  try {
    const atStart = await diagnostics(m, '?gc=1');
    await load({
      url: `${m.url}/v1/whoami`,
      amount,
      connections: 20,
      requests: cycling(secrets, (r, s) => (r.headers = { 'x-api-key': s })),
    });
    const afterLoad = await diagnostics(m);
    const after = await diagnostics(m, '?gc=1');
    const rss = after.memory.rssBytes / 1048576;
    const authCacheBytes = after.authCacheEntries * entryBytes;
    ctx.record({
      id: '7',
      name:
        `resident memory after ${amount.toLocaleString('en')} requests over ${KEYS.toLocaleString('en')} keys, collected ` +
        `(${mib(atStart.memory.rssBytes)} MiB at start; heap ${mib(after.memory.heapCommittedBytes)} MiB committed, ` +
        `${mib(after.memory.heapUsedBytes)} used; auth cache ${after.authCacheEntries} of at most ${after.authCacheMaxEntries} ` +
        `entries x ${Math.round(entryBytes)} B = ${mib(authCacheBytes)} MiB)`,
      value: rss,
      unit: 'MiB',
      target: `<= ${TARGET_MIB}`,
      pass: rss <= TARGET_MIB,
      detail: {
        heapLimitMiB: mib(after.memory.heapLimitBytes),
        atStart: parts(atStart.memory),
        rssAfterLoadMiB: mib(afterLoad.memory.rssBytes),
        heapUsedAfterLoadMiB: mib(afterLoad.memory.heapUsedBytes),
        peakRssMiB: mib(after.memory.kernel.VmHWMBytes ?? 0),
        afterCollection: parts(after.memory),
        authCache: {
          entries: after.authCacheEntries,
          bound: after.authCacheMaxEntries,
          bytesPerEntry: Math.round(entryBytes),
          estimatedMiB: mib(authCacheBytes),
        },
      },
    });
  } finally {
    await m.stop();
  }
}

/**
 * Where a host's resident memory is: file-backed pages (the node binary and libraries, the same
 * in every process), V8's heap as committed (and how much of it is in use), anonymous memory
 * outside the heap (V8's free pages kept for reuse, malloc's arenas, thread stacks), and what
 * Node reports outside the heap (`external`, of which `arrayBuffers`).
 */
function parts(memory: HostMemory) {
  const anon = memory.kernel.RssAnonBytes ?? 0;
  return {
    rssMiB: mib(memory.rssBytes),
    fileBackedMiB: mib(memory.kernel.RssFileBytes ?? 0),
    heapCommittedMiB: mib(memory.heapCommittedBytes),
    heapUsedMiB: mib(memory.heapUsedBytes),
    heapSpacesCommittedMiB: Object.fromEntries(
      Object.entries(memory.heapSpaces)
        .filter(([, space]) => space.committedBytes > 0)
        .map(([name, space]) => [name.replace(/_space$/, ''), mib(space.committedBytes)]),
    ),
    anonymousOutsideHeapMiB: mib(anon - memory.heapCommittedBytes),
    externalMiB: mib(memory.externalBytes),
    arrayBuffersMiB: mib(memory.arrayBuffersBytes),
  };
}

/**
 * What one auth-cache entry holds, in bytes. The bench's keys are read once through the host's
 * own adapter (TableKeyRepository) and kept as text; then a KeyAuthenticator in this process
 * caches every key, each lookup parsing its row afresh as the Table client does and each hash
 * computed afresh as the door does, and the heap's objects are compared after a full collection
 * before and after (no storage call in between, whose sockets and abort timers would blur it).
 */
async function authCacheEntryBytes(services: ServiceContext, secrets: string[]): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const repo = new TableKeyRepository(services.storage);
  const rows = new Map<string, string>();
  await eachLimited(secrets, 20, async (secret) => {
    const hash = hashSecret(secret);
    rows.set(hash, JSON.stringify(await repo.findByHash(hash)));
  });
  const keys = { findByHash: async (hash: string) => JSON.parse(rows.get(hash)!) as KeyLookupEntry };
  const fill = async (count: number) => {
    const authenticator = new KeyAuthenticator(keys, systemClock, { ttlMs: 3_600_000, maxEntries: count });
    for (const secret of secrets.slice(0, count)) await authenticator.authenticate(hashSecret(secret));
    if (authenticator.cachedEntries !== count) throw new Error(`auth cache holds ${authenticator.cachedEntries} of ${count}`);
    return authenticator;
  };
  const settled = () => {
    gc();
    gc();
    return objectBytes();
  };
  await fill(1_000); // warms the code paths, then goes
  const before = settled();
  const kept = await fill(secrets.length);
  return (settled() - before) / kept.cachedEntries;
}

/** Bytes of objects in V8's heap, leaving out compiled code and bytecode (code and trusted spaces), which come and go with the JIT. */
function objectBytes(): number {
  return getHeapSpaceStatistics()
    .filter((space) => !/^(code|trusted|code_large_object|trusted_large_object)_space$/.test(space.space_name))
    .reduce((sum, space) => sum + space.space_used_size, 0);
}
