/**
 * The contract the two due-time schedules share (ExpirySchedule in shared/ports/expiry-schedule.ts,
 * GraceSchedule in shared/ports/grace-schedule.ts): entries added and removed, and `due(now)`
 * giving those due at or before `now`, oldest first, by instant whatever offset they were written
 * with (past-due runs catch up). test/contracts/expiry-schedule.test.ts and grace-schedule.test.ts
 * run it over their adapters.
 */

/** What both ports offer, for entries of type `E`. */
export interface DueSchedule<E> {
  add(entry: E): Promise<void>;
  remove(entry: E): Promise<void>;
  due(now: Date): Promise<E[]>;
}

export interface DueScheduleContract<E> {
  /** The port's name, for the suite's title. */
  port: string;
  /** Each adapter by name, with a factory for a fresh, empty one. */
  adapters: Array<[string, () => Promise<DueSchedule<E>>]>;
  /** Entry `n` of customer `customerSlug` (a key, a component version), due at `at`. */
  entry: (customerSlug: string, n: number, at: string) => E;
}

export function describeDueSchedule<E>({ port, adapters, entry }: DueScheduleContract<E>): void {
  /** Entries due at one instant come in no promised order: compared as sets. */
  const unordered = (entries: E[]) => entries.map((e) => JSON.stringify(e)).sort();

  describe.each(adapters)(`${port} contract: %s`, (_name, make) => {
    let schedule: DueSchedule<E>;
    beforeEach(async () => {
      schedule = await make();
    });

    it('has nothing due while empty', async () => {
      expect(await schedule.due(new Date('2030-01-01T00:00:00.000Z'))).toEqual([]);
    });

    it('gives the entries due at or before now, oldest first, none due later', async () => {
      const nine = entry('acme', 1, '2026-03-01T09:00:00.000Z');
      const ten = entry('acme', 2, '2026-03-01T10:00:00.000Z');
      const justAfter = entry('globex', 3, '2026-03-01T10:00:00.001Z');
      const eleven = entry('acme', 4, '2026-03-01T11:00:00.000Z');
      for (const e of [ten, eleven, justAfter, nine]) await schedule.add(e);
      expect(await schedule.due(new Date('2026-03-01T08:59:59.999Z'))).toEqual([]);
      expect(await schedule.due(new Date('2026-03-01T10:00:00.000Z'))).toEqual([nine, ten]);
      expect(await schedule.due(new Date('2026-03-01T10:59:59.999Z'))).toEqual([nine, ten, justAfter]);
    });

    it('catches up on entries long past due, oldest first', async () => {
      const lastYear = entry('acme', 1, '2025-03-01T00:00:00.000Z');
      const lastMonth = entry('globex', 2, '2026-02-01T00:00:00.000Z');
      await schedule.add(lastMonth);
      await schedule.add(lastYear);
      expect(await schedule.due(new Date('2026-03-01T12:00:00.000Z'))).toEqual([lastYear, lastMonth]);
    });

    it('orders entries by instant whatever offset they were written with, and gives them back as written', async () => {
      const plusTwo = entry('acme', 1, '2026-03-01T12:30:00+02:00'); // 10:30 UTC
      const utc = entry('acme', 2, '2026-03-01T11:00:00.000Z');
      const minusOne = entry('globex', 3, '2026-03-01T09:45:00-01:00'); // 10:45 UTC
      for (const e of [utc, minusOne, plusTwo]) await schedule.add(e);
      expect(await schedule.due(new Date('2026-03-01T10:29:59.999Z'))).toEqual([]);
      expect(await schedule.due(new Date('2026-03-01T10:30:00.000Z'))).toEqual([plusTwo]);
      expect(await schedule.due(new Date('2026-03-01T11:00:00.000Z'))).toEqual([plusTwo, minusOne, utc]);
    });

    it('keeps entries due at the same instant apart', async () => {
      const at = '2026-03-01T10:00:00.000Z';
      const same = [entry('acme', 1, at), entry('acme', 2, at), entry('globex', 1, at)];
      for (const e of same) await schedule.add(e);
      expect(unordered(await schedule.due(new Date(at)))).toEqual(unordered(same));
    });

    it('keeps one entry when the same one is added twice', async () => {
      const once = entry('acme', 1, '2026-03-01T10:00:00.000Z');
      await schedule.add(once);
      await schedule.add(once);
      expect(await schedule.due(new Date('2026-03-01T10:00:00.000Z'))).toEqual([once]);
    });

    it('forgets a removed entry, keeps the others, and takes a removal of one it does not hold calmly', async () => {
      const gone = entry('acme', 1, '2026-03-01T09:00:00.000Z');
      const kept = entry('acme', 2, '2026-03-01T09:00:00.000Z');
      await schedule.add(gone);
      await schedule.add(kept);
      await schedule.remove(gone);
      expect(await schedule.due(new Date('2026-03-01T10:00:00.000Z'))).toEqual([kept]);
      await schedule.remove(gone);
      await schedule.remove(entry('initech', 9, '2026-03-01T09:00:00.000Z'));
      expect(await schedule.due(new Date('2026-03-01T10:00:00.000Z'))).toEqual([kept]);
    });
  });
}
