/**
 * Who is signed in. The portal token lives in sessionStorage (this tab only, gone when it
 * closes): never localStorage, and no API key is ever stored anywhere by this page.
 */

const STORAGE_KEY = 'veriproof.portal.token';

export interface Claims {
  sub: string;
  name?: string;
  customer?: string;
  roles: string[];
  exp?: number;
}

export function readClaims(token: string): Claims | undefined {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(json) as Partial<Claims>;
    if (typeof claims.sub !== 'string') return undefined;
    return { ...claims, sub: claims.sub, roles: Array.isArray(claims.roles) ? claims.roles : [] };
  } catch {
    return undefined;
  }
}

const STATE_KEY = 'veriproof.portal.sign-in-state';

/** What the address's fragment brought: nothing, a token for this tab, or a refused hand-over. */
export type HandOver = { kind: 'none' } | { kind: 'token'; token: string; claims: Claims } | { kind: 'refused'; reason: string };

/**
 * Sends the user to the portal back end to sign in, bound to this tab: a random one-time state
 * goes along and must come back with the token (`/portal#access_token=…&state=…`).
 */
export function beginSignIn(signInUrl: string): void {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const state = btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  sessionStorage.setItem(STATE_KEY, state);
  const url = new URL(signInUrl);
  url.searchParams.set('state', state);
  url.searchParams.set('return_to', `${location.origin}/portal`);
  location.assign(url.toString());
}

/**
 * A token handed over in the address's fragment, taken only if it answers the sign-in this tab
 * started (its one-time state, used up here whatever happens). The fragment leaves the address
 * bar and the history at once, taken or not.
 */
export function readHandOver(): HandOver {
  if (!/(?:^#|&)(access_token|state)=/.test(location.hash)) return { kind: 'none' };
  const params = new URLSearchParams(location.hash.slice(1));
  history.replaceState(null, '', location.pathname + location.search);
  const expected = sessionStorage.getItem(STATE_KEY);
  sessionStorage.removeItem(STATE_KEY);
  if (!expected || params.get('state') !== expected) {
    return { kind: 'refused', reason: 'That sign-in link was not started from this page, so it was not used. Sign in again from here.' };
  }
  const token = params.get('access_token') ?? '';
  const claims = readClaims(token);
  if (!claims) return { kind: 'refused', reason: 'The sign-in did not bring a usable session token. Sign in again.' };
  return { kind: 'token', token, claims };
}

export function currentToken(): string | undefined {
  const token = sessionStorage.getItem(STORAGE_KEY) ?? undefined;
  const claims = token ? readClaims(token) : undefined;
  if (!token || !claims || (claims.exp !== undefined && claims.exp * 1000 < Date.now())) return undefined;
  return token;
}

export function storeToken(token: string): void {
  sessionStorage.setItem(STORAGE_KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}
