import type { GraceEntry, GraceSchedule } from '../../ports/grace-schedule';

/** In-memory GraceSchedule for unit tests. */
export class MemoryGraceSchedule implements GraceSchedule {
  readonly entries = new Map<string, GraceEntry>();
  private key = (e: GraceEntry) => `${e.endsAt}_${e.customerSlug}_${e.version}`;

  async add(entry: GraceEntry): Promise<void> {
    this.entries.set(this.key(entry), { ...entry });
  }

  async remove(entry: GraceEntry): Promise<void> {
    this.entries.delete(this.key(entry));
  }

  async due(now: Date): Promise<GraceEntry[]> {
    return [...this.entries.values()].filter((e) => e.endsAt <= now.toISOString()).sort((a, b) => a.endsAt.localeCompare(b.endsAt));
  }
}
