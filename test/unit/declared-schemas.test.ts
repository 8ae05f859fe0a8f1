import fc from 'fast-check';
import { z } from 'zod';
import { buildOpenApiDocument } from '../../functions/openapi-document';
import { functionDefinitions } from '../../functions/registry';
import { text } from '../../shared/schemas/keys';
import { subjectSchema } from '../../shared/schemas/trust-policies';
import { invisibleCharacter, visibleTextPattern } from '../../shared/text/visible-text';

/**
 * What the OpenAPI document declares for a value is what the binding accepts: checked here for
 * the rules zod cannot convert by itself (stated with shared/schemas/json-schema.ts), and for the
 * whole document by schemathesis (test/integration/schemathesis.test.ts).
 */

/** A JSON Schema string rule, applied as a client would: code points, and the pattern with `u`. */
type StringRule = { maxLength?: number; minLength?: number; pattern?: string; not?: { pattern?: string } };

function documentedStringAccepts(schema: StringRule, value: string): boolean {
  const length = [...value].length;
  if (schema.maxLength !== undefined && length > schema.maxLength) return false;
  if (schema.minLength !== undefined && length < schema.minLength) return false;
  if (schema.not?.pattern !== undefined && new RegExp(schema.not.pattern, 'u').test(value)) return false;
  return schema.pattern === undefined || new RegExp(schema.pattern, 'u').test(value);
}

function documented(schema: z.ZodType): StringRule {
  const document = buildOpenApiDocument(
    [
      {
        kind: 'http',
        name: 'probe',
        route: 'probe',
        methods: ['POST'],
        auth: 'anonymous',
        summary: 'probe',
        input: { body: z.object({ value: schema }) },
        handler: async () => ({ status: 204 }),
      },
    ],
    'test',
  ) as {
    paths: Record<string, Record<string, { requestBody: { content: Record<string, { schema: { properties: Record<string, object> } }> } }>>;
  };
  return document.paths['/probe']!.post!.requestBody.content['application/json']!.schema.properties.value!;
}

/** Strings mixing the characters that matter: spaces, controls, invisibles, astral, ordinary. */
const hostileParts = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        ' ',
        '*',
        '\t',
        '\n',
        '\u0000',
        '\u00a0',
        '\u200b',
        '\u202e',
        '\ufeff',
        '\u2800',
        '\ud83d\ude00',
        '\u{10ffff}',
        'é',
        'a',
      ),
      fc.string({ unit: 'grapheme', maxLength: 3 }),
      fc.string({ unit: 'binary', maxLength: 3 }),
    ),
    { maxLength: 40, size: 'max' },
  )
  .map((parts) => parts.join(''));

/** Such strings, often near `max` characters, where counting code points or UTF-16 units differs. */
const hostileText = (max: number) =>
  fc
    .tuple(fc.integer({ min: 0, max }), fc.constantFrom('x', ' ', '*', '\ud83d\ude00'), hostileParts, fc.boolean())
    .map(([n, filler, parts, before]) => (before ? filler.repeat(n) + parts : parts + filler.repeat(n)));

describe('declared equals validated', () => {
  it('states the visible-text rule as a pattern that agrees with the check on every code point', () => {
    const pattern = new RegExp(visibleTextPattern(), 'u');
    const disagreements: string[] = [];
    for (let code = 0; code <= 0x10ffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue;
      const character = String.fromCodePoint(code);
      if (pattern.test(`a${character}`) !== (invisibleCharacter(character) === undefined)) disagreements.push(code.toString(16));
    }
    expect(disagreements).toEqual([]);
    expect([pattern.test(' '), pattern.test('   '), pattern.test(''), pattern.test(' a ')]).toEqual([false, false, false, true]);
  });

  it.each([
    ['text(64): a label', text(64, 'checkout-ci'), 64],
    ['text(500): a reason', text(500, 'Rotating after the March audit'), 500],
    // zod counts code points, as JSON Schema does (an emoji is one character, not two).
    ['a plain bounded string', z.string().max(64), 64],
    // Visible text that holds more than stars (a trust policy's subject).
    ['a subject pattern', subjectSchema, 512],
  ])('accepts exactly the strings its documented schema accepts: %s', (_name, schema, max) => {
    const declared = documented(schema);
    fc.assert(
      // Hostile text, and short runs of the characters trimming and the star rule turn on.
      fc.property(fc.oneof(hostileText(max), fc.string({ unit: fc.constantFrom(' ', '*', 'a', '\t'), maxLength: 6 })), (value) => {
        expect({ value, accepted: schema.safeParse(value).success }).toEqual({ value, accepted: documentedStringAccepts(declared, value) });
      }),
      { numRuns: 2000 },
    );
  });

  it('documents a page size as the whole number the query accepts', () => {
    const document = buildOpenApiDocument(functionDefinitions, 'test') as {
      paths: Record<string, Record<string, { parameters: Array<{ name: string; schema: object }> }>>;
    };
    const limit = document.paths['/v1/customer-keys/audit']!.get!.parameters.find((p) => p.name === 'limit');
    expect(limit?.schema).toEqual({ type: 'integer', minimum: 1, maximum: 200, default: 50, examples: [50] });
  });

  it('documents the audit feed: page size 1 to 1,000 (100), since an instant, the CloudEvents batch beside JSON, the cursor headers', () => {
    const document = buildOpenApiDocument(functionDefinitions, 'test') as {
      paths: Record<string, Record<string, { parameters: Array<{ name: string; schema: Record<string, unknown> }>; responses: any }>>;
    };
    const feed = document.paths['/v1/audit-events']!.get!;
    const parameter = (name: string) => feed.parameters.find((p) => p.name === name)?.schema;
    expect(parameter('limit')).toEqual({ type: 'integer', minimum: 1, maximum: 1000, default: 100, examples: [100] });
    expect(parameter('since')).toMatchObject({ type: 'string', format: 'date-time' });
    expect(parameter('after')).toMatchObject({ type: 'string', maxLength: 1024 });
    const ok = feed.responses['200'];
    expect(Object.keys(ok.content)).toEqual(['application/json', 'application/cloudevents-batch+json']);
    expect(ok.content['application/cloudevents-batch+json'].schema).toEqual({
      type: 'array',
      items: { $ref: '#/components/schemas/AuditCloudEvent' },
    });
    expect(Object.keys(ok.headers)).toEqual(['Link', 'X-Veriproof-Cursor', 'X-Veriproof-Has-More']);
  });

  it('documents a body whose schema a path parameter chooses as one path per value', () => {
    const document = buildOpenApiDocument(functionDefinitions, 'test') as {
      paths: Record<string, Record<string, { operationId: string; parameters: unknown[] }>>;
    };
    const paths = Object.keys(document.paths).filter(
      (path) => path.startsWith('/v1/customer-keys/requests/') && document.paths[path]!.post,
    );
    expect(paths.sort()).toEqual([
      '/v1/customer-keys/requests/issue-key',
      '/v1/customer-keys/requests/revoke-key',
      '/v1/customer-keys/requests/roll-key',
      '/v1/customer-keys/requests/rotate-tenant-key',
    ]);
    expect(document.paths['/v1/customer-keys/requests/issue-key']!.post!.operationId).toBe('customer-keys-request-submit-issue-key');
  });
});
