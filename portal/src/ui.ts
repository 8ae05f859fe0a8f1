/** Small DOM helpers: element building, formatting, dialogs with a focus trap, the toast. */

export type Child = Node | string | number | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'number' ? String(child) : child);
  }
  return node;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node as T;
}

/**
 * Gives each cell its column's header as `data-label` (on a phone a row is shown as a card of
 * labelled values: portal.css) and keeps the table's roles explicit, since some browsers drop a
 * table's semantics once its rows are not laid out as a table.
 */
function labelRows(table: HTMLTableElement, rows: HTMLTableRowElement[]): void {
  const headers = [...(table.tHead?.rows[0]?.cells ?? [])];
  if (!table.getAttribute('role')) {
    table.setAttribute('role', 'table');
    for (const group of [table.tHead, ...table.tBodies]) group?.setAttribute('role', 'rowgroup');
    table.tHead?.rows[0]?.setAttribute('role', 'row');
    for (const header of headers) header.setAttribute('role', 'columnheader');
  }
  for (const row of rows) {
    row.setAttribute('role', 'row');
    [...row.cells].forEach((cell, i) => {
      cell.setAttribute('role', 'cell');
      const label = headers[i]?.textContent?.trim();
      if (label && !row.classList.contains('empty')) cell.dataset.label = label;
    });
  }
}

/**
 * Replaces a table's rows. With none, the table shows one row that says why it is empty and
 * what to do (`empty`): every table says it, so every caller must.
 */
export function fillBody(table: HTMLTableElement, rows: HTMLTableRowElement[], empty: Child | Child[]): void {
  if (rows.length === 0) {
    const columns = table.tHead?.rows[0]?.cells.length ?? 1;
    rows = [el('tr', { class: 'empty' }, el('td', { colspan: String(columns) }, ...[empty].flat()))];
  }
  labelRows(table, rows);
  table.tBodies[0]!.replaceChildren(...rows);
}

/** Adds rows under the ones shown (the next page), replacing an empty state. */
export function appendRows(table: HTMLTableElement, rows: HTMLTableRowElement[]): void {
  if (rows.length === 0) return;
  labelRows(table, rows);
  table.tBodies[0]!.querySelector('tr.empty')?.remove();
  table.tBodies[0]!.append(...rows);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });

export function formatDateTime(iso: string | null | undefined): string {
  return iso ? dateTime.format(new Date(iso)) : '—';
}

export function formatDay(iso: string): string {
  return dateOnly.format(new Date(iso));
}

/** "3 hours ago" for recent times, else the date. */
export function formatAgo(iso: string | null | undefined, empty = 'Never'): string {
  if (!iso) return empty;
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (seconds < 3600) return 'Within the hour';
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  if (seconds < 30 * 86_400) return `${Math.floor(seconds / 86_400)} d ago`;
  return formatDateTime(iso);
}

export function badge(text: string, kind: string): HTMLSpanElement {
  return el('span', { class: `badge ${kind}` }, text);
}

export function timeCell(iso: string | null | undefined, text = formatDateTime(iso)): HTMLTableCellElement {
  return el('td', {}, iso ? el('time', { datetime: iso, title: iso }, text) : text);
}

let toastTimer: number | undefined;
export function toast(message: string, kind: 'info' | 'error' = 'info'): void {
  const node = byId('toast');
  node.textContent = message;
  node.className = `toast show ${kind === 'error' ? 'error' : ''}`;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => (node.className = 'toast'), 4000);
}

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * Opens a modal dialog: the page behind is inert, Tab and Shift+Tab cycle inside the dialog,
 * Escape and every `[data-close]` button close it, and focus returns to what opened it.
 */
export function openDialog(dialog: HTMLDialogElement, focus?: HTMLElement): Promise<string> {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : undefined;
  return new Promise((resolve) => {
    const trap = (event: KeyboardEvent) => {
      if (event.key !== 'Tab') return;
      const items = [...dialog.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((n) => !n.closest('[hidden]'));
      if (items.length === 0) return;
      const first = items[0]!;
      const last = items[items.length - 1]!;
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    };
    const closers = [...dialog.querySelectorAll<HTMLElement>('[data-close]')];
    const close = () => dialog.close('cancel');
    const done = () => {
      dialog.removeEventListener('keydown', trap);
      closers.forEach((b) => b.removeEventListener('click', close));
      opener?.focus();
      resolve(dialog.returnValue);
    };
    dialog.addEventListener('keydown', trap);
    closers.forEach((b) => b.addEventListener('click', close));
    dialog.addEventListener('close', done, { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    (focus ?? dialog.querySelector<HTMLElement>(FOCUSABLE))?.focus();
  });
}

export interface ConfirmOptions {
  title: string;
  body: Array<string | HTMLElement>;
  confirmLabel: string;
  /** An optional text input (a reason, a number of hours). */
  input?: { label: string; value?: string; type?: string };
}

/** Asks for confirmation; resolves the input's value (or '') when confirmed, undefined when cancelled. */
export async function confirmAction(options: ConfirmOptions): Promise<string | undefined> {
  const dialog = byId<HTMLDialogElement>('confirm-dialog');
  byId('confirm-title').textContent = options.title;
  byId('confirm-body').replaceChildren(...options.body.map((part) => (typeof part === 'string' ? el('p', {}, part) : part)));
  byId('confirm-ok').textContent = options.confirmLabel;
  const field = byId('confirm-input-field');
  const input = byId<HTMLInputElement>('confirm-input');
  field.hidden = !options.input;
  if (options.input) {
    byId('confirm-input-label').textContent = options.input.label;
    input.type = options.input.type ?? 'text';
    input.value = options.input.value ?? '';
  }
  const form = byId<HTMLFormElement>('confirm-form');
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    dialog.close('confirm');
  };
  form.addEventListener('submit', submit);
  const result = await openDialog(dialog, options.input ? input : byId('confirm-ok'));
  form.removeEventListener('submit', submit);
  return result === 'confirm' ? input.value : undefined;
}

/**
 * A secret shown once: a read-only field and a Copy button. The value is the field's property,
 * never an attribute, so it is not in the serialised DOM.
 */
export function secretRow(value: string, labels: { field: string; copy: string; copied: string }): HTMLDivElement {
  const field = el('input', { readonly: true, 'aria-label': labels.field, spellcheck: 'false', autocomplete: 'off' });
  field.value = value;
  const copy = el('button', { type: 'button', 'aria-label': labels.copy }, 'Copy');
  const copyValue = async () => {
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      field.select();
      document.execCommand('copy');
    }
    copy.textContent = 'Copied';
    toast(labels.copied);
  };
  copy.addEventListener('click', () => void copyValue());
  return el('div', { class: 'secret-row' }, field, copy);
}

/** Shows an error near a form, or as a toast. */
export function showError(error: unknown, target?: HTMLElement): void {
  const message = error instanceof Error ? error.message : 'Something went wrong.';
  if (target) {
    target.textContent = message;
    target.hidden = false;
  } else {
    toast(message, 'error');
  }
}
