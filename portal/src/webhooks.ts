import { ApiProblem } from './api.js';
import { DISABLED_REASON, initDeliveries, sendTest, showDeliveries } from './deliveries.js';
import { applyWriteState, type Portal } from './portal.js';
import type { WebhookEndpoint, WebhookEndpointList, WebhookEndpointWithSecret } from './types.js';
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
  type Child,
} from './ui.js';

/**
 * Webhooks: the customer's endpoints (list, add, enable or disable, rotate the signing secret,
 * delete) under the plan's cap. A signing secret is shown once, by the call that makes it.
 * Its deliveries (the test event, recent deliveries, retry) are deliveries.ts's.
 */

type EventType = Exclude<WebhookEndpoint['events'][number], '*'>;

/** Every event type the API knows (the compiler asks for a new one here), as the form describes it. */
const EVENTS: Record<EventType, string> = {
  'key.issued': 'a key was issued',
  'key.updated': 'a key’s expiry or IP allowlist changed',
  'key.revoked': 'a key stopped working, with the reason',
  'key.rolled': 'a key was rolled to a successor',
  'key.exposed': 'a key was found in public, with where',
  'key.expiring': 'a key expires in 7 days, then in 1 day',
  'key.stale': 'a key went unused for 30 days',
  'key.rotation_completed': 'after a roll, the old key went quiet',
  'tenant_key.rotated': 'your master component was rotated',
  'tenant_key.grace_ended': 'the previous master component stopped working',
  'key_request.created': 'a key request was filed',
  'key_request.executed': 'a key request was carried out',
  'key_request.rejected': 'a key request was turned down',
  'webhook.test': 'what “Send test event” sends',
};
/** What the form offers: a test event goes to the endpoint it is sent to, whatever that endpoint lists. */
const CHOICES = (Object.keys(EVENTS) as EventType[]).filter((type) => type !== 'webhook.test');

/** The form's fields by the API's names (an error's path starts with one), each with the name a message starts with. */
const FIELDS = { url: 'URL', events: 'Events', description: 'Description' } as const;
type Field = keyof typeof FIELDS;
const FIELD_NAMES = Object.keys(FIELDS) as Field[];

/** The element a field's error is about: the events' fieldset, or the field's input. */
const input = (field: Field) => byId<HTMLInputElement>(`wh-${field}`);

function setFieldError(field: Field, message: string | undefined): void {
  const error = byId(`wh-${field}-error`);
  error.textContent = message ?? '';
  error.hidden = !message;
  if (message) input(field).setAttribute('aria-invalid', 'true');
  else input(field).removeAttribute('aria-invalid');
}

/** "URL must be https", "Events must name at least one event type…": the API's message after the field's name. */
const fieldMessage = (field: Field, message: string) =>
  message.startsWith('must ') ? `${FIELDS[field]} ${message}` : `${FIELDS[field]}: ${message}`;

/** What people call an endpoint: its description, else its URL. */
const nameOf = (endpoint: WebhookEndpoint) => endpoint.description ?? endpoint.url;

/** Status, and what goes with it: why it is disabled, since when it fails, a previous secret still signing. */
function statusCell(endpoint: WebhookEndpoint): HTMLTableCellElement {
  const when = (iso: string | null) => (iso ? el('time', { datetime: iso, title: iso }, formatDateTime(iso)) : '');
  const notes: Child[] = [];
  if (endpoint.status === 'disabled') {
    notes.push(
      endpoint.disabledReason === 'failing'
        ? el(
            'div',
            { class: 'note' },
            'Disabled ',
            when(endpoint.disabledAt),
            ': its deliveries failed for 3 days. Fix the receiver, then enable it.',
          )
        : el('div', { class: 'note' }, 'Disabled by an admin ', when(endpoint.disabledAt), '. Enable it to receive events again.'),
    );
  }
  if (endpoint.failingSince) notes.push(el('div', { class: 'note' }, 'Failing since ', when(endpoint.failingSince)));
  if (endpoint.previousSecretExpiresAt) {
    notes.push(el('div', { class: 'muted note' }, 'Previous secret signs until ', when(endpoint.previousSecretExpiresAt)));
  }
  const [text, kind] =
    endpoint.status === 'disabled' ? ['Disabled', 'revoked'] : endpoint.failingSince ? ['Failing', 'stale'] : ['Active', 'active'];
  return el('td', { class: 'status' }, badge(text, kind), ...notes);
}

