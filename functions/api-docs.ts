import { dirname, join } from 'node:path';
import { staticSite } from '../shared/http/static-files';
import type { HttpFunctionDefinition } from '../app/function-contract';
import { PROJECT_ROOT, STATIC_SITE_DOCS, STATIC_SITE_INPUT } from './portal';

/**
 * `GET /docs/{*asset}` (anonymous): an interactive reference of `/v1/openapi.json` where a
 * developer pastes a portal token or an API key and calls a route. Swagger UI's files come from
 * the `swagger-ui-dist` package installed with the app (never a CDN), under the same content
 * security policy as the portal.
 */
function referenceFiles(): Map<string, string> {
  const own = join(PROJECT_ROOT, 'api-reference');
  const swagger = dirname(require.resolve('swagger-ui-dist/package.json'));
  return new Map([
    ['', join(own, 'index.html')],
    ['index.html', join(own, 'index.html')],
    ['reference.js', join(own, 'reference.js')],
    ['reference.css', join(own, 'reference.css')],
    ['favicon.svg', join(PROJECT_ROOT, 'portal', 'public', 'favicon.svg')],
    ['swagger-ui-bundle.js', join(swagger, 'swagger-ui-bundle.js')],
    ['swagger-ui.css', join(swagger, 'swagger-ui.css')],
  ]);
}

export const apiDocs: HttpFunctionDefinition = {
  kind: 'http',
  name: 'api-docs',
  route: 'docs/{*asset}',
  methods: ['GET', 'HEAD'],
  auth: 'anonymous',
  summary: 'An interactive reference of this API (try any route with a token or key).',
  input: STATIC_SITE_INPUT,
  docs: STATIC_SITE_DOCS,
  handler: staticSite(referenceFiles, 'No such file of the API reference.'),
};
