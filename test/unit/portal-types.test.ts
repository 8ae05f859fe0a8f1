import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { z } from 'zod';
import { buildOpenApiDocument } from '../../functions/openapi-document';
import { functionDefinitions } from '../../functions/registry';
import * as views from '../../shared/schemas/views';

/**
 * The portal's API types are generated from the OpenAPI document (portal/generate-types.mjs,
 * run by `npm run build`). Checked here: every component becomes a type of its name, each type
 * is the very type zod infers for the schema it comes from, a change to a schema changes the
 * output, the same document gives the same bytes, and each JSON Schema construct converts as
 * TypeScript reads it.
 */

const root = join(__dirname, '..', '..');

type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; required?: string[]; enum?: unknown[] };
interface Document {
  components: { schemas: Record<string, Schema> };
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, { content?: Record<string, unknown> }> }>>;
}

let toTypeScript: (document: object) => string;

beforeAll(async () => {
  // A specifier TypeScript leaves alone: the generator is plain JavaScript, loaded as the build runs it.
  const generator = pathToFileURL(join(root, 'portal', 'generate-types.mjs')).href;
  ({ toTypeScript } = (await import(generator)) as { toTypeScript: typeof toTypeScript });
});

const apiDocument = () => buildOpenApiDocument(functionDefinitions, 'test') as unknown as Document;

/** The names the generated module exports as types, and the keys of its OperationResponses. */
function declared(source: string): { types: string[]; operations: string[] } {
  const file = ts.createSourceFile('api-types.ts', source, ts.ScriptTarget.Latest);
  const types: string[] = [];
  const operations: string[] = [];
  for (const statement of file.statements) {
    if (ts.isTypeAliasDeclaration(statement)) types.push(statement.name.text);
    if (ts.isInterfaceDeclaration(statement) && statement.name.text === 'OperationResponses') {
      for (const member of statement.members)
        if (member.name && (ts.isStringLiteral(member.name) || ts.isIdentifier(member.name))) operations.push(member.name.text);
    }
  }
  return { types, operations };
}

/** A diagnostic's file and the text of its line (the virtual files are written nowhere to look at). */
function where(diagnostic: ts.Diagnostic): string {
  const { file, start } = diagnostic;
  if (!file || start === undefined) return '(options)';
  const { line } = file.getLineAndCharacterOfPosition(start);
  const text = file.text.split('\n')[line] ?? '';
  return `${file.fileName}:${line + 1} ${text.slice(0, 160)}`;
}

