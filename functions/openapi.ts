import { buildOpenApiDocument } from './openapi-document';
import { json } from '../shared/http/responses';
import type { FunctionDefinition, HttpFunctionDefinition } from '../app/function-contract';

/** Version of the API contract (not of the package): bump it when the contract changes. */
export const API_VERSION = '1.0.0';

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
      document ??= buildOpenApiDocument(all(), API_VERSION);
      return json(200, document, { 'cache-control': 'public, max-age=300' });
    },
  };
}
