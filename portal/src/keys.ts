import { ApiProblem } from './api.js';
import { applyWriteState, type Portal } from './portal.js';
import type { IssuedKey, Key, KeySettings, ResetResult, RolledKey } from './types.js';
import {
  badge,
  byId,
  confirmAction,
  el,
  fillBody,
  formatAgo,
  formatDateTime,
  openDialog,
  secretRow,
  showError,
  timeCell,
  toast,
} from './ui.js';

/** The key table, Issue New Key, the show-once dialog, revoke and reset. */

const TYPE_NAMES: Record<Key['type'], string> = { primary: 'Primary', secondary: 'Secondary', management: 'Management' };

/** Where a key was found first: a link when the report named an address. */
function exposureLink(key: Key): HTMLElement | null {
  const first = key.exposure?.places[0];
  if (!first) return null;
  const where = first.url
    ? el('a', { href: first.url, target: '_blank', rel: 'noopener noreferrer nofollow' }, first.url)
    : el('span', {}, `a ${first.source} on GitHub`);
  const more = key.exposure!.count > 1 ? ` and ${key.exposure!.count - 1} more place(s)` : '';
  return el('span', { class: 'exposure' }, where, more);
}

/** Exposed keys first, the most recently reported on top; the others in the API's order. */
const exposedFirst = (keys: Key[]): Key[] =>
  [...keys].sort((a, b) => (b.exposure?.places.at(-1)?.reportedAt ?? '').localeCompare(a.exposure?.places.at(-1)?.reportedAt ?? ''));

/** "in 3 h", "in 2 d", or the date; "Expired" once past. */
function formatExpiry(iso: string): string {
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  if (seconds <= 0) return 'Expired';
  if (seconds < 3600) return `in ${Math.max(1, Math.ceil(seconds / 60))} min`;
  if (seconds < 2 * 86_400) return `in ${Math.ceil(seconds / 3600)} h`;
  if (seconds < 60 * 86_400) return `in ${Math.ceil(seconds / 86_400)} d`;
  return formatDateTime(iso);
}

function keyRow(portal: Portal, key: Key, withActions: boolean): HTMLTableRowElement {
  const successor = key.rolledTo ? portal.keys?.keys.find((k) => k.id === key.rolledTo) : undefined;
  const row = el(
    'tr',
    { 'data-key-id': key.id, class: key.exposure ? 'exposed' : undefined },
    el('td', {}, el('code', {}, key.displayPrefix)),
    el(
      'td',
      {},
      key.label,
      key.stale ? badge('stale', 'stale') : null,
      key.rotationDue ? badge('rotation due', 'rotation') : null,
      key.status === 'active' && key.rolledTo ? badge('rolling out', 'rolling') : null,
      key.exposure ? badge('Exposed publicly', 'exposed') : null,
      key.exposure ? el('div', { class: 'muted small' }, exposureLink(key)) : null,
      key.rolledTo ? el('div', { class: 'muted small' }, `replaced by ${successor?.displayPrefix ?? key.rolledTo}`) : null,
      key.rolledFrom ? el('div', { class: 'muted small' }, 'replaces a rolled key') : null,
    ),
    el('td', {}, key.application),
    el('td', {}, TYPE_NAMES[key.type]),
    el('td', {}, key.environment === 'live' ? 'Live' : 'Test'),
    timeCell(key.createdAt),
    el('td', {}, key.createdBy.name),
    timeCell(key.lastUsedAt, formatAgo(key.lastUsedAt)),
    key.status === 'active' && key.expiresAt ? timeCell(key.expiresAt, formatExpiry(key.expiresAt)) : el('td', {}, '—'),
    el('td', {}, badge(key.status === 'active' ? 'Active' : 'Revoked', key.status)),
  );
  if (withActions) {
    const revoke = el('button', { type: 'button', class: 'danger small write', 'aria-label': `Revoke key ${key.label}` }, 'Revoke');
    revoke.addEventListener('click', () => void revokeKey(portal, key));
    const cell = el('td', { class: 'row-actions' });
    // A key rolling out, or one whose predecessor still is, cannot be rolled (the API answers key_rolling_out).
    const predecessorRollingOut = key.rolledFrom && portal.keys?.keys.some((k) => k.id === key.rolledFrom && k.status === 'active');
    if (!key.rolledTo && !predecessorRollingOut) {
      const roll = el('button', { type: 'button', class: 'small write', 'aria-label': `Roll key ${key.label}` }, 'Roll');
      roll.addEventListener('click', () => void rollKey(portal, key));
      cell.append(roll, ' ');
    }
    cell.append(revoke);
    row.append(cell);
  }
  return row;
}

