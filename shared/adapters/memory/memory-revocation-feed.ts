import { randomBytes } from 'node:crypto';
import { systemClock, type Clock } from '../../clock';
import type { RevocationEntry, RevocationFeed } from '../../ports/revocation-feed';

/** In-memory RevocationFeed for unit tests. */
export class MemoryRevocationFeed implements RevocationFeed {
  readonly entries: RevocationEntry[] = [];
  failWith: Error | undefined;

  constructor(private readonly clock: Clock = systemClock) {}

  async publish(entries: Array<Omit<RevocationEntry, 'at' | 'id'>>): Promise<void> {
    if (this.failWith) throw this.failWith;
    const at = this.clock.now().toISOString();
    for (const e of entries) this.entries.push({ ...e, id: randomBytes(6).toString('hex'), at });
  }

  async readSince(since: Date): Promise<RevocationEntry[]> {
    if (this.failWith) throw this.failWith;
    return this.entries.filter((e) => e.at >= since.toISOString());
  }

  async prune(before: Date): Promise<number> {
    const keep = this.entries.filter((e) => e.at >= before.toISOString());
    const removed = this.entries.length - keep.length;
    this.entries.splice(0, this.entries.length, ...keep);
    return removed;
  }
}