function endpointRow(portal: Portal, endpoint: WebhookEndpoint): HTMLTableRowElement {
  const name = nameOf(endpoint);
  const button = (label: string, action: string, run: () => Promise<void>, kind = 'write', aria = `${label} ${name}`) => {
    const node = el('button', { type: 'button', class: `small ${kind}`, 'data-action': action, 'aria-label': aria }, label);
    node.addEventListener('click', () => void run());
    return node;
  };
  const disabled = endpoint.status === 'disabled';
  // After a dialog on the endpoint closes: the list read again, the focus back on the button that opened it.
  const reload = async () => {
    const action = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.action : undefined;
    await loadWebhooks(portal);
    if (action) focusOn(endpoint.id, action);
  };
  const test = button('Send test event', 'test', () => sendTest(portal, endpoint, reload), 'write', `Send a test event to ${name}`);
  if (disabled) test.dataset.blocked = DISABLED_REASON;
  const created = timeCell(endpoint.createdAt);
  created.append(el('div', { class: 'muted' }, `by ${endpoint.createdBy.name}`));
  return el(
    'tr',
    { 'data-endpoint-id': endpoint.id },
    el('td', {}, endpoint.description ? el('div', {}, endpoint.description) : null, el('code', {}, endpoint.url)),
    el(
      'td',
      {},
      endpoint.events[0] === '*'
        ? 'All events'
        : el('ul', { class: 'claims' }, ...endpoint.events.map((type) => el('li', {}, el('code', {}, type)))),
    ),
    statusCell(endpoint),
    timeCell(endpoint.lastSuccessAt, formatAgo(endpoint.lastSuccessAt)),
    created,
    el(
      'td',
      { class: 'row-actions' },
      el(
        'div',
        { class: 'actions' },
        button(disabled ? 'Enable' : 'Disable', 'toggle', () => setEnabled(portal, endpoint, disabled)),
        test,
        button('Deliveries', 'deliveries', () => showDeliveries(portal, endpoint, reload), '', `Recent deliveries to ${name}`),
        button('Rotate secret', 'rotate', () => rotateSecret(portal, endpoint)),
        button('Delete', 'delete', () => deleteEndpoint(portal, endpoint), 'write danger'),
      ),
    ),
  );
}

/** What the empty table says: what an endpoint is, and where to read more. */
function noEndpoints(portal: Portal): Child[] {
  if (portal.sandbox) return ['The shared sandbox has no webhook endpoints. Sandbox mode is read-only: turn it off to manage your own.'];
  return [
    'No webhook endpoints. An endpoint is an https URL of yours that key events are POSTed to as they happen (a key revoked, found in public, about to expire), signed so that your receiver can check they come from us. Add one with “Add endpoint” above (see ',
    el('a', { href: '/docs#/Webhooks' }, '/docs'),
    ').',
  ];
}

export async function loadWebhooks(portal: Portal): Promise<void> {
  const list = await portal.api.get<WebhookEndpointList>('/v1/webhook-endpoints');
  const { webhookEndpointCount: count, webhookEndpointLimit: limit } = list;
  byId('webhooks-summary').textContent =
    `${count} of ${limit} endpoints${list.sandbox ? ' · shared sandbox (read-only)' : ` · ${list.customer}`}`;
  // At the plan's cap the button is disabled, and says why beside it.
  const reason =
    list.sandbox || count < limit
      ? ''
      : `You have ${count} of ${limit} webhook endpoints, the most your plan allows (disabled ones count): delete one to add another.`;
  const cap = byId('webhook-cap');
  cap.textContent = reason;
  cap.hidden = !reason;
  const button = byId('new-webhook');
  if (reason) button.dataset.blocked = reason;
  else delete button.dataset.blocked;
  fillBody(
    byId<HTMLTableElement>('webhooks-table'),
    list.webhookEndpoints.map((e) => endpointRow(portal, e)),
    noEndpoints(portal),
  );
  applyWriteState(portal);
}

