import type { Clock } from '../clock';
import type { KeyIdentity } from '../domain';
import { isValidComponent } from '../keys/compound-key';
import type { ComponentCache } from './component-cache';
import { acceptedVersions, previousInGrace } from '../keys/grace-policy';

export type ComponentVerdict = 'accepted' | 'not_presented' | 'required' | 'mismatch';

/** A customer may make the door re-read its state after a component mismatch at most this often. */
export const MISMATCH_REFRESH_INTERVAL_MS = 60_000;

/** Customers whose last refresh is remembered (the map's memory bound). */
const REFRESH_MEMORY = 10_000;

/**
 * The request-path half of the master component: is the presented component the customer's
 * current one, or the previous one while its grace lasts? Decided from memory (the state copied
 * onto the key's lookup row, the values in the component cache) in microseconds; only a cold
 * customer costs a Key Vault read. Staff administration (rotation, grace, retirement) lives in
 * MasterComponentService.
 */
export class ComponentCheck {
  private readonly lastRefresh = new Map<string, number>();

  constructor(
    private readonly cache: ComponentCache,
    private readonly clock: Clock,
  ) {}

  /**
   * The verdict from memory alone (the usual case); `undefined` when a value must be read first
   * ({@link verify}). Every accepted value is compared, whichever matches, in constant time.
   * `now`: the clock's time in milliseconds, when the caller has already read it.
   *
   * A presented value equal to one of the customer's components is well formed (components are
   * generated so), so only a value that matches none is checked against the grammar, and a
   * malformed one is refused before any lookup is counted, as it always was.
   */
  verifyCached(identity: KeyIdentity, presented: string | undefined, now?: number): ComponentVerdict | undefined {
    const state = identity.masterComponent;
    if (presented === undefined) return state.requireComponent ? 'required' : 'not_presented';
    const current = this.cache.peek(identity.customerSlug, state.componentVersion, now);
    if (current === undefined) return isValidComponent(presented) ? undefined : 'mismatch';
    let matched = sameText(current, presented);
    const previousVersion =
      state.previousComponentVersion && previousInGrace(state, this.clock.now()) ? state.previousComponentVersion : undefined;
    const previous = previousVersion === undefined ? undefined : this.cache.peek(identity.customerSlug, previousVersion, now);
    if (previous !== undefined) matched = sameText(previous, presented) || matched;
    if (!matched && !isValidComponent(presented)) return 'mismatch';
    this.cache.countHit();
    if (previousVersion !== undefined) {
      if (previous === undefined) return undefined;
      this.cache.countHit();
    }
    return matched ? 'accepted' : 'mismatch';
  }

  /** The verdict, reading what memory lacks (Key Vault for a cold customer). */
  async verify(identity: KeyIdentity, presented: string | undefined): Promise<ComponentVerdict> {
    const quick = this.verifyCached(identity, presented);
    if (quick !== undefined) return quick;
    const state = identity.masterComponent;
    if (presented === undefined) return state.requireComponent ? 'required' : 'not_presented';
    if (!isValidComponent(presented)) return 'mismatch';
    let matched = false;
    for (const version of acceptedVersions(state, this.clock.now())) {
      const value = await this.cache.value(identity.customerSlug, version);
      if (value !== undefined && sameText(value, presented)) matched = true;
    }
    return matched ? 'accepted' : 'mismatch';
  }

  /**
   * After a mismatch the door may re-read the key's state once (the cached copy may predate a
   * rotation), but at most once per customer per minute, so bad requests cannot drive storage
   * or Key Vault traffic.
   */
  mayRefreshAfterMismatch(customerSlug: string): boolean {
    const now = this.clock.millis();
    const last = this.lastRefresh.get(customerSlug);
    if (last !== undefined && now - last < MISMATCH_REFRESH_INTERVAL_MS) return false;
    if (this.lastRefresh.size > REFRESH_MEMORY) this.lastRefresh.clear();
    this.lastRefresh.set(customerSlug, now);
    return true;
  }
}

/**
 * Whether two texts are equal, in time that depends on their length only (components have one
 * length): every character is compared, whatever differs first, and nothing is allocated.
 */
function sameText(expected: string, presented: string): boolean {
  if (expected.length !== presented.length) return false;
  let difference = 0;
  for (let i = 0; i < expected.length; i++) difference |= expected.charCodeAt(i) ^ presented.charCodeAt(i);
  return difference === 0;
}
