import { z, type ZodType } from 'zod';
import { ERROR_CATALOGUE, type ErrorCode } from '../shared/errors';
import { problemExample } from '../shared/schemas/examples';
import { applyDocumentedAs, type JsonSchema } from '../shared/schemas/json-schema';
import { problemView } from '../shared/schemas/views';
import type { FunctionDefinition, HttpFunctionDefinition } from '../app/function-contract';
import { DOORS, HOST_CODES } from './doors';

/**
 * The OpenAPI 3.1 document of the API, generated from the function list and the very zod
 * schemas the handlers parse with, so the description cannot drift from the code.
 */

const COMPONENTS = '#/components/schemas/';
const PROBLEM_REF = `${COMPONENTS}${String(problemView.meta()?.id)}`;

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), with shared parts as component refs. */
function jsonSchema(schema: ZodType, io: 'input' | 'output'): JsonSchema {
  const converted = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
    metadata: z.globalRegistry,
    override: (ctx) => applyDocumentedAs(ctx.zodSchema, ctx.jsonSchema as JsonSchema),
  }) as JsonSchema;
  const { $schema: _s, $defs: _d, ...rest } = converted;
  return JSON.parse(JSON.stringify(rest).replaceAll('"#/$defs/', `"${COMPONENTS}`)) as JsonSchema;
}

/** Named schemas (`.meta({ id })`) become components, referenced wherever they are used. */
function components(): Record<string, JsonSchema> {
  const all = z.toJSONSchema(z.globalRegistry, {
    target: 'draft-2020-12',
    io: 'output',
    unrepresentable: 'any',
    uri: (id) => `${COMPONENTS}${id}`,
    override: (ctx) => applyDocumentedAs(ctx.zodSchema, ctx.jsonSchema as JsonSchema),
  }) as {
    schemas: Record<string, JsonSchema>;
  };
  return Object.fromEntries(
    Object.entries(all.schemas).map(([id, schema]) => {
      const { $schema: _s, $id: _i, ...rest } = schema;
      return [id, rest];
    }),
  );
}

/**
 * Every code a route can answer with: the host's, its door's, its input's (a path naming
 * nothing, a bad query, a body that is not JSON, too large, of another type, or invalid), its
 * handler's, and what any route may answer (the error boundary's 500).
 */
export function routeCodes(definition: HttpFunctionDefinition): ErrorCode[] {
  const input = definition.input ?? {};
  const codes: ErrorCode[] = [...HOST_CODES, ...DOORS[definition.auth].codes];
  if (input.params) codes.push('not_found');
  if (input.query) codes.push('validation_failed');
  if (input.body) codes.push('validation_failed', 'invalid_body', 'payload_too_large', 'unsupported_media_type');
  codes.push(...(definition.docs?.errors ?? []), 'internal_error');
  return [...new Set(codes)];
}

function parameters(schema: ZodType | undefined, location: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const object = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || (object.required ?? []).includes(name),
    schema: property,
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
  }));
}

/** Methods whose requests carry a body (the binding reads none for the others). */
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/** The JSON body; optional when the binding would accept its absence (read as `{}`). */
function requestBody(body: ZodType): JsonSchema {
  return { required: !body.safeParse({}).success, content: { 'application/json': { schema: jsonSchema(body, 'input') } } };
}

/**
 * A route whose body a path parameter chooses (`requests/{action}`) is documented as one path
 * per value, each with its own body: OpenAPI cannot tie a body's schema to a parameter's value.
 */
interface Variant {
  param: string;
  value: string;
  body: ZodType;
}

