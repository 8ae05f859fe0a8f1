import type { Portal } from './portal.js';
import type { AuditEvent, AuditPage, KeyRequest, RequestList } from './types.js';
import { appendRows, badge, byId, el, fillBody, timeCell, type Child } from './ui.js';

/** The customer's key requests with their status, and the audit log (newest first, paged). */

const ACTIONS: Record<KeyRequest['action'], string> = {
  'issue-key': 'Issue a key',
  'revoke-key': 'Revoke a key',
  'roll-key': 'Roll a key',
  'rotate-tenant-key': 'Rotate the master component',
};

/**
 * The event's scalar details, `name: value` each. Ids, a key's display prefix and addresses (a
 * trust policy's id, issuer, subject) are code: on a phone they may break anywhere, and words may not.
 */
function details(event: AuditEvent): Child[] {
  return Object.entries(event.details ?? {})
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .flatMap(([k, v], i) => {
      const value = String(v);
      return [i ? ', ' : '', `${k}: `, /(Id|Prefix)$/.test(k) || /^\S*[:/]\S*$/.test(value) ? el('code', {}, value) : value];
    });
}

let cursor: string | null = null;

function auditRow(event: AuditEvent): HTMLTableRowElement {
  return el(
    'tr',
    {},
    timeCell(event.at),
    el('td', {}, event.type),
    el('td', {}, event.actor.name),
    el('td', {}, event.keyId ? el('code', {}, event.keyId) : '—'),
    el('td', {}, ...details(event)),
  );
}

async function loadAudit(portal: Portal, append: boolean): Promise<void> {
  const query = new URLSearchParams({ limit: '50' });
  if (append && cursor) query.set('cursor', cursor);
  const page = await portal.api.get<AuditPage>(`/v1/customer-keys/audit?${query}`);
  const table = byId<HTMLTableElement>('audit-table');
  const rows = page.events.map(auditRow);
  if (append) appendRows(table, rows);
  else
    fillBody(
      table,
      rows,
      portal.sandbox
        ? 'No audit events in the shared sandbox.'
        : 'No audit events yet. Keys issued, revoked, rolled or reset, requests and policy changes are recorded here.',
    );
  cursor = page.cursor;
  byId('audit-more').hidden = !cursor;
}

export async function loadActivity(portal: Portal): Promise<void> {
  const { requests } = await portal.api.get<RequestList>('/v1/customer-keys/requests');
  fillBody(
    byId<HTMLTableElement>('requests-table'),
    requests.map((r) =>
      el(
        'tr',
        {},
        timeCell(r.requestedAt),
        el('td', {}, ACTIONS[r.action] ?? r.action),
        el('td', {}, badge(r.status, r.status)),
        el('td', {}, r.requestedBy.name),
        timeCell(r.decidedAt ?? null),
        el('td', {}, r.failure ? `${r.failure.code}: ${r.failure.detail}` : (r.note ?? '')),
      ),
    ),
    portal.sandbox
      ? 'The shared sandbox has no key requests, and takes none: sandbox mode is read-only.'
      : [
          'No key requests. Requests are filed through the API (',
          el('code', {}, 'POST /v1/customer-keys/requests/{action}'),
          ', see ',
          el('a', { href: '/docs' }, '/docs'),
          '); a master-component rotation then waits here for Veriproof staff. Changes made on the Keys tab are in the audit log below.',
        ],
  );
  await loadAudit(portal, false);
}

export function initActivity(portal: Portal): void {
  byId('audit-more').addEventListener('click', () => void loadAudit(portal, true));
}
