/**
 * The issuer of a trust policy: where a workload's identity tokens come from, compared exactly
 * with their `iss`, and (in the exchange) where discovery and the signing keys are read. OpenID
 * Connect issuers are https URLs without query or fragment; credentials in the address are refused
 * too. http is for a loopback host in local mode only (a developer's or a test's issuer).
 */
import { isLoopbackHost } from '../net/outbound-guard';

/** Longest issuer accepted (what a token's `iss` may reasonably be). */
export const ISSUER_MAX_LENGTH = 512;

/** Printable ASCII without `#`, `?` and `@` (no fragment, query or credentials): the document's statement of the shape. */
export const ISSUER_PATTERN = '^https?://[!"$->A-~]+$';
const ISSUER_SHAPE = new RegExp(ISSUER_PATTERN);

/** What is wrong with an issuer's shape, whatever the mode (undefined: nothing). */
export function issuerShapeProblem(issuer: string): string | undefined {
  if (!ISSUER_SHAPE.test(issuer)) return 'must be an https URL of printable characters, without query (?), fragment (#) or credentials (@)';
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return 'must be an https URL';
  }
  if (!url.hostname) return 'must name a host';
  return undefined;
}

/** Hosts an http issuer may name in local mode: this machine (the outbound guard's rule, shared/net/outbound-guard.ts). */
export { isLoopbackHost };

/**
 * What is wrong with an issuer of the right shape under the rules of the running mode: http is
 * refused, except for a loopback host in local mode.
 */
export function issuerModeProblem(issuer: string, localMode: boolean): string | undefined {
  const url = new URL(issuer);
  if (url.protocol === 'https:') return undefined;
  if (localMode && isLoopbackHost(url.hostname)) return undefined;
  return localMode ? 'must be https (http only for a loopback host: localhost, 127.0.0.1, [::1])' : 'must be https';
}
