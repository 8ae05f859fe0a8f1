import type { Api } from './api.js';
import type { Claims } from './session.js';
import type { KeyList } from './types.js';

/** What every view gets: the API client, who is signed in, sandbox mode, the last key list. */
export interface Portal {
  api: Api;
  claims: Claims;
  sandbox: boolean;
  keys: KeyList | undefined;
  /** Reads the key list again (after a change) and keeps it for the other views. */
  loadKeyList(): Promise<KeyList>;
}

/** In sandbox mode every control that would change something is disabled, with the reason. */
export function applyWriteState(portal: Portal): void {
  for (const control of document.querySelectorAll<HTMLButtonElement | HTMLSelectElement>('button.write, select.write')) {
    control.disabled = portal.sandbox;
    if (portal.sandbox) control.title = 'Read-only in sandbox mode: turn it off to change your own keys';
    else control.removeAttribute('title');
  }
}
