import type { MasterComponentState } from '../domain';

/**
 * The one rule for "is the previous component still inside its grace period", shared by the
 * request path and the `tenant-key-grace` timer, so that acceptance never depends on when the
 * timer last ran. The grace period is half-open: the previous component is accepted while
 * `now < graceEndsAt` and refused from `graceEndsAt` on.
 */
export function previousInGrace(state: Pick<MasterComponentState, 'previousComponentVersion' | 'graceEndsAt'>, now: Date): boolean {
  if (!state.previousComponentVersion || !state.graceEndsAt) return false;
  return now.getTime() < new Date(state.graceEndsAt).getTime();
}

/** Component versions a request may present right now: the current one, and the previous one in grace. */
export function acceptedVersions(state: MasterComponentState, now: Date): string[] {
  return previousInGrace(state, now) ? [state.componentVersion, state.previousComponentVersion!] : [state.componentVersion];
}

/** Whether the timer should retire the previous component (its grace is over). */
export function dueForRetirement(state: Pick<MasterComponentState, 'previousComponentVersion' | 'graceEndsAt'>, now: Date): boolean {
  return Boolean(state.previousComponentVersion) && !previousInGrace(state, now);
}
