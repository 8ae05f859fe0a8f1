import { buildOpenApiDocument } from '../shared/http/openapi';
import { json } from '../shared/http/responses';
import type { FunctionDefinition, HttpFunctionDefinition } from './definitions';

let document: unknown;

/** `GET /v1/openapi.json` (anonymous): the API description, generated from the handlers' own schemas. */
export function openApiFunction(all: () => readonly FunctionDefinition[]): HttpFunctionDefinition {
  return {
    kind: 'http',
    name: 'openapi',
    route: 'v1/openapi.json',
    methods: ['GET'],
    auth: 'anonymous',
    summary: 'This API, described in OpenAPI 3.1.',
    handler: async () => {
      document ??= buildOpenApiDocument(all(), (require('../../package.json') as { version: string }).version);
      return json(200, document, { 'cache-control': 'public, max-age=300' });
    },
  };
}
