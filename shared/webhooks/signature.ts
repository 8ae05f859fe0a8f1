/**
 * The Standard Webhooks signature scheme (https://www.standardwebhooks.com, symmetric variant):
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`, keyed
 * with the bytes the `whsec_<base64>` secret encodes. During a secret rotation every live secret
 * signs, and the header lists the signatures separated by spaces; a receiver accepts the message
 * when any one of them matches.
 *
 * The SDKs carry their own verifier (sdks/typescript/src/webhooks.ts, veriproof_sdk/_webhooks.py);
 * {@link verifySignature} here is the service's, for tests of what it sends.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_ID_HEADER = 'webhook-id';
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';

export const SECRET_PREFIX = 'whsec_';
/** Random bytes in a new secret. The scheme asks for 24 to 64; the issue for 24 or more. */
export const SECRET_BYTES = 32;
const VERSION = 'v1';
/** Base64 (standard alphabet), padded or not: what a `whsec_` secret carries after its prefix. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2,3})?={0,2}$/;
// The signed content is delimited by full stops, so neither the id nor the timestamp may hold one.
const MESSAGE_ID = /^[\x21-\x2d\x2f-\x7e]{1,256}$/;

/** A new signing secret: `whsec_` and the base64 of {@link SECRET_BYTES} random bytes. Shown once. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The key bytes of a `whsec_` secret (the prefix is optional, padding too). Throws on anything else. */
export function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  // A length of 1 mod 4 is not base64 whatever its padding; the pattern alone lets one through.
  if (encoded === '' || !BASE64.test(encoded) || encoded.replace(/=+$/, '').length % 4 === 1) {
    throw new TypeError('A webhook secret is `whsec_` followed by base64.');
  }
  return Buffer.from(encoded, 'base64');
}

/** The message the scheme signs: `{id}.{timestamp}.{body}`, the body's bytes as they are sent. */
function content(msgId: string, timestamp: string, body: string | Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${msgId}.${timestamp}.`, 'utf8'), typeof body === 'string' ? Buffer.from(body, 'utf8') : body]);
}

/** {@link content}, for a message this service sends: an id without full stops, whole seconds. */
function signedContent(msgId: string, timestampSeconds: number, body: string | Uint8Array): Buffer {
  if (!MESSAGE_ID.test(msgId)) throw new TypeError('A webhook id is 1 to 256 printable ASCII characters without a full stop.');
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new TypeError('A webhook timestamp is whole seconds since the epoch.');
  }
  return content(msgId, String(timestampSeconds), body);
}

function hmac(key: Buffer, message: Buffer): string {
  return createHmac('sha256', key).update(message).digest('base64');
}

/** One signature, `v1,<base64>`, of the message under one secret. */
export function sign(secret: string, msgId: string, timestampSeconds: number, body: string | Uint8Array): string {
  return `${VERSION},${hmac(secretKey(secret), signedContent(msgId, timestampSeconds, body))}`;
}

/** The `webhook-signature` value: one signature per live secret, space-separated (the scheme's rotation form). */
export function signatureHeader(secrets: readonly string[], msgId: string, timestampSeconds: number, body: string | Uint8Array): string {
  if (secrets.length === 0) throw new TypeError('An endpoint signs with at least one secret.');
  const message = signedContent(msgId, timestampSeconds, body);
  return secrets.map((secret) => `${VERSION},${hmac(secretKey(secret), message)}`).join(' ');
}

/** The three headers of a signed delivery. */
export function webhookHeaders(
  secrets: readonly string[],
  msgId: string,
  timestampSeconds: number,
  body: string | Uint8Array,
): Record<typeof WEBHOOK_ID_HEADER | typeof WEBHOOK_TIMESTAMP_HEADER | typeof WEBHOOK_SIGNATURE_HEADER, string> {
  return {
    [WEBHOOK_ID_HEADER]: msgId,
    [WEBHOOK_TIMESTAMP_HEADER]: String(timestampSeconds),
    [WEBHOOK_SIGNATURE_HEADER]: signatureHeader(secrets, msgId, timestampSeconds, body),
  };
}

export type SignatureCheck =
  | { valid: true }
  | { valid: false; reason: 'missing_headers' | 'invalid_timestamp' | 'timestamp_too_old' | 'timestamp_too_new' | 'no_matching_signature' };

/**
 * Checks a delivery as a receiver would: the headers present, the timestamp within `toleranceSeconds`
 * of `nowSeconds` either way, and one `v1` signature of the header matching (compared in constant
 * time; other versions are skipped). Header names are lower case, as Node gives them.
 */
export function verifySignature(
  secret: string,
  headers: Readonly<Record<string, string | undefined>>,
  body: string | Uint8Array,
  { nowSeconds, toleranceSeconds = 300 }: { nowSeconds: number; toleranceSeconds?: number },
): SignatureCheck {
  const msgId = headers[WEBHOOK_ID_HEADER];
  const timestamp = headers[WEBHOOK_TIMESTAMP_HEADER];
  const signatures = headers[WEBHOOK_SIGNATURE_HEADER];
  if (!msgId || !timestamp || !signatures) return { valid: false, reason: 'missing_headers' };
  if (!/^\d{1,15}$/.test(timestamp)) return { valid: false, reason: 'invalid_timestamp' };
  const seconds = Number(timestamp);
  if (seconds < nowSeconds - toleranceSeconds) return { valid: false, reason: 'timestamp_too_old' };
  if (seconds > nowSeconds + toleranceSeconds) return { valid: false, reason: 'timestamp_too_new' };
  const expected = Buffer.from(hmac(secretKey(secret), content(msgId, timestamp, body)), 'ascii');
  for (const candidate of signatures.split(' ')) {
    const comma = candidate.indexOf(',');
    if (comma < 0 || candidate.slice(0, comma) !== VERSION) continue;
    const given = Buffer.from(candidate.slice(comma + 1), 'utf8');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { valid: true };
  }
  return { valid: false, reason: 'no_matching_signature' };
}
