import type { HttpRequest } from '@azure/functions';
import { ApiError } from '../errors';

/** Largest JSON body the portal API reads. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

/**
 * The request's JSON body, or `undefined` when there is none. Anything else (another content
 * type, invalid JSON, an oversized body) is a client mistake with its own code.
 */
export async function readJsonBody(request: HttpRequest): Promise<unknown> {
  const declared = request.headers.get('content-length');
  if (declared && Number(declared) > MAX_JSON_BODY_BYTES) {
    throw new ApiError('payload_too_large', `JSON bodies may be at most ${MAX_JSON_BODY_BYTES} bytes.`);
  }
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength === 0) return undefined;
  if (bytes.byteLength > MAX_JSON_BODY_BYTES) {
    throw new ApiError('payload_too_large', `JSON bodies may be at most ${MAX_JSON_BODY_BYTES} bytes.`);
  }
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== '' && type !== 'application/json' && !type.endsWith('+json')) {
    throw new ApiError('unsupported_media_type', 'Send the body as application/json.');
  }
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  } catch {
    throw new ApiError('invalid_body', 'The body is not valid JSON.');
  }
}

/** The query string as a plain object (the last value of a repeated name wins). */
export function queryObject(request: HttpRequest): Record<string, string> {
  return Object.fromEntries(request.query.entries());
}