export async function loadKeys(portal: Portal): Promise<void> {
  const list = await portal.loadKeyList();
  const active = exposedFirst(list.keys.filter((k) => k.status === 'active'));
  const revoked = exposedFirst(list.keys.filter((k) => k.status === 'revoked'));
  showExposed(list.keys.filter((k) => k.exposure));
  void loadPolicy(portal);
  byId('keys-summary').textContent =
    `${list.activeKeyCount} of ${list.keyLimit} active keys${list.sandbox ? ' · shared sandbox (read-only)' : ` · ${list.customer}`}`;
  fillBody(
    byId<HTMLTableElement>('keys-table'),
    active.map((k) => keyRow(portal, k, true)),
    list.sandbox
      ? 'The shared sandbox has no active keys. Sandbox mode is read-only: turn it off to issue keys for your own account.'
      : 'No active keys, so no integration can send data. Issue one with “Issue new key” above.',
  );
  fillBody(
    byId<HTMLTableElement>('revoked-table'),
    revoked.map((k) => keyRow(portal, k, false)),
    list.sandbox
      ? 'The shared sandbox has no revoked keys.'
      : 'No revoked keys. Keys you revoke, and keys replaced by a roll or a reset, are listed here.',
  );
  byId('revoked-count').textContent = String(revoked.length);
  byId<HTMLButtonElement>('new-key').dataset.full = String(list.activeKeyCount >= list.keyLimit);
  applyWriteState(portal);
}

/** The alert above the tables: every key found in public, with where and what happened to it. */
function showExposed(keys: Key[]): void {
  byId('exposed-keys').hidden = keys.length === 0;
  byId('exposed-list').replaceChildren(
    ...exposedFirst(keys).map((key) =>
      el(
        'li',
        { 'data-key-id': key.id },
        el('strong', {}, key.label),
        ` (${key.displayPrefix}): found at `,
        exposureLink(key),
        key.status === 'revoked'
          ? ` · revoked by ${key.revokedBy?.name ?? 'us'}, ${formatDateTime(key.revokedAt)}`
          : ' · still active: revoke it and issue a replacement',
      ),
    ),
  );
}

async function loadPolicy(portal: Portal): Promise<void> {
  const select = byId<HTMLSelectElement>('leaked-key-policy');
  try {
    const settings = await portal.api.get<KeySettings>('/v1/customer-keys/settings');
    select.value = settings.leakedKeyPolicy;
  } catch (error) {
    showError(error);
  }
}

async function savePolicy(portal: Portal): Promise<void> {
  const select = byId<HTMLSelectElement>('leaked-key-policy');
  try {
    const settings = await portal.api.patch<KeySettings>('/v1/customer-keys/settings', { leakedKeyPolicy: select.value });
    select.value = settings.leakedKeyPolicy;
    toast(
      settings.leakedKeyPolicy === 'revoke'
        ? 'Keys found in public will be revoked at once.'
        : 'Keys found in public will keep working and be flagged here.',
    );
  } catch (error) {
    showError(error);
    await loadPolicy(portal);
  }
}

/** The full key(s), once: a copy button each, then gone from the page when the dialog closes. */
export async function showOnce(issued: IssuedKey[]): Promise<void> {
  const list = byId('show-once-list');
  byId('show-once-title').textContent = issued.length === 1 ? 'Your new key' : `Your ${issued.length} new keys`;
  list.replaceChildren(
    ...issued.map(({ key, metadata }) =>
      el(
        'li',
        {},
        el('strong', {}, metadata.label),
        secretRow(key, {
          field: `Full key for ${metadata.label}`,
          copy: `Copy key ${metadata.label}`,
          copied: `Copied the key “${metadata.label}”.`,
        }),
      ),
    ),
  );
  await openDialog(byId<HTMLDialogElement>('show-once-dialog'), list.querySelector('button') ?? undefined);
  list.replaceChildren();
}

function setFieldError(name: 'label' | 'application', message: string | undefined): void {
  const input = byId<HTMLInputElement>(`new-key-${name}`);
  const error = byId(`new-key-${name}-error`);
  error.textContent = message ?? '';
  error.hidden = !message;
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

async function issueNewKey(portal: Portal): Promise<void> {
  const form = byId<HTMLFormElement>('new-key-form');
  form.reset();
  setFieldError('label', undefined);
  setFieldError('application', undefined);
  byId('new-key-error').hidden = true;
  const list = portal.keys;
  if (list && list.activeKeyCount >= list.keyLimit) {
    byId('new-key-error').textContent =
      `You have ${list.activeKeyCount} of ${list.keyLimit} active keys, the most your plan allows. Revoke a key you no longer use first.`;
    byId('new-key-error').hidden = false;
  }
  const dialog = byId<HTMLDialogElement>('new-key-dialog');
  let issued: IssuedKey | undefined;
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const data = new FormData(form);
    const field = (name: string) => {
      const value = data.get(name);
      return typeof value === 'string' ? value.trim() : '';
    };
    const label = field('label');
    const application = field('application');
    setFieldError('label', label ? undefined : 'A label is required: it is how you will recognise this key later.');
    setFieldError('application', application ? undefined : 'Name the application that will send data with this key.');
    const taken = portal.keys?.keys.some((k) => k.status === 'active' && k.label.toLowerCase() === label.toLowerCase());
    if (label && taken) setFieldError('label', `You already have a key labelled “${label}”. Choose a label that names this integration.`);
    if (!label || !application || taken) {
      byId<HTMLInputElement>(!label || taken ? 'new-key-label' : 'new-key-application').focus();
      return;
    }
    try {
      issued = await portal.api.post<IssuedKey>('/v1/customer-keys/issue', {
        label,
        application,
        environment: data.get('environment'),
        type: data.get('type'),
      });
      dialog.close('issued');
    } catch (error) {
      if (error instanceof ApiProblem && error.code === 'label_taken') {
        setFieldError('label', error.detail);
        byId('new-key-label').focus();
      } else if (error instanceof ApiProblem && error.code === 'validation_failed' && error.errors.length) {
        for (const e of error.errors) {
          const name = e.path.split('.').pop();
          if (name === 'label' || name === 'application') setFieldError(name, e.message);
        }
      } else {
        showError(error, byId('new-key-error'));
      }
    }
  };
  const onSubmit = (event: SubmitEvent) => void submit(event);
  form.addEventListener('submit', onSubmit);
  await openDialog(dialog, byId('new-key-label'));
  form.removeEventListener('submit', onSubmit);
  if (issued) {
    await showOnce([issued]);
    await loadKeys(portal);
    byId('keys-table').querySelector<HTMLElement>(`tr[data-key-id="${issued.metadata.id}"] button`)?.focus();
  }
}

