/** One address a host name resolves to. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * Resolves a host name to every address it has (IPv4 and IPv6), in the resolver's order. A name
 * that does not resolve throws (or answers no address). Outbound requests resolve a name once,
 * through this port, check each address, and connect to those addresses only (the outbound guard,
 * shared/net/outbound-guard.ts): tests make any name resolve anywhere without DNS.
 */
export interface HostResolver {
  resolve(hostname: string): Promise<ResolvedAddress[]>;
}
