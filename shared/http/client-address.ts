import type { HttpRequest } from '@azure/functions';

/**
 * The address of the client that sent a request: the entry of `X-Forwarded-For` that the first
 * trusted proxy appended, `proxyHops` from the end (Azure's front end appends the client's
 * address: 1; the local host does the same with the socket's). Entries a client wrote itself
 * come before it and are never read. `undefined` when there is none (fewer entries than hops).
 */
export function clientAddress(request: HttpRequest, proxyHops = 1): string | undefined {
  const forwarded = request.headers.get('x-forwarded-for');
  if (!forwarded) return undefined;
  const entries = forwarded.split(',');
  if (entries.length < proxyHops) return undefined;
  const last = entries[entries.length - proxyHops]!.trim();
  // An IPv4 with a port (`1.2.3.4:5678`) keeps its address; IPv6 may come bracketed.
  const address = /^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(last) ? last.replace(/:\d+$/, '') : last.replace(/^\[|\](:\d+)?$/g, '');
  return address.length > 0 && address.length <= 64 ? address.toLowerCase() : undefined;
}