/** Puts focus on one of the endpoint's buttons, else (it is gone) on the next control that can act. */
function focusOn(id: string, action: string): void {
  const table = byId('webhooks-table');
  const next = [
    table.querySelector<HTMLButtonElement>(`tr[data-endpoint-id="${id}"] button[data-action="${action}"]`),
    byId<HTMLButtonElement>('new-webhook'),
    ...table.querySelectorAll<HTMLButtonElement>('tbody button'),
    byId('main'),
  ];
  next.find((n) => n && !(n as HTMLButtonElement).disabled)?.focus();
}

/**
 * The signing secret, once, with a copy button: gone from the page when the dialog closes. After a
 * rotation it says until when the previous secret keeps signing.
 */
async function showSecret(endpoint: WebhookEndpointWithSecret, rotated: boolean): Promise<void> {
  byId('webhook-secret-title').textContent = rotated ? 'New signing secret' : 'Signing secret';
  byId('webhook-secret-for').replaceChildren('For ', el('code', {}, endpoint.url));
  const value = byId('webhook-secret-value');
  value.replaceChildren(
    secretRow(endpoint.secret, {
      field: `Signing secret for ${nameOf(endpoint)}`,
      copy: `Copy the signing secret for ${nameOf(endpoint)}`,
      copied: 'Copied the signing secret.',
    }),
  );
  const note = byId('webhook-secret-note');
  const until = rotated ? endpoint.previousSecretExpiresAt : null;
  note.hidden = !until;
  note.textContent = until
    ? `The previous secret keeps signing for 24 hours, until ${formatDateTime(until)}: each delivery carries both signatures until then, so switch your receiver to this one before then.`
    : '';
  await openDialog(byId<HTMLDialogElement>('webhook-secret-dialog'), value.querySelector('button') ?? undefined);
  value.replaceChildren();
}

/** The events the form names: `["*"]`, or the types ticked (none: the API says what is wrong). */
function chosenEvents(form: HTMLFormElement): string[] {
  const data = new FormData(form);
  return data.get('scope') === 'all' ? ['*'] : data.getAll('events').map(String);
}

/** The event checkboxes can be ticked only under “Only these”. */
function syncScope(form: HTMLFormElement): void {
  const some = new FormData(form).get('scope') === 'some';
  for (const box of byId('wh-event-list').querySelectorAll('input')) box.disabled = !some;
}

async function createEndpoint(portal: Portal): Promise<void> {
  const form = byId<HTMLFormElement>('webhook-form');
  const formError = byId('webhook-error');
  const clear = () => {
    FIELD_NAMES.forEach((f) => setFieldError(f, undefined));
    formError.hidden = true;
  };
  form.reset();
  syncScope(form);
  clear();
  const dialog = byId<HTMLDialogElement>('webhook-dialog');
  let created: WebhookEndpointWithSecret | undefined;
  let capReached = false;
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    clear();
    const text = (name: Field) => {
      const entry = new FormData(form).get(name);
      return typeof entry === 'string' ? entry.trim() : '';
    };
    const description = text('description');
    try {
      created = await portal.api.post<WebhookEndpointWithSecret>('/v1/webhook-endpoints', {
        url: text('url'),
        events: chosenEvents(form),
        ...(description ? { description } : {}),
      });
      dialog.close('created');
      return;
    } catch (error) {
      // The API's own words: under the field each is about, or (the plan's cap, say) above the buttons.
      const messages = new Map<Field, string[]>();
      if (error instanceof ApiProblem && error.code === 'validation_failed' && error.errors.length) {
        for (const e of error.errors) {
          const field = FIELD_NAMES.find((f) => f === e.path.split('.')[0]);
          if (field) messages.set(field, [...(messages.get(field) ?? []), fieldMessage(field, e.message)]);
          else showError(error, formError);
        }
      } else showError(error, formError);
      if (error instanceof ApiProblem && error.code === 'webhook_endpoint_limit_reached') capReached = true;
      for (const [field, texts] of messages) setFieldError(field, texts.join('\n')); // a line each (pre-line)
      const invalid = FIELD_NAMES.map(input).find((i) => i.getAttribute('aria-invalid'));
      (invalid?.querySelector<HTMLElement>('input:not(:disabled)') ?? invalid)?.focus();
    }
  };
  const onSubmit = (event: SubmitEvent) => void submit(event);
  form.addEventListener('submit', onSubmit);
  await openDialog(dialog, input('url'));
  form.removeEventListener('submit', onSubmit);
  if (capReached && !created) await loadWebhooks(portal);
  if (!created) return;
  await loadWebhooks(portal);
  await showSecret(created, false);
  toast(`Added the endpoint “${nameOf(created)}”.`);
  focusOn(created.id, 'toggle');
}

