import { statusOf } from '../azure-errors';
import { backoff } from './rows';

/**
 * Optimistic concurrency over Table rows, in one place: read the rows, decide from them, write
 * under the ETags just read, and when another writer got there first (412, or a status the
 * caller names), read again and retry, with full-jitter backoff between attempts.
 */

/** Attempts before giving up on rows that keep changing. */
export const ETAG_ATTEMPTS = 30;

/** The answer of one attempt: decided from what was read alone, or a conditional write. */
export type EtagStep<T> = { done: T; write?: undefined } | ConditionalWrite<T>;

export interface ConditionalWrite<T> {
  /** The write, conditional on the ETags of the rows the attempt read. */
  write: () => Promise<unknown>;
  /** The answer once the write succeeded (work that follows it, a lookup row's copy say, goes here). */
  written: () => T | Promise<T>;
  /** Statuses of a failed write that mean the rows read are stale: read again (412 when not given). */
  staleOn?: readonly number[];
  /** An answer for a failed write's status that is not staleness (a conflict on a row just created, say). */
  failed?: (status: number | undefined) => T | undefined;
}

/** The answer of an attempt that needs no write. */
export const done = <T>(value: T): EtagStep<T> => ({ done: value });

/**
 * Runs `attempt` (its reads and its decision) until its write lands or it answers without one.
 * `what` names the operation in the error thrown after {@link ETAG_ATTEMPTS} lost races
 * (`{what} kept changing under concurrent updates`).
 */
export async function withEtagRetry<T>(what: string, attempt: () => Promise<EtagStep<T>>, attempts = ETAG_ATTEMPTS): Promise<T> {
  for (let n = 0; n < attempts; n++) {
    await backoff(n);
    const step = await attempt();
    if (step.write === undefined) return step.done;
    try {
      await step.write();
    } catch (error) {
      const status = statusOf(error);
      const answer = step.failed?.(status);
      if (answer !== undefined) return answer;
      if (status !== undefined && (step.staleOn ?? [412]).includes(status)) continue;
      throw error;
    }
    return step.written();
  }
  throw new Error(`${what} kept changing under concurrent updates`);
}
