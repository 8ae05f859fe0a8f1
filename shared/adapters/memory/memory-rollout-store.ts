import type { RolloutEntry, RolloutStore, RolloutUse } from '../../ports/rollout-store';
import { replacesRecordedUse } from '../../keys/rollout-policy';

/** In-memory RolloutStore for unit tests; counts the calls a flush and the timer make. */
export class MemoryRolloutStore implements RolloutStore {
  readonly entries = new Map<string, RolloutEntry>();
  /** Calls of {@link list} (the timer's one query per pass). */
  listCalls = 0;

  private key(customerSlug: string, oldKeyId: string): string {
    return `${customerSlug}_${oldKeyId}`;
  }

  async add(entry: RolloutEntry): Promise<void> {
    this.entries.set(this.key(entry.customerSlug, entry.oldKeyId), { ...entry });
  }

  async list(): Promise<RolloutEntry[]> {
    this.listCalls += 1;
    return [...this.entries.values()].map((e) => ({ ...e }));
  }

  async recordUses(uses: RolloutUse[]): Promise<RolloutUse[]> {
    const gone: RolloutUse[] = [];
    for (const use of uses) {
      const entry = this.entries.get(this.key(use.customerSlug, use.oldKeyId));
      if (!entry) {
        gone.push(use);
        continue;
      }
      const column = use.side === 'old' ? 'oldLastUsedAt' : 'successorFirstUsedAt';
      if (replacesRecordedUse(use.side, entry[column], use.at)) entry[column] = use.at;
    }
    return gone;
  }

  async remove(customerSlug: string, oldKeyId: string): Promise<void> {
    this.entries.delete(this.key(customerSlug, oldKeyId));
  }
}
