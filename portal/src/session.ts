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

/**
 * A token handed over by the portal back end in the address's fragment
 * (`/portal#access_token=...`) is taken and removed from the address bar and history at once.
 */
export function takeTokenFromFragment(): boolean {
  const match = /(?:^#|&)access_token=([^&]+)/.exec(location.hash);
  if (!match?.[1]) return false;
  sessionStorage.setItem(STORAGE_KEY, decodeURIComponent(match[1]));
  history.replaceState(null, '', location.pathname + location.search);
  return true;
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