/** The type-checker's complaints about some files that exist only here (beside the real ones), with the repository's options. */
function typeCheck(files: Record<string, string>): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  );
  const options = { ...config!.options, noEmit: true };
  const host = ts.createCompilerHost(options);
  const readSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name in files ? ts.createSourceFile(name, files[name]!, language) : readSourceFile(name, language, ...rest);
  host.fileExists = (name) => name in files || ts.sys.fileExists(name);
  host.readFile = (name) => files[name] ?? ts.sys.readFile(name);
  host.directoryExists = (name) => Object.keys(files).some((file) => dirname(file) === name) || ts.sys.directoryExists(name);
  const program = ts.createProgram(Object.keys(files), options, host);
  return Object.keys(files)
    .flatMap((name) => ts.getPreEmitDiagnostics(program, program.getSourceFile(name)))
    .map((d) => `${where(d)}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

/** Which export of shared/schemas/views.ts each component comes from (its `.meta({ id })`). */
function viewsByComponent(): Map<string, string> {
  return new Map(
    Object.entries(views).flatMap(([name, value]) => {
      const id = value instanceof z.ZodType ? value.meta()?.id : undefined;
      return typeof id === 'string' ? [[id, name] as const] : [];
    }),
  );
}

const typeBlock = (source: string, name: string) => new RegExp(`^export type ${name} = [\\s\\S]*?^};$`, 'm').exec(source)?.[0];

describe('the portal types generated from the OpenAPI document', () => {
  it('declares one type per component, under its name, and the success body of every operation that answers JSON', () => {
    const document = apiDocument();
    const { types, operations } = declared(toTypeScript(document));
    expect(types).toEqual(Object.keys(document.components.schemas));
    const answeringJson = Object.values(document.paths)
      .flatMap((methods) => Object.values(methods))
      .filter((op) =>
        Object.entries(op.responses).some(([status, response]) => status.startsWith('2') && response.content?.['application/json']),
      )
      .map((op) => op.operationId);
    expect(operations).toEqual(answeringJson);
    expect(operations).toEqual(
      expect.arrayContaining(['customer-keys-request-list', 'staff-customers-list', 'local-sign-in-get', 'local-sign-in-post']),
    );
  });

  it('types each component exactly as zod infers the schema it comes from (and the check sees a drifted type)', () => {
    const document = apiDocument();
    const byComponent = viewsByComponent();
    expect([...byComponent.keys()].sort()).toEqual(Object.keys(document.components.schemas).sort());
    const drifted = structuredClone(document);
    delete drifted.components.schemas.Key!.properties!.revokedAt;
    drifted.components.schemas.TenantKey!.properties!.inGrace = { type: 'string' };
    const dir = join(root, 'test', 'unit', '__portal-types__');
    const check = [
      "import type { z } from 'zod';",
      "import type * as views from '../../../shared/schemas/views';",
      "import type * as api from './api-types';",
      "import type * as drifted from './drifted-types';",
      '/** Mutually assignable, and neither side `any`. */',
      'type Same<A, B> = 0 extends 1 & A ? false : 0 extends 1 & B ? false : [A] extends [B] ? ([B] extends [A] ? true : false) : false;',
      ...[...byComponent].map(([id, view]) => `export const same${id}: Same<api.${id}, z.output<typeof views.${view}>> = true;`),
      'export const keyDrifted: Same<drifted.Key, z.output<typeof views.keyView>> = false;',
      'export const tenantKeyDrifted: Same<drifted.TenantKey, z.output<typeof views.tenantKeyView>> = false;',
    ].join('\n');
    const problems = typeCheck({
      [join(dir, 'api-types.ts')]: toTypeScript(document),
      [join(dir, 'drifted-types.ts')]: toTypeScript(drifted),
      [join(dir, 'check.ts')]: check,
    });
    expect(problems).toEqual([]);
  }, 60_000);

  it('changes with a schema: a new property, a dropped enum value, a property no longer required', () => {
    const document = apiDocument();
    const before = toTypeScript(document);
    const changed = structuredClone(document);
    const key = changed.components.schemas.Key!;
    key.properties!.expiresAt = { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }] };
    key.required!.push('expiresAt');
    key.properties!.type!.enum = ['primary', 'secondary'];
    key.required = key.required!.filter((name) => name !== 'label');
    const after = toTypeScript(changed);
    expect(after).not.toBe(before);
    const block = typeBlock(after, 'Key');
    expect(block).toContain('\n  expiresAt: string | null;\n');
    expect(block).toContain('\n  type: "primary" | "secondary";\n');
    expect(block).toContain('\n  label?: string;\n');
    expect(typeBlock(before, 'Key')).toContain('\n  type: "primary" | "secondary" | "management";\n');
  });

  it('gives the same bytes for the same document, under a header saying it is generated, from what and how', () => {
    const document = apiDocument();
    const source = toTypeScript(document);
    expect(toTypeScript(apiDocument())).toBe(source);
    expect(toTypeScript(structuredClone(document))).toBe(source);
    expect(source.split('\n').slice(0, 3).join('\n')).toMatch(
      /^\/\/ Generated: do not edit\. .*`node portal\/generate-types\.mjs`.*npm run build[\s\S]*OpenAPI document[\s\S]*buildOpenApiDocument/,
    );
  });

  it('converts each JSON Schema construct as TypeScript reads it', () => {
    const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
    const json = (schema: object) => ({ content: { 'application/json': { schema } } });
    const source = toTypeScript({
      info: { version: 'sample' },
      components: {
        schemas: {
          Ref: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'], additionalProperties: false },
          Sample: {
            description: 'A sample: every construct.',
            type: 'object',
            properties: {
              kind: { type: 'string', const: 'sample' },
              level: { type: 'string', enum: ['low', 'high'], default: 'low' },
              count: { type: 'integer', minimum: 0 },
              ratio: { type: ['number', 'null'] },
              at: { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }], description: 'When */ it was' },
              either: { oneOf: [ref('Ref'), { type: 'boolean' }] },
              both: { allOf: [ref('Ref'), { type: 'object', properties: { extra: { type: 'boolean' } }, required: ['extra'] }] },
              tags: { type: 'array', items: { type: 'string' } },
              mixed: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'number' }] } },
              counts: { type: 'object', propertyNames: { type: 'string' }, additionalProperties: { type: 'integer' } },
              anything: {},
              'content-type': { type: 'string' },
            },
            required: ['kind', 'level', 'count', 'ratio', 'at', 'either', 'both', 'tags', 'mixed', 'counts', 'anything'],
            additionalProperties: false,
          },
          Open: { type: 'object', properties: { code: { type: 'string' } }, required: ['code'], additionalProperties: {} },
          Empty: { type: 'object', additionalProperties: false },
        },
      },
      paths: {
        '/samples': {
          get: {
            operationId: 'samples-list',
            responses: { '200': json({ type: 'array', items: ref('Sample') }), '404': json(ref('Open')) },
          },
          post: { operationId: 'samples-create', responses: { '201': json(ref('Sample')), '202': json(ref('Ref')) } },
          delete: { operationId: 'samples-delete', responses: { '204': { description: 'Gone' } } },
        },
      },
    });
    expect(source.slice(source.indexOf('export type'))).toBe(
      [
        'export type Ref = {',
        '  id: string;',
        '};',
        '',
        '/** A sample: every construct. */',
        'export type Sample = {',
        '  kind: "sample";',
        '  level: "low" | "high";',
        '  count: number;',
        '  ratio: number | null;',
        '  /** When *\\/ it was */',
        '  at: string | null;',
        '  either: Ref | boolean;',
        '  both: (Ref) & ({',
        '    extra: boolean;',
        '  });',
        '  tags: string[];',
        '  mixed: Array<string | number>;',
        '  counts: Record<string, number>;',
        '  anything: unknown;',
        '  "content-type"?: string;',
        '};',
        '',
        'export type Open = {',
        '  code: string;',
        '  [key: string]: unknown;',
        '};',
        '',
        'export type Empty = Record<string, never>;',
        '',
        '/** What each operation answers with on success (its 2xx JSON body), by operationId. */',
        'export interface OperationResponses {',
        '  /** GET /samples */',
        '  "samples-list": Sample[];',
        '  /** POST /samples */',
        '  "samples-create": Sample | Ref;',
        '}',
        '',
      ].join('\n'),
    );
    expect(typeCheck({ [join(root, 'test', 'unit', '__portal-types__', 'sample.ts')]: source })).toEqual([]);
  }, 60_000);

  it('refuses what it cannot type faithfully rather than guess', () => {
    const convert = (schema: object) => () => toTypeScript({ info: { version: 'x' }, components: { schemas: { Bad: schema } }, paths: {} });
    expect(convert({ not: { type: 'string' } })).toThrow(/unsupported JSON Schema keywords \(not\)/);
    expect(convert({ type: 'array', prefixItems: [{ type: 'string' }] })).toThrow(/unsupported JSON Schema keywords \(prefixItems\)/);
    expect(convert({ $ref: '#/components/schemas/Missing' })).toThrow(/\$ref to no component/);
    expect(convert({ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'number' } })).toThrow(
      /typed additionalProperties/,
    );
    expect(convert({ type: 'date' })).toThrow(/unknown JSON Schema type/);
    expect(convert({ const: { a: 1 } })).toThrow(/not a scalar/);
  });
});
