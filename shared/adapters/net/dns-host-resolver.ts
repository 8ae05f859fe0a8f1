import { lookup } from 'node:dns/promises';
import type { HostResolver, ResolvedAddress } from '../../ports/host-resolver';

/**
 * The system resolver (`getaddrinfo`, as every connection of the platform would use: the hosts
 * file, then DNS), every address at once, in the order it answers.
 */
export class DnsHostResolver implements HostResolver {
  async resolve(hostname: string): Promise<ResolvedAddress[]> {
    const found = await lookup(hostname, { all: true, order: 'verbatim' });
    return found.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
  }
}
