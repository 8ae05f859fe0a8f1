import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Work the clock drives rather than a request: the revocation-feed poll, the rate limiter's
 * sync, the health probe, timer functions. (The usage flush is the requests' own cost,
 * deferred, and counts with them.) Running it inside `inBackground`
 * lets the storage counter tell the two apart, so each is bounded in its own terms: requests'
 * storage cost per request, background's per instance-second (it grows with wall time, not load).
 */
const background = new AsyncLocalStorage<string>();

/** Runs `work` as background work named `name`; everything it awaits inherits the name. */
export function inBackground<T>(name: string, work: () => T): T {
  return background.run(name, work);
}

/** The name of the background work running now, or undefined on a request's path. */
export function backgroundWork(): string | undefined {
  return background.getStore();
}
