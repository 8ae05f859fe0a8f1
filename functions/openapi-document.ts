import { z, type ZodType } from 'zod';
import { ERROR_CATALOGUE, type ErrorCode } from '../shared/errors';
import { problemView } from '../shared/schemas/views';
import type { FunctionDefinition, HttpFunctionDefinition } from './definitions';
import { DOORS } from './doors';

/**
 * The OpenAPI 3.1 document of the API, generated from the function list and the very zod
 * schemas the handlers parse with, so the description cannot drift from the code.
 */

type JsonSchema = Record<string, unknown>;
const COMPONENTS = '#/components/schemas/';
const PROBLEM_REF = `${COMPONENTS}${String(problemView.meta()?.id)}`;

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), with shared parts as component refs. */
function jsonSchema(schema: ZodType, io: 'input' | 'output'): JsonSchema {
  const converted = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
    metadata: z.globalRegistry,
  }) as JsonSchema;
  const { $schema: _s, $defs: _d, ...rest } = converted;
  return JSON.parse(JSON.stringify(rest).replaceAll('"#/$defs/', `"${COMPONENTS}`)) as JsonSchema;
}

/** Named schemas (`.meta({ id })`) become components, referenced wherever they are used. */
function components(): Record<string, JsonSchema> {
  const all = z.toJSONSchema(z.globalRegistry, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any', uri: (id) => `${COMPONENTS}${id}` }) as {
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
 * Every code a route can answer with: its door's, its input's (a path naming nothing, a bad
 * query, a body that is not JSON, too large, of another type, or invalid), its handler's, and
 * what any route may answer (the error boundary's 500).
 */
export function routeCodes(definition: HttpFunctionDefinition): ErrorCode[] {
  const input = definition.input ?? {};
  const codes: ErrorCode[] = [...DOORS[definition.auth].codes];
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

function requestBody(body: NonNullable<NonNullable<HttpFunctionDefinition['input']>['body']>): JsonSchema {
  const schema =
    'by' in body
      ? { oneOf: Object.entries(body.schemas).map(([value, variant]) => ({ title: `${body.by}: ${value}`, ...jsonSchema(variant, 'input') })) }
      : jsonSchema(body, 'input');
  return { required: true, content: { 'application/json': { schema } } };
}

function operation(definition: HttpFunctionDefinition): JsonSchema {
  const docs = definition.docs;
  const input = definition.input ?? {};
  const responses: Record<string, JsonSchema> = {};
  for (const [status, response] of Object.entries(docs?.responses ?? { 200: { description: 'OK' } })) {
    responses[status] = {
      description: response.description,
      ...(response.schema ? { content: { [response.contentType ?? 'application/json']: { schema: jsonSchema(response.schema, 'output') } } } : {}),
    };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of routeCodes(definition)) byStatus.set(ERROR_CATALOGUE[code].status, [...(byStatus.get(ERROR_CATALOGUE[code].status) ?? []), code]);
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] ??= {
      description: `Problem: ${list.join(', ')}`,
      content: { 'application/problem+json': { schema: { $ref: PROBLEM_REF } } },
    };
  }
  return {
    operationId: definition.name,
    summary: definition.summary,
    ...(docs?.tags ? { tags: docs.tags } : {}),
    security: DOORS[definition.auth].security,
    parameters: [...parameters(input.params, 'path'), ...parameters(input.query, 'query')],
    ...(input.body ? { requestBody: requestBody(input.body) } : {}),
    responses,
  };
}

export function buildOpenApiDocument(definitions: readonly FunctionDefinition[], version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const definition of definitions) {
    if (definition.kind !== 'http') continue;
    const path = `/${definition.route.replace(/\{(\w+)(:[a-z]+)?\??\}/g, '{$1}')}`;
    for (const method of definition.methods) (paths[path] ??= {})[method.toLowerCase()] = operation(definition);
  }
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
