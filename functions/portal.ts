import { existsSync, readdirSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { PAGE_SECURITY_HEADERS, servableFile, staticSite } from '../shared/http/static-files';
import { json } from '../shared/http/responses';
import { z } from 'zod';
import type { HttpFunctionDefinition, RouteInputSchemas, RouteDocs } from '../app/function-contract';

/**
 * `GET /portal/{*asset}` (anonymous): the Customer Keys panel, a static page that talks only to
 * the public portal API with the signed-in user's token. The page itself holds nothing secret,
 * so serving it needs no sign-in; every call it makes does.
 */

/** The project root, whether this runs from `functions/` (tests) or `dist/functions/` (built). */
export const PROJECT_ROOT = resolve(__dirname, __dirname.endsWith(join('dist', 'functions')) ? '../..' : '..');

/** The HTML, CSS and icon under portal/public and the scripts tsc compiles into dist/portal. */
function portalFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const publicDir = join(PROJECT_ROOT, 'portal', 'public');
  for (const file of readdirSync(publicDir)) if (servableFile(file)) files.set(file, join(publicDir, file));
  const scripts = join(PROJECT_ROOT, 'dist', 'portal');
  if (existsSync(scripts)) {
    for (const file of readdirSync(scripts)) if (extname(file) === '.js') files.set(`app/${file}`, join(scripts, file));
  }
  files.set('', join(publicDir, 'index.html'));
  return files;
}

const files = staticSite(portalFiles, 'No such portal file.');

/** The input of a static site's routes (`{prefix}/{*asset}`): a file name, or nothing for the page. */
export const STATIC_SITE_INPUT: RouteInputSchemas<{ asset?: string }, never, never> = {
  params: z.object({
    asset: z
      .string()
      .optional()
      .meta({ description: 'A file of the page; empty for the page itself', examples: ['', 'favicon.svg'] }),
  }),
};

/** How a static site's routes answer: a file, unchanged since its ETag, or no such file. */
export const STATIC_SITE_DOCS: RouteDocs = {
  responses: { 200: { description: 'The file' }, 304: { description: 'Not modified since the ETag sent in If-None-Match' } },
  errors: ['not_found'],
  tags: ['Pages'],
};

export const portalPage: HttpFunctionDefinition = {
  kind: 'http',
  name: 'portal',
  route: 'portal/{*asset}',
  methods: ['GET', 'HEAD'],
  auth: 'anonymous',
  summary: 'The Customer Keys panel (a static page using the portal API).',
  input: STATIC_SITE_INPUT,
  docs: STATIC_SITE_DOCS,
  handler: async (request, { services }) => {
    // How the page signs users in here: the portal back end's address (production), or the
    // local sign-in route (local mode). Nothing secret.
    if (request.params.asset === 'config.json') {
      const { portal } = services.config;
      return json(
        200,
        { signInUrl: portal.signInUrl ?? null, localSignIn: Boolean(portal.sharedSecret) && services.config.runtime === 'local' },
        {
          ...PAGE_SECURITY_HEADERS,
          'cache-control': 'no-cache',
        },
      );
    }
    return files(request);
  },
};
