import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { ApiError } from '../errors';

/**
 * Static pages the function app serves (the portal at /portal, the API reference at /docs): a
 * fixed list of files read once, so no path from a URL ever reaches the file system, served with
 * a strict content security policy, an ETag and `Cache-Control: no-cache` (a deploy is picked up
 * at once and an unchanged file costs a 304).
 */

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Only this origin's files: no inline script or style, no framing, no other origin to call. */
export const PAGE_SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
} as const;

/** Whether a file name has a type these pages serve. */
export const servableFile = (file: string): boolean => CONTENT_TYPES[extname(file)] !== undefined;

interface StaticFile {
  body: Buffer;
  contentType: string;
  etag: string;
}

function readStaticFile(file: string): StaticFile {
  const body = readFileSync(file);
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return { body, contentType: CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', etag };
}

/** `If-None-Match` may list several tags, weak or strong, or `*` (RFC 9110 weak comparison). */
function matchesEtag(header: string | null, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed.replace(/^W\//, '') === etag;
  });
}

/**
 * A handler for `{prefix}/{*asset}` serving the files `list()` names (URL name -> file path),
 * read on the first request. The empty name is the page itself.
 */
export function staticSite(list: () => Map<string, string>, notFound: string): (request: HttpRequest) => Promise<HttpResponseInit> {
  let files: Map<string, StaticFile> | undefined;
  return async (request) => {
    files ??= new Map([...list()].map(([name, path]) => [name, readStaticFile(path)]));
    const name = (request.params.asset ?? '').replace(/\/+$/, '');
    const file = files.get(name);
    if (!file) throw new ApiError('not_found', notFound);
    const headers: Record<string, string> = {
      ...PAGE_SECURITY_HEADERS,
      'content-type': file.contentType,
      'cache-control': 'no-cache',
      etag: file.etag,
    };
    // HEAD gets the same answer; the host leaves the body out.
    return matchesEtag(request.headers.get('if-none-match'), file.etag)
      ? { status: 304, headers }
      : { status: 200, headers, body: file.body };
  };
}
