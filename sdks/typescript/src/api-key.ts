/**
 * The compound key `vp_cust_{slug}.{component}.{secret}`, split into what goes where: the secret
 * in `X-API-Key`, the component in `x-functions-key`. A bare secret (43 characters) is accepted
 * too: the service takes it alone. The secret carries a CRC-32 of `vp_cust_` and its 28 random
 * bytes in its last 4 bytes, so a mistyped or made-up key fails here, at configuration, not at the
 * first export. Nothing here ever puts the key, or a part of it, into an error message.
 */

import { crc32 } from 'node:zlib';

const COMPOUND = /^vp_cust_([a-z0-9]+(?:-[a-z0-9]+)*)\.([A-Za-z0-9]{32})\.([A-Za-z0-9_-]{42}[AEIMQUYcgkosw048])$/;
const SECRET = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

export interface ParsedKey {
  /** `vp_cust_{slug}`: how logs may name the key (the slug is meant to be seen). */
  name: string;
  headers: Record<string, string>;
  /** An ingest token exchanged for an identity token (`Authorization: Bearer`), not a key. */
  federated?: boolean;
}

/** An ingest token from the token exchange: `Authorization: Bearer`, nothing in `x-functions-key`; logs name it by its customer. */
export function bearerToken(accessToken: string, customer: string): ParsedKey {
  return { name: `vp_cust_${customer}`, headers: { Authorization: `Bearer ${accessToken}` }, federated: true };
}

export class InvalidApiKeyError extends Error {
  constructor(source: string) {
    super(
      `The Veriproof API key from ${source} is not a Veriproof key (expected vp_cust_{customer}.{component}.{secret}). The key itself is not shown.`,
    );
    this.name = 'InvalidApiKeyError';
  }
}

const PREFIX_CRC = crc32('vp_cust_');

/** Whether a well-formed secret carries its checksum. */
function hasValidChecksum(secret: string): boolean {
  const bytes = Buffer.from(secret, 'base64url');
  return bytes.length === 32 && bytes.readUInt32BE(28) === crc32(bytes.subarray(0, 28), PREFIX_CRC);
}

export function parseApiKey(value: unknown, source: string): ParsedKey {
  if (typeof value !== 'string') throw new InvalidApiKeyError(source);
  const key = value.trim();
  const compound = key.length <= 160 ? COMPOUND.exec(key) : null;
  if (compound) {
    const [, slug, component, secret] = compound as unknown as [string, string, string, string];
    if (slug.length < 2 || slug.length > 32 || !hasValidChecksum(secret)) throw new InvalidApiKeyError(source);
    return { name: `vp_cust_${slug}`, headers: { 'X-API-Key': secret, 'x-functions-key': component } };
  }
  if (SECRET.test(key) && hasValidChecksum(key)) return { name: 'a bare key secret', headers: { 'X-API-Key': key } };
  throw new InvalidApiKeyError(source);
}
