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

/**
 * In sandbox mode every control that would change something is disabled, with the reason; so is
 * one whose view blocked it (`data-blocked`: why, such as a plan's cap reached).
 */
export function applyWriteState(portal: Portal): void {
  for (const control of document.querySelectorAll<HTMLButtonElement | HTMLSelectElement>('button.write, select.write')) {
    const reason = portal.sandbox ? 'Read-only in sandbox mode: turn it off to change your own account' : control.dataset.blocked;
    control.disabled = Boolean(reason);
    if (reason) control.title = reason;
    else control.removeAttribute('title');
  }
}