function operation(definition: HttpFunctionDefinition, method: string, variant?: Variant): JsonSchema {
  const docs = definition.docs;
  const input = definition.input ?? {};
  const body = variant?.body ?? (input.body && !('by' in input.body) ? input.body : undefined);
  const responses: Record<string, JsonSchema> = {};
  for (const [status, response] of Object.entries(docs?.responses ?? { 200: { description: 'OK' } })) {
    responses[status] = {
      description: response.description,
      ...(response.schema
        ? {
            content: {
              [response.contentType ?? 'application/json']: { schema: jsonSchema(response.schema, 'output') },
              ...response.alsoAs,
            },
          }
        : {}),
      ...(response.headers ? { headers: response.headers } : {}),
      ...(response.links
        ? {
            links: Object.fromEntries(
              Object.entries(response.links).map(([name, link]) => [
                name,
                {
                  operationId: link.operation,
                  parameters: link.parameters,
                  ...(link.description ? { description: link.description } : {}),
                },
              ]),
            ),
          }
        : {}),
    };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of routeCodes(definition))
    byStatus.set(ERROR_CATALOGUE[code].status, [...(byStatus.get(ERROR_CATALOGUE[code].status) ?? []), code]);
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] ??= {
      description: `Problem: ${list.join(', ')}`,
      // The example is this status's own first problem, not the component's (another status's).
      content: {
        'application/problem+json': {
          schema: { $ref: PROBLEM_REF },
          example: problemExample(list[0]!, status, ERROR_CATALOGUE[list[0]!].title),
        },
      },
    };
  }
  return {
    // One operation per method and variant: a route serving GET and HEAD documents two, named apart.
    operationId: [
      definition.name,
      ...(definition.methods.length > 1 ? [method.toLowerCase()] : []),
      ...(variant ? [variant.value] : []),
    ].join('-'),
    summary: definition.summary,
    ...(docs?.tags ? { tags: docs.tags } : {}),
    security: DOORS[definition.auth].security,
    parameters: [
      ...parameters(input.params, 'path').filter((p) => p.name !== variant?.param),
      ...parameters(input.query, 'query'),
      ...(DOORS[definition.auth].headers ?? []).map(({ name, description, example }) => ({
        name,
        in: 'header',
        required: true,
        description,
        schema: { type: 'string', minLength: 1, examples: [example] },
      })),
    ],
    ...(!WITH_BODY.has(method)
      ? {}
      : body
        ? { requestBody: requestBody(body) }
        : docs?.requestBody
          ? { requestBody: docs.requestBody }
          : {}),
    responses,
  };
}

export function buildOpenApiDocument(definitions: readonly FunctionDefinition[], version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const definition of definitions) {
    if (definition.kind !== 'http') continue;
    // Function route templates (`{name:int}`, `{name?}`, `{*rest}`) as OpenAPI path templates.
    const path = `/${definition.route.replace(/\{\*?(\w+)(:[a-z]+)?\??\}/g, '{$1}')}`;
    const body = definition.input?.body;
    const variants: Array<Variant | undefined> =
      body && 'by' in body ? Object.entries(body.schemas).map(([value, schema]) => ({ param: body.by, value, body: schema })) : [undefined];
    for (const variant of variants) {
      const at = variant ? path.replace(`{${variant.param}}`, variant.value) : path;
      for (const method of definition.methods) (paths[at] ??= {})[method.toLowerCase()] = operation(definition, method, variant);
    }
  }
  // A link must lead somewhere: its target is an operation of this document.
  const operations = new Set(Object.values(paths).flatMap((byMethod) => Object.values(byMethod).map((op) => op.operationId)));
  for (const byMethod of Object.values(paths))
    for (const op of Object.values(byMethod))
      for (const response of Object.values(op.responses as Record<string, { links?: Record<string, { operationId: string }> }>))
        for (const [name, link] of Object.entries(response.links ?? {}))
          if (!operations.has(link.operationId))
            throw new Error(`${String(op.operationId)}: link '${name}' leads to no operation (${link.operationId})`);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Veriproof keys API',
      version,
      description:
        'Compound API keys for the ingest platform: OTLP ingest with API keys, key management with portal tokens or management keys, and staff operations. Errors are application/problem+json with a stable code.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      schemas: components(),
      securitySchemes: {
        ApiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The compound key, or its secret segment' },
        ApiKeyBearer: { type: 'http', scheme: 'bearer', description: 'The compound key as a bearer token' },
        ManagementKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'A key of type management' },
        PortalToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A portal session token' },
      },
    },
  };
}
