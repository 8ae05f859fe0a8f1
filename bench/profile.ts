/**
 * `npm run bench -- --profile`: where a request's host CPU goes. The main host is profiled (V8's
 * sampling profiler through the inspector, `POST /_local/profile/start` and `/stop`) during a load
 * of `GET /v1/whoami` and one of `GET /v1/health`, the same request to both as in figure 1; the
 * two profiles are written under bench/results/ (open them in Chrome DevTools or VS Code) and
 * printed side by side, in microseconds of host CPU per request: by area (project file, package,
 * Node internals), the top frames by self time, and the project's functions by inclusive time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostProcess } from '../local/host-process';
import { PROJECT_ROOT } from '../local/host-process';
import { load } from './measure';
import type { BenchContext } from './modules';

/** A `.cpuprofile` as V8's profiler returns it (the fields read here). */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** What one profile says, in microseconds per request. */
export interface ProfileSummary {
  requests: number;
  /** Host CPU per request: every sample but `(idle)`. */
  busy: number;
  /** Self time by frame (function, file, line). */
  frames: Map<string, number>;
  /** Self time by area: a project file, a package, a Node module, or V8's own `(garbage collector)` and `(program)`. */
  areas: Map<string, number>;
  /** Inclusive time of the project's own functions (each counted once per stack, recursion included). */
  inclusive: Map<string, number>;
}

const DIST = `${join(PROJECT_ROOT, 'dist')}/`;

/** Where a frame's code lives, short: `local/host.js`, `@azure/functions`, `node:_http_server`, `undici`. */
function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const path = url.replace(/^file:\/\//, '');
  if (path.startsWith(DIST)) return path.slice(DIST.length);
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1]!;
  if (path.startsWith('node:internal/deps/undici')) return 'undici (fetch Request, Headers)';
  if (path.startsWith('node:internal/deps/')) return path.slice('node:internal/deps/'.length).split('/')[0]!;
  if (path.startsWith('node:'))
    return path
      .replace(/^node:(internal\/)?/, 'node:')
      .split('/')
      .slice(0, 2)
      .join('/');
  return path;
}

function frameOf(frame: CpuProfile['nodes'][number]['callFrame']): string {
  const name = frame.functionName || '(anonymous)';
  if (frame.url === '') return name;
  return `${name} ${areaOf(frame.url, name)}:${frame.lineNumber + 1}`;
}

const isProject = (url: string) => url.replace(/^file:\/\//, '').startsWith(DIST);

/** Sums profiles' samples by frame, area and (for the project's functions) inclusive time, per request of all of them. */
export function summarise(runs: ReadonlyArray<{ profile: CpuProfile; requests: number }>): ProfileSummary {
  const frames = new Map<string, number>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, micros: number) => map.set(key, (map.get(key) ?? 0) + micros);
  let busy = 0;
  let requests = 0;
  for (const { profile, requests: count } of runs) {
    requests += count;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    // A sample's time is the gap until the next one; the last one gets the mean gap.
    const self = new Map<number, number>();
    const mean = (profile.endTime - profile.startTime) / Math.max(1, profile.samples.length);
    profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? mean)));
    for (const [id, micros] of self) {
      const { callFrame } = byId.get(id)!;
      if (callFrame.functionName === '(idle)') continue;
      busy += micros;
      add(frames, frameOf(callFrame), micros);
      add(areas, areaOf(callFrame.url, callFrame.functionName), micros);
    }
    // Inclusive time: a node's self time plus its descendants', added to each project function on
    // its stack once (the topmost occurrence of a recursive one).
    const onStack = new Map<string, number>();
    const visit = (id: number): number => {
      const node = byId.get(id)!;
      const key = isProject(node.callFrame.url) ? frameOf(node.callFrame) : undefined;
      if (key) onStack.set(key, (onStack.get(key) ?? 0) + 1);
      let sum = node.callFrame.functionName === '(idle)' ? 0 : (self.get(id) ?? 0);
      for (const child of node.children ?? []) sum += visit(child);
      if (key) {
        const depth = onStack.get(key)! - 1;
        onStack.set(key, depth);
        if (depth === 0) add(inclusive, key, sum);
      }
      return sum;
    };
    visit(profile.nodes[0]!.id);
  }
  const perRequest = (map: Map<string, number>) => new Map([...map].map(([k, v]) => [k, v / requests]));
  return { requests, busy: busy / requests, frames: perRequest(frames), areas: perRequest(areas), inclusive: perRequest(inclusive) };
}

const us = (v: number | undefined) => (v === undefined ? '' : v.toFixed(2));
const top = (map: Map<string, number>, n: number) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
const cut = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));

