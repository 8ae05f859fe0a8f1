import type { Timer } from '@azure/functions';
import { Cron } from 'croner';
import type { TimerFunctionDefinition } from '../app/function-contract';

/**
 * Runs timer functions on their NCRONTAB schedules, in UTC like the Functions host does.
 * A run never overlaps the previous run of the same function; a run that starts more than a
 * second after its slot is flagged `isPastDue`.
 */

/** NCRONTAB as Azure Functions reads it: six fields, seconds first. */
export function assertNcrontab(schedule: string): void {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new Error(
      `"${schedule}" is not an NCRONTAB expression: it needs six fields ({second} {minute} {hour} {day} {month} {day-of-week})`,
    );
  }
  // Croner validates the fields themselves and throws on nonsense.
  new Cron(schedule, { timezone: 'UTC', paused: true }).stop();
}

/** The next run of a schedule after a given time. */
export function nextOccurrence(schedule: string, after: Date): Date | null {
  assertNcrontab(schedule);
  const job = new Cron(schedule, { timezone: 'UTC', paused: true });
  const next = job.nextRun(after);
  job.stop();
  return next;
}

export type TimerInvoker = (definition: TimerFunctionDefinition, timer: Timer) => Promise<void>;

export class TimerScheduler {
  private readonly jobs: Cron[] = [];
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly definitions: readonly TimerFunctionDefinition[],
    private readonly invoke: TimerInvoker,
  ) {
    definitions.forEach((d) => assertNcrontab(d.schedule));
  }

  start(): void {
    for (const definition of this.definitions) {
      let last = new Date();
      const job = new Cron(definition.schedule, { timezone: 'UTC', protect: true, unref: true }, async (self: Cron) => {
        const slot = self.currentRun() ?? new Date();
        const now = new Date();
        const next = self.nextRun() ?? now;
        const timer: Timer = {
          isPastDue: now.getTime() - slot.getTime() > 1000,
          schedule: { adjustForDST: false },
          scheduleStatus: { last: last.toISOString(), next: next.toISOString(), lastUpdated: now.toISOString() },
        };
        last = now;
        await this.track(this.invoke(definition, timer));
      });
      this.jobs.push(job);
      if (definition.runOnStartup) {
        const now = new Date();
        void this.track(
          this.invoke(definition, {
            isPastDue: false,
            schedule: { adjustForDST: false },
            scheduleStatus: { last: now.toISOString(), next: (job.nextRun() ?? now).toISOString(), lastUpdated: now.toISOString() },
          }),
        );
      }
    }
  }

  /** Stops scheduling and waits for runs under way. */
  async stop(): Promise<void> {
    this.jobs.forEach((job) => job.stop());
    this.jobs.length = 0;
    await Promise.allSettled([...this.running]);
  }

  private track(run: Promise<void>): Promise<void> {
    const tracked = run.catch(() => undefined).finally(() => this.running.delete(tracked));
    this.running.add(tracked);
    return tracked;
  }
}
