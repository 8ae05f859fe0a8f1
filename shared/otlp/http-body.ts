import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { ApiError } from '../errors';
import type { OtlpFormat } from './trace-request';

const gunzipAsync = promisify(gunzip);

export const CONTENT_TYPES: Record<OtlpFormat, string> = {
  json: 'application/json',
  protobuf: 'application/x-protobuf',
};

/** The OTLP encoding named by a Content-Type header, or a 415. */
export function otlpFormatOf(contentType: string | null): OtlpFormat {
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType === 'application/json') return 'json';
  if (mediaType === 'application/x-protobuf' || mediaType === 'application/protobuf') return 'protobuf';
  throw new ApiError('unsupported_media_type', 'Send OTLP as application/json or application/x-protobuf.', {
    headers: { Accept: 'application/json, application/x-protobuf' },
  });
}

/** The content encodings an OTLP body may come in. */
export type ContentEncoding = 'identity' | 'gzip';

/** The encoding named by a Content-Encoding header, or a 415 (before a byte of the body is read). */
export function contentEncodingOf(contentEncoding: string | null): ContentEncoding {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return 'identity';
  if (encoding === 'gzip' || encoding === 'x-gzip') return 'gzip';
  throw new ApiError('unsupported_media_type', 'The only content encoding accepted is gzip.', {
    headers: { 'Accept-Encoding': 'gzip' },
  });
}

/** The body's bytes after content decoding (gzip or none), within the size limit. */
export async function decodeContent(body: Uint8Array, contentEncoding: string | null, maxBytes: number): Promise<Uint8Array> {
  if (body.byteLength > maxBytes) throw tooLarge(maxBytes);
  if (contentEncodingOf(contentEncoding) === 'identity') return body;
  try {
    return await gunzipAsync(body, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
      throw tooLarge(maxBytes);
    }
    throw new ApiError('invalid_body', 'The body is not valid gzip.');
  }
}

export function tooLarge(maxBytes: number): ApiError {
  return new ApiError('payload_too_large', `OTLP requests may carry at most ${maxBytes} bytes.`, {
    extensions: { maxBytes },
  });
}