/** Roll: the overlap choice, then the new key once; the old one stays listed as rolling out. */
async function rollKey(portal: Portal, key: Key): Promise<void> {
  const dialog = byId<HTMLDialogElement>('roll-dialog');
  const form = byId<HTMLFormElement>('roll-form');
  byId('roll-title').textContent = `Roll “${key.label}”`;
  const list = portal.keys;
  const full = list !== undefined && list.activeKeyCount >= list.keyLimit;
  byId('roll-help').textContent =
    `A new key replaces “${key.label}” (${key.displayPrefix}): same label, application, type and allowlist. The old key keeps working for the overlap you choose, so integrations can switch without downtime; then it stops. Until then both keys count against your key limit` +
    (full
      ? `, which is full (${list.activeKeyCount} of ${list.keyLimit}): choose no overlap, or revoke a key you no longer use first.`
      : '.');
  byId('roll-error').hidden = true;
  let rolled: RolledKey | undefined;
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    try {
      rolled = await portal.api.post<RolledKey>(`/v1/customer-keys/${encodeURIComponent(key.id)}/roll`, {
        overlapHours: Number(byId<HTMLSelectElement>('roll-overlap').value),
      });
      dialog.close('rolled');
    } catch (error) {
      showError(error, byId('roll-error'));
    }
  };
  const onSubmit = (event: SubmitEvent) => void submit(event);
  form.addEventListener('submit', onSubmit);
  await openDialog(dialog, byId('roll-overlap'));
  form.removeEventListener('submit', onSubmit);
  if (!rolled) return;
  await showOnce([{ key: rolled.key, metadata: rolled.metadata }]);
  toast(
    rolled.old.status === 'revoked'
      ? `Rolled “${key.label}”: the old key stopped.`
      : `Rolled “${key.label}”: the old key works until ${formatDateTime(rolled.old.expiresAt)}.`,
  );
  await loadKeys(portal);
}

async function revokeKey(portal: Portal, key: Key): Promise<void> {
  const active = portal.keys?.keys.filter((k) => k.status === 'active') ?? [];
  const last = active.length === 1 && active[0]!.id === key.id;
  const body: Array<string | HTMLElement> = [
    `The key “${key.label}” (${key.displayPrefix}) stops working within seconds. Integrations that use it get 401 until they switch to another key. This cannot be undone.`,
  ];
  if (last) {
    body.push(
      el(
        'p',
        { class: 'warning' },
        el('strong', {}, 'This is your last active key. '),
        'Revoking it locks out every integration until you issue a new key.',
      ),
    );
  }
  const confirmed = await confirmAction({
    title: `Revoke “${key.label}”?`,
    body,
    confirmLabel: last ? 'Revoke and lock out every integration' : 'Revoke key',
  });
  if (confirmed === undefined) return;
  try {
    await portal.api.delete(`/v1/customer-keys/${encodeURIComponent(key.id)}${last ? '?force=true' : ''}`);
    toast(`Revoked “${key.label}”.`);
  } catch (error) {
    showError(error);
  }
  await loadKeys(portal);
}

async function resetAll(portal: Portal): Promise<void> {
  const count = portal.keys?.activeKeyCount ?? 0;
  const confirmed = await confirmAction({
    title: 'Reset all keys?',
    body: [
      `Each of your ${count} active keys is replaced by a new key with the same label, application and type. The old keys stop working at once, so every integration needs its new key.`,
      'The new keys are shown once, on the next screen.',
    ],
    confirmLabel: `Reset ${count} keys`,
  });
  if (confirmed === undefined) return;
  try {
    const result = await portal.api.post<ResetResult>('/v1/customer-keys/reset');
    await showOnce(result.keys);
  } catch (error) {
    showError(error);
  }
  await loadKeys(portal);
}

export function initKeys(portal: Portal): void {
  byId('new-key').addEventListener('click', () => void issueNewKey(portal));
  byId('reset-keys').addEventListener('click', () => void resetAll(portal));
  byId('leaked-key-policy').addEventListener('change', () => void savePolicy(portal));
}
