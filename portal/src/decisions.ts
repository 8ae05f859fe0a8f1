import type { Portal } from './portal.js';
import type { Session, SessionPage } from './types.js';
import { badge, byId, el, fillBody, timeCell } from './ui.js';

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

async function loadSessions(portal: Portal, append: boolean): Promise<void> {
  const query = new URLSearchParams({ limit: '50' });
  const label = byId<HTMLSelectElement>('decisions-label').value;
  if (label) query.set('keyLabel', label);
  if (append && cursor) query.set('cursor', cursor);
  const page = await portal.api.get<SessionPage>(`/v1/sessions?${query}`);
  const table = byId<HTMLTableElement>('decisions-table');
  if (append) table.tBodies[0]!.append(...page.sessions.map(row));
  else fillBody(table, page.sessions.map(row));
  byId('decisions-empty').hidden = table.tBodies[0]!.rows.length > 0;
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
