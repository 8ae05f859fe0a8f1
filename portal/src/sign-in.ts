import { ApiProblem, type Api } from './api.js';
import { beginSignIn, storeToken } from './session.js';
import type { SignInChoices, SignInToken } from './types.js';
import { byId, el, showError } from './ui.js';

/**
 * Sign-in. Locally the service offers a route (only in local mode, never in Azure) that lists
 * customers and hands out a token for a chosen customer and role. In production the page sends
 * the user to the portal back end (`PORTAL_SIGN_IN_URL`), which hands the token back in the
 * address's fragment, bound to this tab by a one-time state (see docs/operations.md, "Portal sign-in in production").
 */
let wired = false;

interface PortalConfig {
  signInUrl: string | null;
  localSignIn: boolean;
}

export async function showSignIn(api: Api, onSignedIn: () => void, notice?: string): Promise<void> {
  byId('view-sign-in').hidden = false;
  const noticeBox = byId('sign-in-notice');
  noticeBox.textContent = notice ?? '';
  noticeBox.hidden = !notice;
  const config = await api.get<PortalConfig>('/portal/config.json');
  if (!config.localSignIn) {
    byId('sign-in-remote').hidden = false;
    const button = byId<HTMLButtonElement>('sign-in-start');
    button.hidden = !config.signInUrl;
    byId('sign-in-unconfigured').hidden = Boolean(config.signInUrl);
    if (config.signInUrl) {
      const url = config.signInUrl;
      button.onclick = () => beginSignIn(url);
      button.focus();
    }
    return;
  }
  let customers: SignInChoices['customers'];
  try {
    ({ customers } = await api.get<SignInChoices>('/v1/local/sign-in'));
  } catch (error) {
    if (error instanceof ApiProblem && error.status === 404) {
      byId('sign-in-remote').hidden = false;
      return;
    }
    throw error;
  }
  byId('sign-in-local').hidden = false;
  const role = byId<HTMLSelectElement>('sign-in-role');
  const customer = byId<HTMLSelectElement>('sign-in-customer');
  customer.replaceChildren(...customers.map((c) => el('option', { value: c.slug }, `${c.name} (${c.slug})`)));
  const syncRole = () => {
    byId('sign-in-customer-field').hidden = role.value !== 'CustomerAdmin';
    const name = byId<HTMLInputElement>('sign-in-name');
    if (name.value === 'Local admin' || name.value === 'Local staff') name.value = role.value === 'Staff' ? 'Local staff' : 'Local admin';
  };
  syncRole();
  role.focus();
  if (wired) return;
  wired = true;
  role.addEventListener('change', syncRole);
  const signIn = async (event: SubmitEvent) => {
    event.preventDefault();
    const error = byId('sign-in-error');
    error.hidden = true;
    try {
      const { token } = await api.post<SignInToken>('/v1/local/sign-in', {
        role: role.value,
        ...(role.value === 'CustomerAdmin' ? { customer: customer.value } : {}),
        name: byId<HTMLInputElement>('sign-in-name').value,
      });
      storeToken(token);
      byId('view-sign-in').hidden = true;
      onSignedIn();
    } catch (e) {
      showError(e, error);
    }
  };
  byId<HTMLFormElement>('sign-in-form').addEventListener('submit', (event) => void signIn(event));
}
