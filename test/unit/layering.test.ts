import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * The import graph of the app's own code, read from the sources (type-only imports count: a reader
 * follows them too). Layers import downwards only; the door (`shared/auth/`) uses no service, the
 * services use no adapter (a port instead), and `shared/` has no import circle.
 */
const root = join(__dirname, '..', '..');
/**
 * The layers, bottom to top: each imports only those before it. `app/` builds `shared/` (compose.ts)
 * and states the shapes the layers above receive (context.ts, function-contract.ts).
 */
const layers = ['shared', 'app', 'middleware', 'functions', 'local', 'cli'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function resolveImport(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(from), specifier).replace(/\.js$/, '');
  return [`${base}.ts`, join(base, 'index.ts')].find((candidate) => existsSync(candidate));
}

/** file (relative to the root) -> the files it imports (relative to the root), for the files under `dirs` */
function importGraph(dirs: string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of dirs.flatMap((dir) => sourceFiles(join(root, dir)))) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles.map((imported) => resolveImport(file, imported.fileName)).filter((target) => target !== undefined);
    found.set(
      relative(root, file),
      [...new Set(targets)].map((target) => relative(root, target)),
    );
  }
  return found;
}

/** The app's own code. */
const graph = importGraph(layers);
/** What measures and checks it: the bench, the tests, and the fixtures both use. */
const harness = importGraph(['bench', 'fixtures', 'test']);

function arrows(fromPrefix: string, toPrefixes: string[], of: Map<string, string[]> = graph): string[] {
  return [...of]
    .filter(([file]) => file.startsWith(fromPrefix))
    .flatMap(([file, targets]) =>
      targets.filter((target) => toPrefixes.some((prefix) => target.startsWith(prefix))).map((target) => `${file} -> ${target}`),
    )
    .sort();
}

/** Each strongly connected set of files under `shared/` (Tarjan), as its sorted members. */
function sharedCycles(): string[][] {
  const nodes = [...graph.keys()].filter((file) => file.startsWith('shared/'));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const target of (graph.get(node) ?? []).filter((file) => file.startsWith('shared/'))) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const members: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        members.push(member);
      } while (member !== node);
      if (members.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(members.sort());
    }
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  return found.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

describe('the layering of the code', () => {
  it('reads a graph of the whole app (the check would pass vacuously on an empty one)', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('app/compose.ts')?.length).toBeGreaterThan(10);
  });

  it('has no arrow from shared/ back up to app/, functions/, middleware/, local/ or cli/', () => {
    expect(arrows('shared/', ['app/', 'functions/', 'middleware/', 'local/', 'cli/'])).toEqual([]);
  });

  it('has each layer importing only the layers below it (shared, app, middleware, functions, local, cli)', () => {
    const upward = layers.flatMap((layer) =>
      arrows(
        `${layer}/`,
        layers.slice(layers.indexOf(layer) + 1).map((above) => `${above}/`),
      ),
    );
    expect(upward).toEqual([]);
  });

  it('has services (and the secret-scanning feature) that use ports, never an adapter', () => {
    expect([...arrows('shared/services/', ['shared/adapters/']), ...arrows('shared/secret-scanning/', ['shared/adapters/'])]).toEqual([]);
  });

  it('has services returning domain values: no service builds a response body (shared/schemas/views.ts, view-mappers.ts)', () => {
    const wire = ['shared/schemas/views.ts', 'shared/schemas/view-mappers.ts'];
    expect([...arrows('shared/services/', wire), ...arrows('shared/secret-scanning/', wire)]).toEqual([]);
  });

  it('has ports and adapters using no service and no door', () => {
    expect([
      ...arrows('shared/ports/', ['shared/services/', 'shared/auth/']),
      ...arrows('shared/adapters/', ['shared/services/', 'shared/auth/']),
    ]).toEqual([]);
  });

  it('has the in-memory fakes standing alone: no import from the Table adapters', () => {
    expect(arrows('shared/adapters/memory/', ['shared/adapters/table/'])).toEqual([]);
  });

  it('has the trust rules (shared/trust/: policy matching, the subject token verifier) using ports, never an adapter, a service or the door', () => {
    expect(graph.has('shared/trust/oidc-verifier.ts')).toBe(true);
    expect(arrows('shared/trust/', ['shared/adapters/', 'shared/services/', 'shared/auth/'])).toEqual([]);
  });

  it('has the door (shared/auth/) using no service', () => {
    expect(arrows('shared/auth/', ['shared/services/'])).toEqual([]);
  });

  it('has the bench and the tests sharing what both use through fixtures/: the bench imports no test support, fixtures/ neither', () => {
    expect(harness.size).toBeGreaterThan(50);
    expect([...arrows('bench/', ['fixtures/'], harness), ...arrows('test/', ['fixtures/'], harness)]).not.toEqual([]);
    // Tests of the bench's own code (test/unit/partition-load.test.ts) import it; test support does not.
    expect([
      ...arrows('bench/', ['test/'], harness),
      ...arrows('test/support/', ['bench/'], harness),
      ...arrows('fixtures/', ['bench/', 'test/'], harness),
    ]).toEqual([]);
  });

  it('has no import circle among the files under shared/', () => {
    expect(sharedCycles()).toEqual([]);
  });
});
