/**
 * The compound key `vp_cust_{slug}.{component}.{secret}`, split into what goes where: the secret
 * in `X-API-Key`, the component in `x-functions-key`. A bare secret (43 characters) is accepted
 * too: the service takes it alone. Nothing here ever puts the key, or a part of it, into an
 * error message.
 */

const COMPOUND = /^vp_cust_([a-z0-9]+(?:-[a-z0-9]+)*)\.([A-Za-z0-9]{32})\.([A-Za-z0-9_-]{42}[AEIMQUYcgkosw048])$/;
const SECRET = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

export interface ParsedKey {
  /** `vp_cust_{slug}`: how logs may name the key (the slug is meant to be seen). */
  name: string;
  headers: Record<string, string>;
}

export class InvalidApiKeyError extends Error {
  constructor(source: string) {
    super(
      `The Veriproof API key from ${source} is not a Veriproof key (expected vp_cust_{customer}.{component}.{secret}). The key itself is not shown.`,
    );
    this.name = 'InvalidApiKeyError';
  }
}

export function parseApiKey(value: unknown, source: string): ParsedKey {
  if (typeof value !== 'string') throw new InvalidApiKeyError(source);
  const key = value.trim();
  const compound = key.length <= 160 ? COMPOUND.exec(key) : null;
  if (compound) {
    const [, slug, component, secret] = compound as unknown as [string, string, string, string];
    if (slug.length < 2 || slug.length > 32) throw new InvalidApiKeyError(source);
    return { name: `vp_cust_${slug}`, headers: { 'X-API-Key': secret, 'x-functions-key': component } };
  }
  if (SECRET.test(key)) return { name: 'a bare key secret', headers: { 'X-API-Key': key } };
  throw new InvalidApiKeyError(source);
}
