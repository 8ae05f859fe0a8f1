import { allowlistWithin } from './ip-allowlist';

/** A key's expiry and allowlist as a whole (absent: none, so never expires / any address). */
export interface Access {
  expiresAt?: string | undefined;
  allowedIps?: readonly string[] | undefined;
}

/**
 * How a change to a key's expiry and allowlist loosens them, if it does; `undefined` when it
 * only narrows or keeps them. Loosening is: clearing an expiry, or moving it later (compared as
 * instants); clearing an allowlist (any address), or one with an entry not inside any current
 * entry (`allowlistWithin`). Setting an expiry or an allowlist where there was none narrows.
 */
export function loosening(current: Access, next: Access): string | undefined {
  if (current.expiresAt) {
    if (!next.expiresAt) return 'clears its expiry';
    if (Date.parse(next.expiresAt) > Date.parse(current.expiresAt)) return 'moves its expiry later';
  }
  if (current.allowedIps?.length && !allowlistWithin(next.allowedIps ?? [], current.allowedIps)) {
    return next.allowedIps?.length ? 'admits addresses its allowlist does not' : 'clears its allowlist';
  }
  return undefined;
}

/** A change to a key's expiry and allowlist: a value sets it, `null` clears it, absent keeps it. */
export interface AccessPatch {
  expiresAt?: string | null | undefined;
  allowedIps?: readonly string[] | null | undefined;
}

/** A key's expiry and allowlist after `patch` (an empty allowlist is none); `undefined` when nothing changes. */
export function patchedAccess(current: Access, patch: AccessPatch): { expiresAt?: string; allowedIps?: readonly string[] } | undefined {
  const next = {
    ...(patch.expiresAt === undefined
      ? current.expiresAt
        ? { expiresAt: current.expiresAt }
        : {}
      : patch.expiresAt
        ? { expiresAt: patch.expiresAt }
        : {}),
    ...(patch.allowedIps === undefined
      ? current.allowedIps
        ? { allowedIps: current.allowedIps }
        : {}
      : patch.allowedIps?.length
        ? { allowedIps: patch.allowedIps }
        : {}),
  };
  const same = next.expiresAt === current.expiresAt && JSON.stringify(next.allowedIps ?? []) === JSON.stringify(current.allowedIps ?? []);
  return same ? undefined : next;
}
