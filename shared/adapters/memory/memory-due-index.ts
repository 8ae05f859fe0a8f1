/** In-memory stand-in for the table due-index (shared/adapters/table/table-due-index.ts), for unit tests. */
export class MemoryDueIndex<E extends object> {
  readonly entries = new Map<string, E>();

  constructor(
    private readonly key: (entry: E) => string,
    private readonly at: (entry: E) => string,
  ) {}

  async add(entry: E): Promise<void> {
    this.entries.set(this.key(entry), { ...entry });
  }

  async remove(entry: E): Promise<void> {
    this.entries.delete(this.key(entry));
  }

  async due(now: Date): Promise<E[]> {
    const until = now.toISOString();
    return [...this.entries.values()].filter((e) => this.at(e) <= until).sort((a, b) => this.at(a).localeCompare(this.at(b)));
  }
}
