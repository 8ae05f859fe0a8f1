import { z, type ZodType } from 'zod';
import type { FunctionDefinition, HttpFunctionDefinition } from '../../functions/definitions';
import { ERROR_CATALOGUE, type ErrorCode } from '../errors';
import { problemView } from '../schemas/views';

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

const DOOR_ERRORS: Record<HttpFunctionDefinition['auth'], ErrorCode[]> = {
  anonymous: [],
  apiKey: ['api_key_missing', 'api_key_malformed', 'api_key_invalid', 'forbidden', 'dependency_unavailable'],
  customer: ['unauthenticated', 'forbidden', 'api_key_invalid', 'dependency_unavailable'],
  staff: ['unauthenticated', 'forbidden', 'dependency_unavailable'],
};

const SECURITY: Record<HttpFunctionDefinition['auth'], Array<Record<string, string[]>>> = {
  anonymous: [],
  apiKey: [{ ApiKeyHeader: [] }, { ApiKeyBearer: [] }],
  customer: [{ PortalToken: [] }, { ManagementKeyHeader: [] }],
  staff: [{ PortalToken: [] }],
};

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

function operation(definition: HttpFunctionDefinition): JsonSchema {
  const docs = definition.docs;
  const responses: Record<string, JsonSchema> = {};
  for (const [status, response] of Object.entries(docs?.responses ?? { 200: { description: 'OK' } })) {
    responses[status] = {
      description: response.description,
      ...(response.schema ? { content: { [response.contentType ?? 'application/json']: { schema: jsonSchema(response.schema, 'output') } } } : {}),
    };
  }
  const codes = [...new Set([...DOOR_ERRORS[definition.auth], ...(docs?.errors ?? [])])];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_CATALOGUE[code].status, [...(byStatus.get(ERROR_CATALOGUE[code].status) ?? []), code]);
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
    security: SECURITY[definition.auth],
    parameters: [...parameters(docs?.params, 'path'), ...parameters(docs?.query, 'query')],
    ...(docs?.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(docs.body, 'input') } } } }
      : {}),
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
