/** Small DOM helpers: element building, formatting, dialogs with a focus trap, the toast. */

type Child = Node | string | number | null | undefined | false;

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

export function fillBody(table: HTMLTableElement, rows: HTMLTableRowElement[]): void {
  table.tBodies[0]!.replaceChildren(...rows);
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
