import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import type { HttpResponseInit } from '@azure/functions';
import { ApiError } from '../shared/errors';
import type { HttpFunctionDefinition } from './definitions';

/**
 * `GET /portal/{*asset}` (anonymous): the Customer Keys panel, a static page that talks only to
 * the public portal API with the signed-in user's token. The page itself holds nothing secret,
 * so serving it needs no sign-in; every call it makes does.
 */

/** The project root, whether this runs from `functions/` (tests) or `dist/functions/` (built). */
const ROOT = resolve(__dirname, __dirname.endsWith(join('dist', 'functions')) ? '../..' : '..');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Only our own files: no inline script or style, no framing, no other origin. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
}

let assets: Map<string, Asset> | undefined;

/**
 * Every file the page may load, read once: the HTML and CSS under portal/public and the
 * scripts tsc compiles into dist/portal. A request names an entry of this map or gets a 404,
 * so no path from a URL ever reaches the file system.
 */
function loadAssets(): Map<string, Asset> {
  const found = new Map<string, Asset>();
  const add = (name: string, file: string) => {
    const body = readFileSync(file);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    found.set(name, { body, contentType: CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', etag });
  };
  const publicDir = join(ROOT, 'portal', 'public');
  for (const file of readdirSync(publicDir)) if (CONTENT_TYPES[extname(file)]) add(file, join(publicDir, file));
  const scripts = join(ROOT, 'dist', 'portal');
  if (existsSync(scripts)) {
    for (const file of readdirSync(scripts)) if (extname(file) === '.js') add(`app/${file}`, join(scripts, file));
  }
  found.set('', found.get('index.html')!);
  return found;
}

/** `If-None-Match` may list several tags, weak or strong, or `*` (RFC 9110 weak comparison). */
function matchesEtag(header: string | null, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed.replace(/^W\//, '') === etag;
  });
}

export const portalPage: HttpFunctionDefinition = {
  kind: 'http',
  name: 'portal',
  route: 'portal/{*asset}',
  methods: ['GET', 'HEAD'],
  auth: 'anonymous',
  summary: 'The Customer Keys panel (a static page using the portal API).',
  handler: async (request) => {
    assets ??= loadAssets();
    const name = (request.params.asset ?? '').replace(/\/+$/, '');
    const asset = assets.get(name);
    if (!asset) throw new ApiError('not_found', 'No such portal file.');
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      'content-type': asset.contentType,
      // Always revalidate: a deploy changes files under the same names, and a 304 costs nothing.
      'cache-control': 'no-cache',
      etag: asset.etag,
    };
    // HEAD gets the same answer; the host leaves the body out.
    const response: HttpResponseInit =
      matchesEtag(request.headers.get('if-none-match'), asset.etag) ? { status: 304, headers } : { status: 200, headers, body: asset.body };
    return response;
  },
};