/** Prints two summaries side by side (microseconds of host CPU per request). */
export function printSideBySide(
  a: { label: string; summary: ProfileSummary },
  b: { label: string; summary: ProfileSummary },
  rows = 25,
): void {
  const [sa, sb] = [a.summary, b.summary];
  console.log(
    `\nHost CPU per request (all samples but idle): ${a.label} ${us(sa.busy)} us, ${b.label} ${us(sb.busy)} us, difference ${us(sa.busy - sb.busy)} us` +
      ` (${sa.requests} and ${sb.requests} requests profiled)`,
  );

  console.log(`\nBy area, self time (us per request), by difference ${a.label} - ${b.label}:`);
  const names = new Set([...sa.areas.keys(), ...sb.areas.keys()]);
  const diffs = [...names].map((n) => [n, (sa.areas.get(n) ?? 0) - (sb.areas.get(n) ?? 0)] as const).sort((x, y) => y[1] - x[1]);
  console.log(`  ${'area'.padEnd(56)} ${a.label.padStart(9)} ${b.label.padStart(9)} ${'diff'.padStart(9)}`);
  for (const [name, diff] of diffs.slice(0, rows)) {
    console.log(`  ${cut(name, 56)} ${us(sa.areas.get(name)).padStart(9)} ${us(sb.areas.get(name)).padStart(9)} ${us(diff).padStart(9)}`);
  }

  console.log(`\nTop frames by self time (us per request):`);
  console.log(`  ${`${a.label}`.padEnd(62)} ${''.padStart(7)}   ${`${b.label}`.padEnd(62)}`);
  const [fa, fb] = [top(sa.frames, rows), top(sb.frames, rows)];
  for (let i = 0; i < rows; i++) {
    const left = fa[i] ? `${cut(fa[i]![0], 62)} ${us(fa[i]![1]).padStart(7)}` : ''.padEnd(70);
    const right = fb[i] ? `${cut(fb[i]![0], 62)} ${us(fb[i]![1]).padStart(7)}` : '';
    console.log(`  ${left}   ${right}`);
  }

  console.log(`\nThe project's functions by inclusive time (us per request), ${a.label}'s order:`);
  console.log(`  ${'function'.padEnd(70)} ${a.label.padStart(9)} ${b.label.padStart(9)}`);
  for (const [name, value] of top(sa.inclusive, rows)) {
    console.log(`  ${cut(name, 70)} ${us(value).padStart(9)} ${us(sb.inclusive.get(name)).padStart(9)}`);
  }
}

/** A CPU profile of the host during one load of `path`. */
async function profiledLoad(host: HostProcess, path: string, seconds: number, headers: Record<string, string>) {
  const post = async (what: string) => {
    const response = await fetch(`${host.url}/_local/profile/${what}`, { method: 'POST' });
    if (!response.ok) throw new Error(`profile ${what}: ${response.status}`);
    return (await response.json()) as CpuProfile | { started: boolean };
  };
  await post('start?intervalMicros=100');
  const run = await load({ url: `${host.url}${path}`, duration: seconds, headers });
  const profile = (await post('stop')) as CpuProfile;
  return { profile, requests: run.requests.total };
}

/** Profiles, in each of this many alternating rounds, one load of each route (the machine's noise spread over both). */
const ROUNDS = 3;

/** `npm run bench -- --profile`: profiles whoami's and health's loads on the main host and prints them side by side. */
export async function profileRoutes(ctx: BenchContext, started: Date): Promise<void> {
  const { key } = await ctx.main();
  const host = await ctx.mainHost();
  const sameRequest = { 'x-api-key': key };
  const seconds = ctx.seconds(4);
  console.log(
    `\nProfiling the main host: GET /v1/whoami and GET /v1/health, the same request (key header included) to both, ${ROUNDS} alternating rounds of ${seconds} s each`,
  );
  // Warm both paths (JIT, caches) as figure 1 does.
  await load({ url: `${host.url}/v1/health`, duration: 2, headers: sameRequest });
  await load({ url: `${host.url}/v1/whoami`, duration: 2, headers: sameRequest });
  const runs = {
    whoami: [] as Array<{ profile: CpuProfile; requests: number }>,
    health: [] as Array<{ profile: CpuProfile; requests: number }>,
  };
  for (let round = 0; round < ROUNDS; round++) {
    runs.whoami.push(await profiledLoad(host, '/v1/whoami', seconds, sameRequest));
    runs.health.push(await profiledLoad(host, '/v1/health', seconds, sameRequest));
  }

  const dir = join(PROJECT_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  for (const name of ['whoami', 'health'] as const) {
    runs[name].forEach((run, round) => writeFileSync(join(dir, `${stamp}-${name}-${round + 1}.cpuprofile`), JSON.stringify(run.profile)));
    const requests = runs[name].map((run) => run.requests);
    console.log(`  ${name}: ${requests.join(', ')} requests; profiles written to ${join(dir, `${stamp}-${name}-*.cpuprofile`)}`);
  }
  printSideBySide({ label: 'whoami', summary: summarise(runs.whoami) }, { label: 'health', summary: summarise(runs.health) });
}
