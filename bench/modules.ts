import type { Config } from '../shared/config';
import type { HostProcess } from '../local/host-process';
import type { ServiceContext } from '../app/context';
import { batchCostFigures } from './batch-cost';
import { coldLookupFigures } from './cold-lookups';
import { doorThroughputFigures } from './door-throughput';
import { fullRateFigures } from './full-rate';
import { ingestFigures } from './ingest';
import { ingestMemoryFigures } from './ingest-memory';
import { keyMemoryFigure } from './key-memory';
import { listingCostFigure } from './listing-cost';
import { propagationFigures } from './propagation';
import { rateLimitFigure } from './rate-limit';
import { storageCostFigures } from './storage-cost';
import { tokenExchangeFigure } from './token-exchange';
import { webhookLatencyFigures } from './webhook-latency';

/** One figure of the benchmark, as bench/run.ts records it. */
export interface Figure {
  id: string;
  name: string;
  value: number;
  unit: string;
  target?: string;
  pass?: boolean;
  detail?: Record<string, unknown>;
}

/** The main host's tables: the customer `bench` and its key `bench-main`, seeded in this process. */
export interface MainTables {
  prefix: string;
  services: ServiceContext;
  key: string;
}

/** Spans per second of one request shape, stored and parse-only (figure 3). */
export interface IngestRate {
  storedSpansPerSecond: number;
  parseOnlySpansPerSecond: number;
  ratio: number;
  non2xx: number;
}

/** What a figure module gets from the run: hosts on the run's Azurite, and services in process on a host's tables. */
export interface BenchContext {
  quick: boolean;
  /** A load's duration in seconds: `full`, or about a third of it in a quick run. */
  seconds(full: number): number;
  /** A host process on the tables of `prefix`, with the run's settings and `env` on top. */
  host(prefix: string, env?: Record<string, string>): Promise<HostProcess>;
  /** Services in this process on the tables of `prefix` (to seed customers and keys). */
  seeder(prefix: string): ServiceContext;
  /** The configuration a host on the tables of `prefix` runs with (before its own `env`). */
  config(prefix: string): Config;
  /** The main tables, seeded on first call; figures 1, 3, 5 and 6 share them. */
  main(): Promise<MainTables>;
  /** The main host on the main tables (usage flushed every 2 s), started on first call and kept to the end. */
  mainHost(): Promise<HostProcess>;
  /** Figure 3's rates by `{encoding}-{spans per request}`; figures 8 to 10 scale by `protobuf-10`. */
  ingestRates: Record<string, IngestRate>;
  /** Records a figure as it is measured (printed at once, and in the summary). */
  record(figure: Figure): void;
}

/** Every figure module, in the order a full run measures them, with the ids each records. */
export const FIGURE_MODULES: ReadonlyArray<{ ids: readonly string[]; title: string; run: (ctx: BenchContext) => Promise<void> }> = [
  // First, while this process is quiet and before any host starts: figures 1c, 1d and 1e time the door and the telemetry in process.
  { ids: ['1', '1b', '1c', '1d', '1e'], title: '1. Auth overhead (warm cache)', run: doorThroughputFigures },
  { ids: ['2a', '2b'], title: '2. Cold auth (auth cache off)', run: coldLookupFigures },
  { ids: ['3', '3b', '3c', '3d'], title: '3. Ingest (spans per second, stored vs parse-only)', run: ingestFigures },
  { ids: ['5'], title: '5. Rate-limit accuracy across three hosts', run: rateLimitFigure },
  { ids: ['6', '6b'], title: '6. Storage operations per authenticated request (steady state)', run: storageCostFigures },
  { ids: ['7'], title: '7. Memory after 100,000 requests across 10,000 keys', run: keyMemoryFigure },
  {
    ids: ['8', '9', '10'],
    title: '8-10. One enterprise customer at its full rate: partition and account load (a scaled-down run, modelled up)',
    run: fullRateFigures,
  },
  { ids: ['3e', '3f'], title: '3e-3f. Ingest memory under 200 concurrent bodies inflating 4 KB to 4 MiB', run: ingestMemoryFigures },
  {
    ids: ['4a', '4b', '4c', '4d'],
    title: '4. Revocation propagation across two hosts (a revocation, a leaked key)',
    run: propagationFigures,
  },
  { ids: ['4e'], title: '4e. Storage operations per listed session (GET /v1/sessions)', run: listingCostFigure },
  { ids: ['5b'], title: '5b. Storage transactions per rate-limit unit, by request shape', run: batchCostFigures },
  { ids: ['11'], title: '11. Token exchange latency (POST /v1/oauth/token, the issuer key set warm)', run: tokenExchangeFigure },
  {
    ids: ['12', '12b', '12c', '12d'],
    title: '12. A key revocation to its webhook at the receiver (the queue warm), and its storage and queue operations',
    run: webhookLatencyFigures,
  },
];

/** The figure ids of `--only 3e,5b` (or `--only=3e`), when given. */
export function onlyFigures(argv: readonly string[]): Set<string> | undefined {
  const at = argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
  if (at < 0) return undefined;
  const value = argv[at]!.startsWith('--only=') ? argv[at]!.slice('--only='.length) : (argv[at + 1] ?? '');
  return new Set(
    value
      .split(',')
      .map((id) => id.trim())
      .filter(Boolean),
  );
}

/** Runs the modules that measure a wanted figure (all of them without `--only`), in order. */
export async function runFigureModules(ctx: BenchContext, only: Set<string> | undefined): Promise<void> {
  const unknown = [...(only ?? [])].filter((id) => !FIGURE_MODULES.some((module) => module.ids.includes(id)));
  if (unknown.length > 0) throw new Error(`no figure ${unknown.join(', ')} (figures: ${FIGURE_MODULES.flatMap((m) => m.ids).join(', ')})`);
  for (const module of FIGURE_MODULES) {
    if (only && !module.ids.some((id) => only.has(id))) continue;
    console.log(`\n${module.title}`);
    await module.run(ctx);
  }
}
