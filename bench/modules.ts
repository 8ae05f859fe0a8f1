import type { HostProcess } from '../local/host-process';
import type { ServiceContext } from '../app/context';
import { ingestMemoryFigures } from './ingest-memory';
import { batchCostFigures } from './batch-cost';
import { listingCostFigure } from './listing-cost';
import { propagationFigures } from './propagation';

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

/** What a figure module gets from the run: hosts on the run's Azurite, and services in process on a host's tables. */
export interface BenchContext {
  quick: boolean;
  /** A host process on the tables of `prefix`, with the run's settings and `env` on top. */
  host(prefix: string, env?: Record<string, string>): Promise<HostProcess>;
  /** Services in this process on the tables of `prefix` (to seed customers and keys). */
  seeder(prefix: string): ServiceContext;
  /** Records a figure as it is measured (printed at once, and in the summary). */
  record(figure: Figure): void;
}

/** Figures measured by modules of their own, in the order they run, with the ids each records. */
export const FIGURE_MODULES: ReadonlyArray<{ ids: readonly string[]; title: string; run: (ctx: BenchContext) => Promise<void> }> = [
  { ids: ['3e', '3f'], title: '3e-3f. Ingest memory under 200 concurrent bodies inflating 4 KB to 4 MiB', run: ingestMemoryFigures },
  {
    ids: ['4a', '4b', '4c', '4d'],
    title: '4. Revocation propagation across two hosts (a revocation, a leaked key)',
    run: propagationFigures,
  },
  { ids: ['4e'], title: '4e. Storage operations per listed session (GET /v1/sessions)', run: listingCostFigure },
  { ids: ['5b'], title: '5b. Storage transactions per rate-limit unit, by request shape', run: batchCostFigures },
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

/** Runs the modules that measure a wanted figure (all of them without `--only`). */
export async function runFigureModules(ctx: BenchContext, only: Set<string> | undefined): Promise<void> {
  for (const module of FIGURE_MODULES) {
    if (only && !module.ids.some((id) => only.has(id))) continue;
    console.log(`\n${module.title}`);
    await module.run(ctx);
  }
}
