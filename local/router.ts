import type { HttpFunctionDefinition } from '../app/function-contract';

/**
 * Route matching as the Functions host does it, for the templates this app uses:
 * literal segments (case-insensitive), `{name}`, `{name:constraint}` (int, alpha, guid),
 * `{name?}` in last place and `{*rest}`. When several templates match, the more specific
 * wins: a literal beats a parameter, segment by segment from the left.
 */

type Segment =
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string; constraint: string | undefined; optional: boolean }
  | { kind: 'catchAll'; name: string };

export interface CompiledRoute {
  definition: HttpFunctionDefinition;
  segments: Segment[];
}

export type RouteMatch =
  | { kind: 'found'; definition: HttpFunctionDefinition; params: Record<string, string> }
  | { kind: 'methodNotAllowed'; allow: string[] }
  | { kind: 'notFound' };

const CONSTRAINTS: Record<string, RegExp> = {
  int: /^-?\d+$/,
  alpha: /^[A-Za-z]+$/,
  guid: /^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$/,
};

function compile(template: string): Segment[] {
  return template
    .split('/')
    .filter((s) => s !== '')
    .map((raw): Segment => {
      const param = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}$/.exec(raw);
      if (!param) return { kind: 'literal', text: raw.toLowerCase() };
      if (param[1]) return { kind: 'catchAll', name: param[2]! };
      return { kind: 'param', name: param[2]!, constraint: param[3], optional: Boolean(param[4]) };
    });
}

const rank = (segment: Segment | undefined): number => {
  if (!segment) return 0;
  if (segment.kind === 'literal') return 4;
  if (segment.kind === 'param') return segment.optional ? 1 : segment.constraint ? 3 : 2;
  return 0;
};

/** Orders routes most specific first. */
function compareSpecificity(a: CompiledRoute, b: CompiledRoute): number {
  const length = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < length; i++) {
    const diff = rank(b.segments[i]) - rank(a.segments[i]);
    if (diff !== 0) return diff;
  }
  return 0;
}

function matchSegments(segments: Segment[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const part = parts[i];
    if (segment.kind === 'catchAll') {
      params[segment.name] = parts.slice(i).join('/');
      return params;
    }
    if (part === undefined) {
      if (segment.kind === 'param' && segment.optional && i === segments.length - 1) return params;
      return undefined;
    }
    if (segment.kind === 'literal') {
      if (part.toLowerCase() !== segment.text) return undefined;
      continue;
    }
    const value = safeDecode(part);
    if (value === undefined) return undefined;
    if (segment.constraint && CONSTRAINTS[segment.constraint] && !CONSTRAINTS[segment.constraint]!.test(value)) {
      return undefined;
    }
    params[segment.name] = value;
  }
  return parts.length === segments.length ? params : undefined;
}

function safeDecode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

export class Router {
  private readonly routes: CompiledRoute[];

  constructor(definitions: readonly HttpFunctionDefinition[]) {
    this.routes = definitions.map((definition) => ({ definition, segments: compile(definition.route) })).sort(compareSpecificity);
  }

  match(method: string, pathname: string): RouteMatch {
    const parts = pathname.split('/').filter((p) => p !== '');
    const allow = new Set<string>();
    let namesNothing: RouteMatch | undefined;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      // A template can match a path whose parameters name nothing (`DELETE /v1/customer-keys/{keyId}`
      // for `/v1/customer-keys/issue`): such a match counts only when no other template serves the
      // path. Then its binding answers 404 after its door; otherwise the path's real methods make
      // the answer a 405 whose `Allow` lists exactly them.
      const names = !route.definition.input?.params || route.definition.input.params.safeParse(params).success;
      if (route.definition.methods.includes(method.toUpperCase() as never)) {
        if (names) return { kind: 'found', definition: route.definition, params };
        namesNothing ??= { kind: 'found', definition: route.definition, params };
      } else if (names) {
        route.definition.methods.forEach((m) => allow.add(m));
      }
    }
    if (allow.size > 0) return { kind: 'methodNotAllowed', allow: [...allow] };
    return namesNothing ?? { kind: 'notFound' };
  }
}
