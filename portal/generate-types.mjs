#!/usr/bin/env node
/**
 * Writes portal/src/api-types.d.ts: a TypeScript type for each schema of the API's OpenAPI
 * document, and the success body of each operation. The document is built from dist/, so from
 * the very zod schemas the handlers answer with; the portal's types.ts aliases these types, and
 * a change to the API that the page does not follow fails the portal's build, not the page.
 *
 * `npm run build` runs it between the API's tsc (which it reads) and the portal's (which reads
 * what it writes). `toTypeScript` is the whole conversion, exported for
 * test/unit/portal-types.test.ts.
 */
import { realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const COMPONENTS = '#/components/schemas/';
const OPERATIONS = 'OperationResponses';

/**
 * Keywords that would change the type but have no rule here. They are refused, so that a schema
 * starting to use one fails the build instead of getting a wrong type.
 */
const UNSUPPORTED = ['not', 'if', 'prefixItems', 'patternProperties', 'dependentSchemas', '$dynamicRef'];

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

const indent = (depth) => '  '.repeat(depth);

function key(name) {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

/** A description as a doc comment on its own line (so editors show it on hover), or nothing. */
function docComment(schema, depth) {
  if (typeof schema?.description !== 'string') return '';
  const text = schema.description.replace(/\s*\n\s*/g, ' ').replaceAll('*/', '*\\/');
  return `${indent(depth)}/** ${text} */\n`;
}

function literal(value) {
  if (value !== null && typeof value === 'object') throw new Error(`a const or enum value that is not a scalar: ${JSON.stringify(value)}`);
  return JSON.stringify(value);
}

/** Members in their first order, each once; `unknown` absorbs the rest. */
function union(members) {
  const distinct = [...new Set(members)];
  return distinct.includes('unknown') ? 'unknown' : distinct.join(' | ');
}

/** `T[]` reads best, but binds tighter than `|` and `&`: anything but a plain name goes in `Array<…>`. */
function arrayOf(type) {
  return IDENTIFIER.test(type) ? `${type}[]` : `Array<${type}>`;
}

function reference(ref, names) {
  const name = ref.startsWith(COMPONENTS) ? ref.slice(COMPONENTS.length) : undefined;
  if (name === undefined || !names.has(name)) throw new Error(`a $ref to no component of the document: ${ref}`);
  return name;
}

function objectType(schema, at) {
  const required = new Set(schema.required ?? []);
  const properties = Object.entries(schema.properties ?? {});
  const extra = schema.additionalProperties;
  // Absent additionalProperties allows more properties as well; `false` allows none.
  const rest = extra === undefined ? 'unknown' : extra === false ? undefined : typeOf(extra, at);
  if (properties.length === 0) return `Record<string, ${rest ?? 'never'}>`;
  // A typed index signature would have to cover every property's type: nothing needs one yet.
  if (rest !== undefined && rest !== 'unknown')
    throw new Error(`an object with both properties and typed additionalProperties: ${JSON.stringify(schema)}`);
  const inner = { ...at, depth: at.depth + 1 };
  const lines = properties.map(
    ([name, property]) =>
      `${docComment(property, inner.depth)}${indent(inner.depth)}${key(name)}${required.has(name) ? '' : '?'}: ${typeOf(property, inner)};\n`,
  );
  // TypeScript object types are open already; only a declared rest of properties is spelled out.
  if (extra !== undefined && extra !== false) lines.push(`${indent(inner.depth)}[key: string]: unknown;\n`);
  return `{\n${lines.join('')}${indent(at.depth)}}`;
}

function typeOfType(type, schema, at) {
  switch (type) {
    case 'string':
      return 'string'; // formats (date-time, uuid, …) are strings on the wire
    case 'integer':
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
      return arrayOf(schema.items === undefined ? 'unknown' : typeOf(schema.items, at));
    case 'object':
      return objectType(schema, at);
    default:
      throw new Error(`an unknown JSON Schema type: ${JSON.stringify(type)}`);
  }
}

/**
 * The TypeScript type of a JSON Schema (2020-12, OpenAPI 3.1's dialect) as the document uses it.
 * Annotations (description aside), formats, bounds, patterns and defaults do not change the type.
 * `at` carries the component names ($ref targets) and the indentation depth.
 */
function typeOf(schema, at) {
  if (schema === true) return 'unknown';
  if (schema === false) return 'never';
  const unsupported = UNSUPPORTED.filter((keyword) => keyword in schema);
  if (unsupported.length > 0) throw new Error(`unsupported JSON Schema keywords (${unsupported.join(', ')}): ${JSON.stringify(schema)}`);
  if ('$ref' in schema) return reference(schema.$ref, at.names);
  if ('const' in schema) return literal(schema.const);
  if (Array.isArray(schema.enum)) return union(schema.enum.map(literal));
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return union(alternatives.map((s) => typeOf(s, at)));
  if (schema.allOf) return schema.allOf.map((s) => `(${typeOf(s, at)})`).join(' & ');
  if (Array.isArray(schema.type)) return union(schema.type.map((type) => typeOfType(type, schema, at)));
  if (schema.type !== undefined) return typeOfType(schema.type, schema, at);
  return 'unknown'; // no constraint on the kind of value
}

/** The JSON bodies of an operation's 2xx answers, or undefined when it answers none. */
function successBody(operation, at) {
  const bodies = Object.entries(operation.responses ?? {})
    .filter(([status]) => status.startsWith('2'))
    .map(([, response]) => response.content?.['application/json']?.schema)
    .filter((schema) => schema !== undefined);
  return bodies.length === 0 ? undefined : union(bodies.map((schema) => typeOf(schema, at)));
}

function componentTypes(schemas, names) {
  return Object.entries(schemas).map(([name, schema]) => {
    if (!IDENTIFIER.test(name) || name === OPERATIONS) throw new Error(`a component name that cannot be a type name here: ${name}`);
    return `${docComment(schema, 0)}export type ${name} = ${typeOf(schema, { names, depth: 0 })};\n`;
  });
}

function operationResponses(paths, names) {
  const entries = [];
  for (const [path, methods] of Object.entries(paths ?? {})) {
    for (const [method, operation] of Object.entries(methods)) {
      const body = successBody(operation, { names, depth: 1 });
      if (body === undefined) continue;
      entries.push(`  /** ${method.toUpperCase()} ${path} */\n  ${key(operation.operationId)}: ${body};\n`);
    }
  }
  return `/** What each operation answers with on success (its 2xx JSON body), by operationId. */\nexport interface ${OPERATIONS} {\n${entries.join('')}}\n`;
}

/** The source of api-types.d.ts for an OpenAPI 3.1 document: the same document gives the same bytes. */
export function toTypeScript(document) {
  const schemas = document.components?.schemas ?? {};
  const names = new Set(Object.keys(schemas));
  const header = [
    '// Generated: do not edit. Written by `node portal/generate-types.mjs` (run by `npm run build`)',
    `// from the OpenAPI document of the API (version ${document.info?.version}) that dist/functions builds`,
    '// (buildOpenApiDocument in functions/openapi-document.ts): change the zod schemas and build again.',
    '',
  ].join('\n');
  return [header, ...componentTypes(schemas, names), operationResponses(document.paths, names)].join('\n');
}

/** The document the API serves, from the compiled functions (`tsc -p tsconfig.json` first). */
function builtDocument(root) {
  const require = createRequire(import.meta.url);
  const { buildOpenApiDocument } = require(join(root, 'dist', 'functions', 'openapi-document.js'));
  const { functionDefinitions } = require(join(root, 'dist', 'functions', 'registry.js'));
  const { API_VERSION } = require(join(root, 'dist', 'functions', 'openapi.js'));
  return buildOpenApiDocument(functionDefinitions, API_VERSION);
}

// Run as a script (not imported by the test). The real path: Node resolves symlinks for the module, not in argv.
const self = fileURLToPath(import.meta.url);
if (process.argv[1] && realpathSync(process.argv[1]) === self) {
  const portal = dirname(self);
  writeFileSync(join(portal, 'src', 'api-types.d.ts'), toTypeScript(builtDocument(join(portal, '..'))));
}
