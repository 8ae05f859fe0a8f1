import { isLoopbackHost } from '../trust/issuer';

/**
 * The URL of a webhook endpoint, as the API accepts it: an https URL that names a host, without
 * credentials (`user:password@`) or fragment (`#`), of printable ASCII; a query is allowed (many
 * receivers take a token there). http only for a loopback host in local mode, like a trust
 * policy's issuer (shared/trust/issuer.ts). Where the host resolves to is judged at send time, by
 * the delivery's outbound guard, not here: an address can change after the endpoint is saved.
 */

/** Longest endpoint URL accepted. */
export const WEBHOOK_URL_MAX_LENGTH = 2048;

/** Printable ASCII without `#`: the document's statement of the shape (credentials are refused by the parse). */
export const WEBHOOK_URL_PATTERN = '^https?://[!-"$-~]+$';
const WEBHOOK_URL_SHAPE = new RegExp(WEBHOOK_URL_PATTERN);

/** What is wrong with an endpoint URL's shape, whatever the mode (undefined: nothing). */
export function webhookUrlShapeProblem(value: string): string | undefined {
  if (!WEBHOOK_URL_SHAPE.test(value)) return 'must be an https URL of printable ASCII characters without spaces or fragment (#)';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an https URL';
  }
  if (!url.hostname) return 'must name a host';
  if (url.username || url.password) return 'must not hold credentials (user:password@)';
  return undefined;
}

/** What is wrong with an endpoint URL of the right shape under the running mode: http only for a loopback host, in local mode. */
export function webhookUrlModeProblem(value: string, localMode: boolean): string | undefined {
  const url = new URL(value);
  if (url.protocol === 'https:') return undefined;
  if (localMode && isLoopbackHost(url.hostname)) return undefined;
  return localMode ? 'must be https (http only for a loopback host: localhost, 127.0.0.1, [::1])' : 'must be https';
}

/** The URL as the audit log records it: without its query, which may carry the receiver's token. */
export function auditedUrl(value: string): string {
  const url = new URL(value);
  return `${url.origin}${url.pathname}`;
}
