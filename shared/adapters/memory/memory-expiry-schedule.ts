import type { ExpiryEntry, ExpirySchedule } from '../../ports/expiry-schedule';

/** In-memory ExpirySchedule for unit tests. */
export class MemoryExpirySchedule implements ExpirySchedule {
  readonly entries = new Map<string, ExpiryEntry>();
  private key = (e: ExpiryEntry) => `${e.expiresAt}_${e.customerSlug}_${e.keyId}`;

  async add(entry: ExpiryEntry): Promise<void> {
    this.entries.set(this.key(entry), { ...entry });
  }

  async remove(entry: ExpiryEntry): Promise<void> {
    this.entries.delete(this.key(entry));
  }

  async due(now: Date): Promise<ExpiryEntry[]> {
    return [...this.entries.values()]
      .filter((e) => e.expiresAt <= now.toISOString())
      .sort((a, b) => a.expiresAt.localeCompare(b.expiresAt));
  }
}
