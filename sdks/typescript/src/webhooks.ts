/**
 * Verifying the webhooks Veriproof sends. They follow the Standard Webhooks scheme
 * (https://www.standardwebhooks.com): the headers `webhook-id`, `webhook-timestamp` (seconds) and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`, keyed
 * with the bytes of the endpoint's `whsec_<base64>` secret. While a secret is being rotated the
 * header carries one signature per live secret, space-separated; one matching is enough.
 *
 * The secret is never put into an error's message.
 */

import { createHmac, timingSafeEqual } from 'node:crypto';

/** A webhook as Veriproof sends it (the verified body, parsed). */
export interface WebhookEvent<TData = Record<string, unknown>> {
  /** `evt_...`, the same as the `webhook-id` header and across retries: the idempotency key. */
  id: string;
  /** `key.issued`, `key.revoked`, `key.exposed`, `key.expiring`, ..., `webhook.test`. */
  type: string;
  /** When the event happened (ISO 8601), not when this attempt was sent. */
  createdAt: string;
  customer: { slug: string };
  /** The key's id, label, application and display prefix, and what the event adds (never a secret). */
  data: TData;
}

/** Why {@link verifyWebhook} refused a request. */
export type WebhookVerificationReason =
  'missing_headers' | 'invalid_timestamp' | 'timestamp_too_old' | 'timestamp_too_new' | 'no_matching_signature' | 'invalid_body';

/** The request is not a webhook Veriproof signed with this secret, or not a recent one. Answer it with 400 or 401. */
export class WebhookVerificationError extends Error {
  constructor(
    readonly reason: WebhookVerificationReason,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

/** Headers as a fetch `Headers`, Node's `IncomingHttpHeaders` (`req.headers`) or a plain object with names in any case. */
export type WebhookHeaders =
  { get(name: string): string | null } | Readonly<Record<string, string | readonly string[] | number | undefined>>;

export interface VerifyWebhookOptions {
  /** How far the `webhook-timestamp` may be from now, either way, in seconds. Default 300. */
  tolerance?: number;
  /** The current time (a `Date`, or milliseconds since the epoch as `Date.now()` gives). Default: the system clock. */
  now?: Date | number;
}

const PREFIX = 'whsec_';
const VERSION = 'v1';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2,3})?={0,2}$/;

/**
 * Verifies a webhook Veriproof sent and returns its event, parsed.
 *
 * `body` must be the request's raw bytes (or their text) exactly as they arrived: JSON that was
 * parsed and stringified again does not verify. `secret` is the endpoint's signing secret
 * (`whsec_...`; the prefix may be left off). The signature is checked in constant time, and the
 * `webhook-timestamp` must be within `tolerance` seconds of now (replays of an old request fail).
 *
 * Throws {@link WebhookVerificationError} (its `reason` says why) for a request that does not verify,
 * and `TypeError` for a secret that is not a webhook secret or a body that is not raw.
 */
export function verifyWebhook<TData = Record<string, unknown>>(
  body: string | Uint8Array | ArrayBuffer,
  headers: WebhookHeaders,
  secret: string,
  options: VerifyWebhookOptions = {},
): WebhookEvent<TData> {
  const key = secretKey(secret);
  const bytes = rawBody(body);
  const tolerance = options.tolerance ?? 300;
  if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance < 0) {
    throw new TypeError('tolerance is a number of seconds, 0 or more.');
  }
  const nowMillis = options.now === undefined ? Date.now() : typeof options.now === 'number' ? options.now : options.now.getTime();
  if (!Number.isFinite(nowMillis)) throw new TypeError('now is a Date or milliseconds since the epoch.');

  const msgId = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  const missing = [
    ['webhook-id', msgId],
    ['webhook-timestamp', timestamp],
    ['webhook-signature', signatures],
  ].filter(([, value]) => !value);
  if (missing.length > 0) {
    throw new WebhookVerificationError('missing_headers', `The request has no ${missing.map(([name]) => name).join(', ')} header.`);
  }
  if (!/^[0-9]{1,15}$/.test(timestamp!)) {
    throw new WebhookVerificationError('invalid_timestamp', 'The webhook-timestamp header is not whole seconds since the epoch.');
  }
  const age = Math.floor(nowMillis / 1000) - Number(timestamp);
  if (age > tolerance) {
    throw new WebhookVerificationError(
      'timestamp_too_old',
      `The webhook was signed ${age} s ago, more than the tolerance of ${tolerance} s.`,
    );
  }
  if (-age > tolerance) {
    throw new WebhookVerificationError(
      'timestamp_too_new',
      `The webhook's timestamp is ${-age} s ahead of this machine's clock, more than the tolerance of ${tolerance} s.`,
    );
  }

  const expected = Buffer.from(createHmac('sha256', key).update(`${msgId}.${timestamp}.`).update(bytes).digest('base64'), 'ascii');
  let matched = false;
  for (const candidate of signatures!.split(/\s+/)) {
    const comma = candidate.indexOf(',');
    if (comma < 0 || candidate.slice(0, comma) !== VERSION) continue; // another scheme's version (v1a, ...)
    const given = Buffer.from(candidate.slice(comma + 1), 'utf8');
    if (given.length === expected.length && timingSafeEqual(given, expected)) {
      matched = true;
      break;
    }
  }
  if (!matched) {
    throw new WebhookVerificationError(
      'no_matching_signature',
      "No v1 signature in webhook-signature matches this secret and body (is it the raw body, and the endpoint's current secret?).",
    );
  }

  try {
    return JSON.parse(bytes.toString('utf8')) as WebhookEvent<TData>;
  } catch {
    throw new WebhookVerificationError('invalid_body', 'The webhook verified, but its body is not JSON.');
  }
}

/** The key bytes of a `whsec_` secret, with or without the prefix, padded or not. */
function secretKey(secret: string): Buffer {
  if (typeof secret !== 'string') throw new TypeError('The webhook secret is a string (whsec_...).');
  const encoded = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret;
  if (encoded === '' || !BASE64.test(encoded) || encoded.replace(/=+$/, '').length % 4 === 1) {
    throw new TypeError('The webhook secret is not a signing secret: expected whsec_ followed by base64, as the portal showed it.');
  }
  return Buffer.from(encoded, 'base64');
}

function rawBody(body: string | Uint8Array | ArrayBuffer): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw new TypeError(
    "verifyWebhook needs the request's raw body (a string, Buffer or Uint8Array), not parsed JSON: in Express, use express.raw({ type: 'application/json' }) on the webhook route.",
  );
}

/** One header's value, its name in any case; repeated values joined with ', ' as Node and fetch join them. */
function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) throw new TypeError("verifyWebhook needs the request's headers.");
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const values: string[] = [];
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() !== name) continue;
    for (const one of Array.isArray(value) ? (value as unknown[]) : [value]) {
      if (typeof one === 'string' || typeof one === 'number') values.push(String(one));
    }
  }
  return values.length > 0 ? values.join(', ') : undefined;
}
