import { utcInstant } from '../../clock';

/** In-memory stand-in for the table due-index (shared/adapters/table/table-due-index.ts), for unit tests. */
export class MemoryDueIndex<E extends object> {
  readonly entries = new Map<string, E>();

  /** `at`: when an entry is due (any UTC offset); `id`: what tells entries due at one instant apart. */
  constructor(
    private readonly at: (entry: E) => string,
    private readonly id: (entry: E) => string,
  ) {}

  private key(entry: E): string {
    return `${utcInstant(this.at(entry))}_${this.id(entry)}`;
  }

  async add(entry: E): Promise<void> {
    this.entries.set(this.key(entry), { ...entry });
  }

  async remove(entry: E): Promise<void> {
    this.entries.delete(this.key(entry));
  }

  /** Entries due at or before `now`, by instant (never by text), oldest first. */
  async due(now: Date): Promise<E[]> {
    const until = now.toISOString();
    return [...this.entries.entries()]
      .filter(([key]) => key.slice(0, until.length) <= until)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, entry]) => ({ ...entry }));
  }
}
