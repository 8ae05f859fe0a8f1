import type { Portal } from './portal.js';
import type { Session, SessionPage } from './types.js';
import { appendRows, badge, byId, el, fillBody, timeCell, type Child } from './ui.js';

/** The decisions explorer: the customer's ingested sessions, filterable by key label, paged. */

let cursor: string | null = null;

function row(session: Session): HTMLTableRowElement {
  return el(
    'tr',
    {},
    el('td', {}, el('code', {}, session.sessionId)),
    el('td', {}, session.keyLabel),
    el('td', {}, session.serviceName ?? '—'),
    el('td', {}, session.environment === 'live' ? 'Live' : 'Test', session.sandbox ? badge('sandbox', 'stale') : null),
    el('td', { class: 'num' }, session.spanCount),
    timeCell(session.firstReceivedAt),
    timeCell(session.lastReceivedAt),
  );
}

/** Why there are no sessions to show, and what to do about it. */
function noSessions(portal: Portal, label: string): Child[] {
  const docs = el('a', { href: '/docs' }, '/docs');
  if (portal.sandbox) return ['No sessions in the shared sandbox.'];
  if (label) return [`No sessions from the key labelled “${label}”. Choose All keys, or send traces with that key.`];
  const traces = el('code', {}, 'POST /v1/traces');
  if (!portal.keys?.keys.some((k) => k.status === 'active')) {
    return ['No sessions yet. Issue a key on the Keys tab, then send traces with it to ', traces, ' (see ', docs, ').'];
  }
  return ['No sessions yet. They appear here once an integration sends traces to ', traces, ' with one of your keys (see ', docs, ').'];
}

async function loadSessions(portal: Portal, append: boolean): Promise<void> {
  const query = new URLSearchParams({ limit: '50' });
  const label = byId<HTMLSelectElement>('decisions-label').value;
  if (label) query.set('keyLabel', label);
  if (append && cursor) query.set('cursor', cursor);
  const page = await portal.api.get<SessionPage>(`/v1/sessions?${query}`);
  const table = byId<HTMLTableElement>('decisions-table');
  if (append) appendRows(table, page.sessions.map(row));
  else fillBody(table, page.sessions.map(row), noSessions(portal, label));
  cursor = page.cursor;
  byId('decisions-more').hidden = !cursor;
}

export async function loadDecisions(portal: Portal): Promise<void> {
  const list = portal.keys ?? (await portal.loadKeyList());
  const select = byId<HTMLSelectElement>('decisions-label');
  const previous = select.value;
  const labels = [...new Set(list.keys.map((k) => k.label))].sort((a, b) => a.localeCompare(b));
  select.replaceChildren(el('option', { value: '' }, 'All keys'), ...labels.map((l) => el('option', { value: l }, l)));
  select.value = labels.includes(previous) ? previous : '';
  await loadSessions(portal, false);
}

export function initDecisions(portal: Portal): void {
  byId('decisions-label').addEventListener('change', () => void loadSessions(portal, false));
  byId('decisions-more').addEventListener('click', () => void loadSessions(portal, true));
}
