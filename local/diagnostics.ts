import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import type { ServiceProvider } from '../middleware/error-boundary';
import { CONTENT_TYPES, decodeContent, otlpFormatOf } from '../shared/otlp/http-body';
import { groupSessions } from '../shared/otlp/sessions';
import { decodeTraceRequest } from '../shared/otlp/trace-request';

/**
 * Local-only routes for the benchmark and the resilience suite (the host serves them only when
 * started with `--diagnostics`; they are not functions and never exist in Azure):
 *
 * - `GET /_local/diagnostics`: storage operations and bytes written so far, auth-cache entries,
 *   memory, CPU time, and the peak heap since the last `?resetPeak=1` (sampled every 2 ms).
 *   `memory` breaks the resident size down: V8's heap by space (committed and used), memory
 *   outside it (`external`, of which `arrayBuffers`), and the kernel's view (anonymous and
 *   file-backed resident pages, and the peak, from /proc/self/status on Linux).
 * - `GET /_local/operations?since=<epoch ms>`: the storage operations kept one by one since then
 *   (table, partition, entities, timing, cause): the benchmark's partition-load model.
 * - `GET /_local/revocation-feed/next-read`: answers once a revocation-feed read that started
 *   after the request arrived has completed (RevocationListener.nextRead): the event that what was
 *   published before the request (a revocation, a changed key) has reached this instance. The
 *   multi-instance tests wait on it instead of timing propagation (`npm run bench` times it).
 * - `POST /_local/parse-only/traces`: what `POST /v1/traces` does before storage (content
 *   decoding, OTLP decoding, grouping into sessions), and nothing else: the baseline the
 *   ingest figures are compared with.
 * - `POST /_local/profile/start?intervalMicros=100`, then `POST /_local/profile/stop`: a CPU
 *   profile of this process between the two (V8's sampling profiler through the inspector, as
 *   `node --cpu-prof` writes it), answered as the `.cpuprofile` JSON (`npm run bench -- --profile`).
 */
/** The inspector session of a CPU profile under way (`/_local/profile/start`). */
let profiler: Session | undefined;
/** The largest heap in use seen since the last reset, sampled every 2 ms while diagnostics are on. */
let heapPeak = 0;
let sampler: NodeJS.Timeout | undefined;
function sampleHeap(): number {
  const used = getHeapStatistics().used_heap_size;
  if (used > heapPeak) heapPeak = used;
  return used;
}

export async function serveDiagnostics(
  path: string,
  method: string,
  body: Buffer,
  req: IncomingMessage,
  res: ServerResponse,
  getServices: ServiceProvider,
): Promise<boolean> {
  if (path === '/_local/diagnostics' && method === 'GET') {
    const services = await getServices();
    sampler ??= setInterval(sampleHeap, 2).unref();
    // With `?gc=1` on a host started with --expose-gc: collect first, so memory is what is retained.
    const collect = (globalThis as { gc?: () => void }).gc;
    if (req.url?.includes('gc=1') && collect) collect();
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    send(res, 200, {
      cpuMicros: cpu.user + cpu.system,
      instanceId: services.rateLimiter.instanceId,
      storageOperations: services.storage.operations.snapshot(),
      queueOperations: { ...services.queueOperations.counts },
      authCacheEntries: services.authenticator.cachedEntries,
      authCacheMaxEntries: services.useCases.config.authCache.maxEntries,
      componentStoreCalls: services.components.storeCalls,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      heapPeakBytes: Math.max(heapPeak, sampleHeap()),
      memory: memoryBreakdown(memory),
      uptimeSeconds: Math.round(process.uptime()),
    });
    if (req.url?.includes('resetPeak=1')) heapPeak = sampleHeap();
    return true;
  }
  if (path === '/_local/operations' && method === 'GET') {
    const services = await getServices();
    const since = Number(new URL(req.url ?? '', 'http://local').searchParams.get('since') ?? 0);
    send(res, 200, { instanceId: services.rateLimiter.instanceId, operations: services.storage.operations.recent(since) });
    return true;
  }
  if (path === '/_local/revocation-feed/next-read' && method === 'GET') {
    const services = await getServices();
    await services.revocations.nextRead();
    send(res, 200, { instanceId: services.rateLimiter.instanceId, feedLagSeconds: services.revocations.lagSeconds() });
    return true;
  }
  if (path === '/_local/profile/start' && method === 'POST') {
    const interval = Number(new URL(req.url ?? '', 'http://local').searchParams.get('intervalMicros') ?? 100);
    profiler ??= new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: Number.isInteger(interval) && interval > 0 ? interval : 100 });
    await profiler.post('Profiler.start');
    send(res, 200, { started: true });
    return true;
  }
  if (path === '/_local/profile/stop' && method === 'POST') {
    if (!profiler) {
      send(res, 409, { error: 'no profile was started' });
      return true;
    }
    const { profile } = await profiler.post('Profiler.stop');
    await profiler.post('Profiler.disable');
    profiler.disconnect();
    profiler = undefined;
    send(res, 200, profile);
    return true;
  }
  if (path === '/_local/parse-only/traces' && method === 'POST') {
    const services = await getServices();
    try {
      const format = otlpFormatOf(req.headers['content-type'] ?? null);
      const decoded = decodeTraceRequest(
        await decodeContent(body, req.headers['content-encoding'] ?? null, services.useCases.config.ingest.maxBodyBytes),
        format,
      );
      groupSessions(decoded);
      res.writeHead(200, { 'content-type': CONTENT_TYPES[format] });
      res.end(format === 'json' ? '{}' : '');
    } catch {
      send(res, 400, { error: 'not a valid export request' });
    }
    return true;
  }
  return false;
}

/** Where the resident memory is: V8's spaces, what lives outside the heap, and the kernel's counts. */
function memoryBreakdown(memory: NodeJS.MemoryUsage) {
  const heapSpaces: Record<string, { committedBytes: number; usedBytes: number }> = {};
  for (const space of getHeapSpaceStatistics()) {
    heapSpaces[space.space_name] = { committedBytes: space.physical_space_size, usedBytes: space.space_used_size };
  }
  const heap = getHeapStatistics();
  return {
    rssBytes: memory.rss,
    /** The old generation's bound and the young one's, as the process was launched (`--max-old-space-size`). */
    heapLimitBytes: heap.heap_size_limit,
    heapTotalBytes: memory.heapTotal,
    heapCommittedBytes: heap.total_physical_size,
    heapUsedBytes: memory.heapUsed,
    mallocedBytes: heap.malloced_memory,
    peakMallocedBytes: heap.peak_malloced_memory,
    externalBytes: memory.external,
    arrayBuffersBytes: memory.arrayBuffers,
    heapSpaces,
    kernel: kernelMemory(),
  };
}

/** RssAnon, RssFile, RssShmem and VmHWM of this process in bytes (Linux), or {} elsewhere. */
function kernelMemory(): Record<string, number> {
  const fields: Record<string, number> = {};
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    for (const match of status.matchAll(/^(VmHWM|VmRSS|RssAnon|RssFile|RssShmem):\s+(\d+) kB/gm)) {
      fields[`${match[1]}Bytes`] = Number(match[2]) * 1024;
    }
  } catch {
    // not Linux: the breakdown has V8's and Node's counts only
  }
  return fields;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
