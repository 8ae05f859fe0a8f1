import type { HostResolver, ResolvedAddress } from '../ports/host-resolver';
import { addressProblem, isLoopbackAddress, parseAddress } from './address-ranges';

/**
 * The outbound guard: what decides whether the service may send a request to an address someone
 * else chose (an OpenID issuer's discovery document and key set; a webhook endpoint). Every
 * outbound request to such an address goes through it, by way of the guarded HTTP client
 * (shared/adapters/net/guarded-http-client.ts, the OutboundHttp port), which connects to the
 * addresses the guard checked and no other.
 *
 * Production rules (anything but local mode):
 * - https only; no credentials in the URL;
 * - the host name is resolved once (the HostResolver port) and every address it resolves to must
 *   be public (shared/net/address-ranges.ts): one private, loopback, link-local (the cloud metadata
 *   address among them), shared, reserved or documentation address refuses the request, so a name
 *   that resolves to a public and a private address cannot be used to reach the private one;
 * - an IP address in the URL is judged itself, in whatever spelling it was written: the WHATWG URL
 *   parser has already turned `2130706433`, `0177.0.0.1` and `0x7f.1` into `127.0.0.1`, and
 *   `[::ffff:127.0.0.1]` into `[::ffff:7f00:1]` (which is judged by the IPv4 address it carries).
 *
 * Local mode (a developer's machine, the tests): https to any address, and http to a loopback host
 * (`localhost`, `127.x.x.x`, `[::1]`) whose addresses are all loopback. The connection is pinned to
 * the resolved addresses in both.
 */

/** A request the guard let through: where to connect, and under which name. */
export interface OutboundTarget {
  url: URL;
  /** The host as the URL names it, without brackets: the Host header, the TLS server name and the name the certificate must hold. */
  hostname: string;
  port: number;
  /** Every address the host resolved to (or the address the URL names), each checked: the connection goes to one of these, no other. */
  addresses: readonly ResolvedAddress[];
}

/** Why a request was not let through. */
export type OutboundRefusal = 'not_allowed' | 'unresolved' | 'timeout';

export type OutboundAdmission =
  | { ok: true; target: OutboundTarget }
  | {
      ok: false;
      failure: OutboundRefusal;
      /** A short reason for logs and the audit: the host name and addresses, never the URL's path or query (they may hold a secret). */
      detail: string;
    };

/** Hosts an http URL may name in local mode: this machine. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * What keeps a URL from being requested at all under the mode's rules, before any resolution
 * (undefined: nothing, its addresses are checked next). Pure.
 */
export function outboundUrlProblem(url: URL, localMode: boolean): string | undefined {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `${url.protocol.replace(/:$/, '')} is not requested (https only)`;
  if (url.username || url.password) return 'credentials in the address';
  if (!url.hostname) return 'no host';
  if (url.protocol === 'http:' && !(localMode && isLoopbackHost(url.hostname))) {
    return localMode ? 'http only to a loopback host (localhost, 127.0.0.1, [::1]) in local mode' : 'http is not requested (https only)';
  }
  return undefined;
}

/** Whether the resolved addresses may be connected to under the mode's rules, for a URL `outboundUrlProblem` let through. Pure. */
export function resolvedAddressProblem(url: URL, addresses: readonly ResolvedAddress[], localMode: boolean): string | undefined {
  if (localMode) {
    if (url.protocol === 'https:') return undefined;
    const elsewhere = addresses.find((resolved) => !isLoopbackAddress(resolved.address));
    return elsewhere
      ? `${url.hostname} resolves to ${elsewhere.address}, which is not loopback (http is for this machine only)`
      : undefined;
  }
  const named = parseAddress(url.hostname) === undefined;
  for (const { address } of addresses) {
    const problem = addressProblem(address);
    if (problem) return named ? `${url.hostname} resolves to ${problem}, not a public address` : `${problem} is not a public address`;
  }
  return undefined;
}

const refusal = (failure: OutboundRefusal, detail: string): OutboundAdmission => ({ ok: false, failure, detail });

/** Resolves with the promise, or rejects when the signal aborts first (a lookup cannot be cancelled, only no longer waited for). */
function beforeAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error('aborted'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

/**
 * Admits or refuses outbound requests by the rules above. One instance per process, built with
 * the mode (`localMode` is `config.runtime === 'local'`) and the resolver (the system's; a test's).
 */
export class OutboundGuard {
  constructor(
    private readonly resolver: HostResolver,
    private readonly options: { localMode: boolean },
  ) {}

  /**
   * Checks a URL: its scheme and shape, then every address its host resolves to (resolved once,
   * here). Admitted, it answers the target to connect to, pinned to those addresses; the signal
   * bounds the resolution.
   */
  async admit(address: string | URL, signal?: AbortSignal): Promise<OutboundAdmission> {
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      return refusal('not_allowed', 'not a URL');
    }
    const problem = outboundUrlProblem(url, this.options.localMode);
    if (problem) return refusal('not_allowed', problem);
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const literal = parseAddress(hostname);
    let addresses: ResolvedAddress[];
    if (literal) {
      addresses = [{ address: hostname, family: literal.family }];
    } else {
      try {
        addresses = await beforeAbort(this.resolver.resolve(hostname), signal);
      } catch (error) {
        if (signal?.aborted) return refusal('timeout', `${hostname} did not resolve in time`);
        const code = (error as { code?: unknown } | undefined)?.code;
        return refusal('unresolved', `${hostname} does not resolve${typeof code === 'string' ? ` (${code})` : ''}`);
      }
      if (addresses.length === 0) return refusal('unresolved', `${hostname} resolves to no address`);
    }
    const refused = resolvedAddressProblem(url, addresses, this.options.localMode);
    if (refused) return refusal('not_allowed', refused);
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    return { ok: true, target: { url, hostname, port, addresses } };
  }
}
