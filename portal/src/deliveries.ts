import { applyWriteState, type Portal } from './portal.js';
import type { WebhookAttempt, WebhookDelivery, WebhookDeliveryPage, WebhookEndpoint } from './types.js';
import { appendRows, badge, byId, el, fillBody, formatDateTime, openDialog, showError, timeCell, toast } from './ui.js';

/**
 * The delivery side of an endpoint: its recent deliveries (newest event first) with every attempt
 * (status, response code, duration), a retry for each, and the test event. While a delivery's
 * attempt is due the list reads itself again every second (a while, not for ever), so the outcome
 * of a test or a retry shows without a click.
 */

const STATUS: Record<WebhookDelivery['status'], [string, string]> = {
  delivered: ['Delivered', 'active'],
  failed: ['Failed', 'revoked'],
  pending: ['Pending', 'pending'],
};

/** Why "Send test event" and "Retry" are blocked on a disabled endpoint (the API answers 409 conflict). */
export const DISABLED_REASON = 'The endpoint is disabled: enable it to send to it';

const duration = (ms: number) => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

/** "Delivered: 200 in 35 ms", "Failed: 503 in 1.2 s", "Failed: no answer in 10.0 s"; when; why, if it says. */
function attemptItem(attempt: WebhookAttempt): HTMLLIElement {
  return el(
    'li',
    {},
    `${attempt.status === 'delivered' ? 'Delivered' : 'Failed'}: ${attempt.responseCode ?? 'no answer'} in ${duration(attempt.durationMs)}, `,
    el('time', { datetime: attempt.at, title: attempt.at }, formatDateTime(attempt.at)),
    attempt.error ? el('div', { class: 'muted' }, el('code', {}, attempt.error)) : null,
  );
}

/** The endpoint whose deliveries the dialog shows, and how many more times it may read them again by itself. */
let shown: { portal: Portal; endpoint: WebhookEndpoint; cursor: string | null; rereads: number; timer?: number } | undefined;

function deliveryRow(delivery: WebhookDelivery): HTMLTableRowElement {
  const [text, kind] = STATUS[delivery.status];
  const retry = el(
    'button',
    { type: 'button', class: 'small write', 'aria-label': `Retry ${delivery.eventType} ${delivery.eventId}` },
    'Retry',
  );
  if (shown?.endpoint.status === 'disabled') retry.dataset.blocked = DISABLED_REASON;
  retry.addEventListener('click', () => void retryDelivery(delivery));
  const earlier = delivery.attemptCount - delivery.attempts.length;
  return el(
    'tr',
    { 'data-delivery-id': delivery.id },
    el('td', {}, el('code', {}, delivery.eventType), el('div', {}, el('code', { class: 'muted' }, delivery.eventId))),
    timeCell(delivery.createdAt),
    el(
      'td',
      {},
      badge(text, kind),
      delivery.nextAttemptAt
        ? el(
            'div',
            { class: 'note' },
            'Next attempt ',
            el('time', { datetime: delivery.nextAttemptAt }, formatDateTime(delivery.nextAttemptAt)),
          )
        : null,
    ),
    el(
      'td',
      {},
      delivery.attempts.length ? el('ol', { class: 'attempts' }, ...delivery.attempts.map(attemptItem)) : 'None yet',
      earlier > 0 ? el('div', { class: 'muted' }, `and ${earlier} earlier`) : null,
    ),
    el('td', { class: 'row-actions' }, retry),
  );
}

/** Reads the first page again (or the next one, `more`); keeps focus on the row it was in. */
async function load(more = false): Promise<void> {
  if (!shown) return;
  const view = shown;
  window.clearTimeout(view.timer);
  const query = new URLSearchParams({ limit: '20' });
  if (more && view.cursor) query.set('cursor', view.cursor);
  const page = await view.portal.api.get<WebhookDeliveryPage>(
    `/v1/webhook-endpoints/${encodeURIComponent(view.endpoint.id)}/deliveries?${query}`,
  );
  if (shown !== view) return;
  const table = byId<HTMLTableElement>('deliveries-table');
  const focused = document.activeElement?.closest('tr')?.dataset.deliveryId;
  const rows = page.deliveries.map(deliveryRow);
  if (more) appendRows(table, rows);
  else
    fillBody(
      table,
      rows,
      'No deliveries yet. Events the endpoint receives are listed here as they are sent; “Send test event” sends one now.',
    );
  if (focused) table.querySelector<HTMLElement>(`tr[data-delivery-id="${focused}"] button`)?.focus();
  view.cursor = page.cursor;
  byId('deliveries-more').hidden = !page.cursor;
  applyWriteState(view.portal);
  // An attempt due now: its outcome shows in a moment.
  const due = page.deliveries.some((d) => d.status === 'pending' && Date.parse(d.nextAttemptAt ?? '') <= Date.now() + 1000);
  if (!more && due && view.rereads-- > 0) view.timer = window.setTimeout(() => void load().catch(() => undefined), 1000);
}

/** The endpoint's recent deliveries, in a dialog; the endpoints are read again when it closes (last delivered, failing since). */
export async function showDeliveries(portal: Portal, endpoint: WebhookEndpoint, reload: () => Promise<void>): Promise<void> {
  shown = { portal, endpoint, cursor: null, rereads: 15 };
  byId('deliveries-for').replaceChildren('To ', el('code', {}, endpoint.url));
  try {
    await load();
  } catch (error) {
    shown = undefined;
    showError(error);
    return;
  }
  await openDialog(byId<HTMLDialogElement>('deliveries-dialog'));
  window.clearTimeout(shown?.timer);
  shown = undefined;
  await reload();
}

async function retryDelivery(delivery: WebhookDelivery): Promise<void> {
  if (!shown) return;
  const { portal, endpoint } = shown;
  try {
    await portal.api.post(`/v1/webhook-endpoints/${encodeURIComponent(endpoint.id)}/deliveries/${encodeURIComponent(delivery.id)}/retry`);
    toast(`Retrying ${delivery.eventType} now: the same event, under the same webhook-id.`);
  } catch (error) {
    showError(error);
  }
  shown.rereads = 15;
  await load().catch((error: unknown) => showError(error));
}

/** Sends `webhook.test` to the endpoint, then shows its deliveries (the test's outcome shows there in a moment). */
export async function sendTest(portal: Portal, endpoint: WebhookEndpoint, reload: () => Promise<void>): Promise<void> {
  try {
    await portal.api.post(`/v1/webhook-endpoints/${encodeURIComponent(endpoint.id)}/test`);
    toast(`Sent a test event to “${endpoint.description ?? endpoint.url}”.`);
  } catch (error) {
    showError(error);
    return;
  }
  await showDeliveries(portal, endpoint, reload);
}

export function initDeliveries(): void {
  byId('deliveries-refresh').addEventListener('click', () => {
    if (shown) shown.rereads = 15;
    void load().catch((error: unknown) => showError(error));
  });
  byId('deliveries-more').addEventListener('click', () => void load(true).catch((error: unknown) => showError(error)));
}
