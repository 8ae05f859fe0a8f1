import { Api } from './api.js';
import { initActivity, loadActivity } from './activity.js';
import { initDecisions, loadDecisions } from './decisions.js';
import { initIdentities, loadIdentities } from './identities.js';
import { initKeys, loadKeys } from './keys.js';
import type { Portal } from './portal.js';
import { clearToken, currentToken, readClaims, readHandOver, storeToken, type Claims, type HandOver } from './session.js';
import { showSignIn } from './sign-in.js';
import { initStaff, loadStaff } from './staff.js';
import type { KeyList } from './types.js';
import { byId, confirmAction, showError, toast } from './ui.js';
import { initUsage, loadUsage } from './usage.js';
import { initWebhooks, loadWebhooks } from './webhooks.js';

/** The page: sign-in, the tabs a role may see, hash routing, sandbox mode. */

type View = 'keys' | 'identities' | 'webhooks' | 'usage' | 'activity' | 'decisions' | 'staff';

const VIEWS: Record<View, { role: string; load: (portal: Portal) => Promise<void> }> = {
  keys: { role: 'CustomerAdmin', load: loadKeys },
  identities: { role: 'CustomerAdmin', load: loadIdentities },
  webhooks: { role: 'CustomerAdmin', load: loadWebhooks },
  usage: { role: 'CustomerAdmin', load: loadUsage },
  activity: { role: 'CustomerAdmin', load: loadActivity },
  decisions: { role: 'CustomerAdmin', load: loadDecisions },
  staff: { role: 'Staff', load: loadStaff },
};

let sandbox = false;
const api = new Api({ token: currentToken, sandbox: () => sandbox, onUnauthenticated: () => signOut() });
let portal: Portal | undefined;
let current: View | undefined;

function allowed(view: View): boolean {
  return Boolean(portal?.claims.roles.includes(VIEWS[view].role));
}

async function show(view: View): Promise<void> {
  if (!portal || !allowed(view)) return;
  current = view;
  for (const name of Object.keys(VIEWS) as View[]) byId(`view-${name}`).hidden = name !== view;
  for (const tab of document.querySelectorAll<HTMLAnchorElement>('#tabs a')) {
    if (tab.dataset.tab === view) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
  document.title = `${byId(`view-${view}`).querySelector('h1')?.textContent ?? 'Customer Keys'} · Veriproof`;
  document.body.dataset.view = view;
  document.body.setAttribute('aria-busy', 'true');
  try {
    await VIEWS[view].load(portal);
  } catch (error) {
    showError(error);
  } finally {
    document.body.removeAttribute('aria-busy');
  }
}

function route(): void {
  const wanted = location.hash.slice(1) as View;
  if (wanted in VIEWS && allowed(wanted)) void show(wanted);
  else if (!current) void show(portal?.claims.roles.includes('CustomerAdmin') ? 'keys' : 'staff');
}

function signOut(): void {
  clearToken();
  location.hash = '';
  location.reload();
}

const who = (claims: Claims) => `${claims.name ?? claims.sub}${claims.customer ? ` (${claims.customer})` : ''}`;

/**
 * Takes a handed-over token. Signing in as someone else than the tab's current user is asked
 * first; a refused hand-over says why. Resolves whether the tab's user changed.
 */
async function applyHandOver(handOver: HandOver): Promise<boolean> {
  if (handOver.kind === 'none') return false;
  if (handOver.kind === 'refused') {
    signInNotice = handOver.reason;
    return false;
  }
  const signedIn = currentToken();
  const current = signedIn ? readClaims(signedIn) : undefined;
  if (current && (current.sub !== handOver.claims.sub || current.customer !== handOver.claims.customer)) {
    byId('loading').hidden = true;
    const confirmed = await confirmAction({
      title: 'Switch user?',
      body: [`This tab is signed in as ${who(current)}.`, `The sign-in that just came back is for ${who(handOver.claims)}.`],
      confirmLabel: `Continue as ${handOver.claims.name ?? handOver.claims.sub}`,
    });
    if (confirmed === undefined) return false;
  }
  storeToken(handOver.token);
  return true;
}

/** Why the last hand-over was refused, shown with the sign-in. */
let signInNotice: string | undefined;

function start(): void {
  const token = currentToken();
  const claims = token ? readClaims(token) : undefined;
  byId('loading').hidden = true;
  if (!token || !claims) {
    void showSignIn(api, start, signInNotice).catch((error: unknown) => showError(error));
    return;
  }
  if (signInNotice) toast(signInNotice, 'error');
  signInNotice = undefined;
  portal = {
    api,
    claims,
    get sandbox() {
      return sandbox;
    },
    keys: undefined,
    async loadKeyList() {
      const list = await api.get<KeyList>('/v1/customer-keys');
      portal!.keys = list;
      return list;
    },
  };
  byId('account').hidden = false;
  byId('account-name').textContent =
    `${claims.name ?? claims.sub}${claims.customer ? ` · ${claims.customer}` : ''} · ${claims.roles.join(', ')}`;
  byId('sandbox-switch').hidden = !claims.roles.includes('CustomerAdmin');
  byId('tabs').hidden = false;
  for (const tab of document.querySelectorAll<HTMLAnchorElement>('#tabs a')) tab.hidden = !claims.roles.includes(tab.dataset.role ?? '');
  route();
}

async function wire(): Promise<void> {
  const handOver = readHandOver();
  byId('sign-out').addEventListener('click', signOut);
  byId<HTMLInputElement>('sandbox-toggle').addEventListener('change', (event) => {
    sandbox = (event.target as HTMLInputElement).checked;
    document.body.classList.toggle('sandbox', sandbox);
    byId('sandbox-banner').hidden = !sandbox;
    if (portal) portal.keys = undefined;
    if (current) void show(current);
  });
  for (const button of document.querySelectorAll<HTMLButtonElement>('[data-refresh]')) {
    button.addEventListener('click', () => current && void show(current));
  }
  // A hand-over into a page that is already open changes only the fragment: start again as the new user.
  window.addEventListener('hashchange', () => {
    const arrived = readHandOver();
    if (arrived.kind === 'none') return route();
    void applyHandOver(arrived).then((changed) => {
      if (changed) location.reload();
      else if (arrived.kind === 'refused' && !portal)
        start(); // the sign-in again, saying why
      else if (arrived.kind === 'refused') toast(arrived.reason, 'error');
    });
  });
  // Views wire their controls once; they read the portal through this proxy when used.
  const lazy = new Proxy({} as Portal, { get: (_t, name) => (portal as unknown as Record<string | symbol, unknown>)[name] });
  initKeys(lazy);
  initIdentities(lazy);
  initWebhooks(lazy);
  initUsage();
  initActivity(lazy);
  initDecisions(lazy);
  initStaff(lazy);
  await applyHandOver(handOver);
  start();
}

void wire().catch((error: unknown) => {
  byId('loading').hidden = true;
  showError(error);
});