async function setEnabled(portal: Portal, endpoint: WebhookEndpoint, enabled: boolean): Promise<void> {
  try {
    await portal.api.patch(`/v1/webhook-endpoints/${encodeURIComponent(endpoint.id)}`, { enabled });
    toast(
      enabled
        ? `Enabled the endpoint “${nameOf(endpoint)}”.`
        : `Disabled the endpoint “${nameOf(endpoint)}”: it receives no events until you enable it.`,
    );
  } catch (error) {
    showError(error);
  }
  await loadWebhooks(portal);
  focusOn(endpoint.id, 'toggle');
}

async function rotateSecret(portal: Portal, endpoint: WebhookEndpoint): Promise<void> {
  const confirmed = await confirmAction({
    title: `Rotate the signing secret of “${nameOf(endpoint)}”?`,
    body: [
      'A new secret is made and shown once. The current one keeps signing beside it for 24 hours (each delivery then carries both signatures), so that your receiver can switch without missing a delivery.',
      'Rotating again within those 24 hours stops the oldest secret at once.',
    ],
    confirmLabel: 'Rotate secret',
  });
  if (confirmed === undefined) return;
  let rotated: WebhookEndpointWithSecret | undefined;
  try {
    rotated = await portal.api.post<WebhookEndpointWithSecret>(`/v1/webhook-endpoints/${encodeURIComponent(endpoint.id)}/rotate-secret`);
  } catch (error) {
    showError(error);
  }
  await loadWebhooks(portal);
  if (rotated) {
    await showSecret(rotated, true);
    toast(`Rotated the signing secret of “${nameOf(endpoint)}”.`);
  }
  focusOn(endpoint.id, 'rotate');
}

async function deleteEndpoint(portal: Portal, endpoint: WebhookEndpoint): Promise<void> {
  const confirmed = await confirmAction({
    title: `Delete the endpoint “${nameOf(endpoint)}”?`,
    body: [
      el('p', {}, 'Events are no longer sent to ', el('code', {}, endpoint.url), '.'),
      'This cannot be undone: to receive them again, add the endpoint anew (it gets a new secret).',
    ],
    confirmLabel: 'Delete endpoint',
  });
  if (confirmed === undefined) return;
  try {
    await portal.api.delete(`/v1/webhook-endpoints/${encodeURIComponent(endpoint.id)}`);
    toast(`Deleted the endpoint “${nameOf(endpoint)}”.`);
  } catch (error) {
    showError(error);
  }
  await loadWebhooks(portal);
  focusOn(endpoint.id, 'delete');
}

export function initWebhooks(portal: Portal): void {
  const form = byId<HTMLFormElement>('webhook-form');
  byId('wh-event-list').replaceChildren(
    ...CHOICES.map((type) =>
      el(
        'li',
        {},
        el(
          'label',
          { class: 'check' },
          el('input', { type: 'checkbox', name: 'events', value: type }),
          el('span', {}, el('code', {}, type), ` ${EVENTS[type]}`),
        ),
      ),
    ),
  );
  form.addEventListener('change', () => syncScope(form));
  initDeliveries();
  byId('new-webhook').addEventListener('click', () => void createEndpoint(portal));
}
