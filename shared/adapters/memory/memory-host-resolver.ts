import { isIP } from 'node:net';
import type { HostResolver, ResolvedAddress } from '../../ports/host-resolver';

/**
 * In-memory HostResolver for tests: each name resolves to the addresses it was given (any name,
 * any address: `issuer.example` to 127.0.0.1), every lookup recorded; a name it was not given
 * does not resolve (ENOTFOUND), as the system resolver answers an unknown name.
 */
export class MemoryHostResolver implements HostResolver {
  readonly lookups: string[] = [];
  private readonly names = new Map<string, string[]>();
  /** While set, every lookup waits for it (a resolver that hangs). */
  gate: Promise<void> | undefined;

  constructor(entries: Record<string, string | string[]> = {}) {
    for (const [name, addresses] of Object.entries(entries)) this.set(name, addresses);
  }

  /** Makes `hostname` resolve to these addresses (an empty list: it resolves to none). */
  set(hostname: string, addresses: string | string[]): void {
    this.names.set(hostname.toLowerCase(), [addresses].flat());
  }

  async resolve(hostname: string): Promise<ResolvedAddress[]> {
    this.lookups.push(hostname);
    if (this.gate) await this.gate;
    const addresses = this.names.get(hostname.toLowerCase());
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: isIP(address) === 6 ? 6 : 4 }));
  }
}
