import type { HttpRequest } from '@azure/functions';
import { ApiError } from '../errors';

/** Largest JSON body the portal API reads. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

/**
 * The request body's bytes, read as a stream with the route's own bound: a declared length over
 * it fails before a byte is read, and reading stops (the stream is cancelled) as soon as the
 * bytes pass it. Only handlers call this, so a body is never read before the request passed
 * its door; the host streams it (`enableHttpStream` in Azure, the local host likewise).
 */
export async function readBody(request: HttpRequest, maxBytes: number, tooLarge: () => ApiError): Promise<Uint8Array> {
  const declared = declaredLength(request);
  if (declared !== undefined && declared > maxBytes) throw tooLarge();
  const stream = request.body;
  if (!stream) return new Uint8Array(0);
  const reader: ReadableStreamDefaultReader<Uint8Array> = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const next = await reader.read().catch(() => {
      throw new ApiError('invalid_body', 'The request body could not be read to its end.');
    });
    if (next.done) break;
    size += next.value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(next.value);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** The body's length as its Content-Length declares it, when it does (a value that is not a length is ignored: the read bounds it). */
export function declaredLength(request: HttpRequest): number | undefined {
  const declared = request.headers.get('content-length');
  return declared !== null && /^\d+$/.test(declared.trim()) ? Number(declared) : undefined;
}

const jsonTooLarge = (): ApiError => new ApiError('payload_too_large', `JSON bodies may be at most ${MAX_JSON_BODY_BYTES} bytes.`);

/**
 * The request's JSON body, or `undefined` when there is none. Anything else (another content
 * type, invalid JSON, an oversized body) is a client mistake with its own code.
 */
export async function readJsonBody(request: HttpRequest): Promise<unknown> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const bytes = await readBody(request, MAX_JSON_BODY_BYTES, jsonTooLarge);
  if (bytes.byteLength === 0) return undefined;
  if (type !== '' && type !== 'application/json' && !type.endsWith('+json')) {
    throw new ApiError('unsupported_media_type', 'Send the body as application/json.');
  }
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as unknown;
  } catch {
    throw new ApiError('invalid_body', 'The body is not valid JSON.');
  }
}

/** The query string as a plain object (the last value of a repeated name wins). */
export function queryObject(request: HttpRequest): Record<string, string> {
  return Object.fromEntries(request.query.entries());
}
