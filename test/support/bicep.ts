import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * A small reader for the subset of Bicep our templates use: parameters, outputs, modules and
 * object literals. It lets the tests check infra/ against the code without the Bicep CLI
 * (a native binary this machine cannot download). It understands strings with `${...}`
 * interpolation and comments, so braces inside them never confuse block matching.
 */

export interface BicepParam {
  type: string;
  hasDefault: boolean;
}

export interface BicepModule {
  symbol: string;
  /** Absolute path of the module file. */
  file: string;
  /** Names passed in its `params: { ... }` block. */
  params: string[];
}

export interface BicepEntry {
  key: string;
  /** The value's source text on the key's line (an object value shows as `{`). */
  value: string;
}

export interface BicepFile {
  file: string;
  text: string;
  params: Map<string, BicepParam>;
  outputs: Set<string>;
  modules: BicepModule[];
}

/** Marks, for each character, whether it is code (not in a string or comment) and its brace depth. */
function scan(text: string): { code: boolean[]; depth: number[] } {
  const code = new Array<boolean>(text.length).fill(false);
  const depth = new Array<number>(text.length).fill(0);
  // Stack of contexts: 'code' or 'string'; an interpolation pushes 'code' on top of 'string'.
  const stack: Array<'code' | 'string'> = ['code'];
  let level = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const top = stack[stack.length - 1];
    depth[i] = level;
    if (top === 'string') {
      if (ch === '\\') {
        i++;
      } else if (ch === "'") {
        stack.pop();
      } else if (ch === '$' && text[i + 1] === '{') {
        stack.push('code');
        i++;
      }
      continue;
    }
    if (ch === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 1;
      continue;
    }
    if (ch === "'") {
      stack.push('string');
      continue;
    }
    if (ch === '}' && stack.length > 1) {
      // The end of an interpolation: back into its string.
      stack.pop();
      continue;
    }
    code[i] = true;
    if (ch === '{') level++;
    if (ch === '}') level--;
    depth[i] = level;
  }
  if (stack.length !== 1 || level !== 0) throw new Error('unbalanced braces or an unterminated string');
  return { code, depth };
}

/** The text between the first code `{` at or after `from` and its matching `}`. */
export function blockAt(text: string, from: number): string {
  const { code, depth } = scan(text);
  let open = from;
  while (open < text.length && !(code[open] && text[open] === '{')) open++;
  if (open >= text.length) throw new Error(`no block after offset ${from}`);
  const inner = depth[open]!;
  for (let i = open + 1; i < text.length; i++) {
    if (code[i] && text[i] === '}' && depth[i] === inner - 1) return text.slice(open + 1, i);
  }
  throw new Error(`block at ${open} is not closed`);
}

/** The `key: value` entries at the top level of an object body. */
export function entries(body: string): BicepEntry[] {
  const { code, depth } = scan(body);
  const found: BicepEntry[] = [];
  let offset = 0;
  for (const line of body.split('\n')) {
    const first = line.search(/\S/);
    if (first >= 0 && code[offset + first] && depth[offset + first] === 0) {
      const match = /^\s*([A-Za-z_][\w]*|'[^']*')\s*:\s*(.*?)\s*$/.exec(line);
      if (match) found.push({ key: match[1]!.replace(/^'|'$/g, ''), value: match[2]! });
    }
    offset += line.length + 1;
  }
  return found;
}

/** The body of the value of `key` (an object) at the top level of `body`. */
export function objectEntry(body: string, key: string): string {
  const at = new RegExp(`^\\s*${key}\\s*:\\s*\\{`, 'm').exec(body);
  if (!at) throw new Error(`no object "${key}"`);
  return blockAt(body, at.index);
}

export function readBicep(file: string): BicepFile {
  const text = readFileSync(file, 'utf8');
  scan(text);
  const params = new Map<string, BicepParam>();
  for (const m of text.matchAll(/^param\s+(\w+)\s+(\w+)(\s*=.*)?$/gm)) {
    params.set(m[1]!, { type: m[2]!, hasDefault: Boolean(m[3]) });
  }
  const outputs = new Set([...text.matchAll(/^output\s+(\w+)\s/gm)].map((m) => m[1]!));
  const modules = [...text.matchAll(/^module\s+(\w+)\s+'([^']+)'\s*=\s*(?:\[\s*for\s[^:]+:\s*)?\{/gm)].map((m) => {
    const body = blockAt(text, m.index);
    return {
      symbol: m[1]!,
      file: resolve(dirname(file), m[2]!),
      params: /^\s*params\s*:/m.test(body) ? entries(objectEntry(body, 'params')).map((e) => e.key) : [],
    };
  });
  return { file, text, params, outputs, modules };
}

/** Problems in how a Bicep file calls its modules: files, parameter names, required parameters, outputs. */
export function moduleProblems(main: BicepFile): string[] {
  const problems: string[] = [];
  const bySymbol = new Map<string, BicepFile>();
  for (const mod of main.modules) {
    if (!existsSync(mod.file)) {
      problems.push(`module ${mod.symbol}: ${mod.file} does not exist`);
      continue;
    }
    const target = readBicep(mod.file);
    bySymbol.set(mod.symbol, target);
    for (const name of mod.params) {
      if (!target.params.has(name)) problems.push(`module ${mod.symbol}: passes "${name}", which it does not declare`);
    }
    for (const [name, param] of target.params) {
      if (!param.hasDefault && !mod.params.includes(name)) problems.push(`module ${mod.symbol}: required "${name}" is not passed`);
    }
  }
  for (const m of main.text.matchAll(/\b(\w+)(?:\[[^\]]+\])?\.outputs\.(\w+)/g)) {
    const target = bySymbol.get(m[1]!);
    if (!target) problems.push(`${m[0]}: no module "${m[1]}"`);
    else if (!target.outputs.has(m[2]!)) problems.push(`${m[0]}: the module has no output "${m[2]}"`);
  }
  return problems;
}
