import type { Portal } from './portal.js';
import type { CustomerList, QueuedRequest, ServiceMetrics, StaffRequestQueue, TenantKey } from './types.js';
import { byId, confirmAction, el, fillBody, formatDateTime, showError, timeCell, toast } from './ui.js';

/** Staff: the queue of pending requests (execute, reject) and a customer's tenant-key state. */

const ACTIONS: Record<QueuedRequest['action'], string> = {
  'issue-key': 'Issue a key',
  'revoke-key': 'Revoke a key',
  'roll-key': 'Roll a key',
  'rotate-tenant-key': 'Rotate the master component',
};

/** The customers of the last load, by slug (the facts below show their settings). */
let customersBySlug = new Map<string, CustomerList['customers'][number]>();

const POLICIES: Record<CustomerList['customers'][number]['leakedKeyPolicy'], string> = {
  revoke: 'Revoke at once',
  notify: 'Keep working, flag (customer’s choice)',
};

/** A count from the daily key review, with when it ran. */
function reviewed(review: CustomerList['customers'][number]['keyReview'] | undefined, count: 'stale' | 'rotationDue'): string {
  return review ? `${review[count]} (daily review, ${formatDateTime(review.at)})` : 'Not reviewed yet (the review runs daily)';
}

async function execute(portal: Portal, request: QueuedRequest): Promise<void> {
  const rotation = request.action === 'rotate-tenant-key';
  const answer = await confirmAction({
    title: `Execute “${ACTIONS[request.action]}” for ${request.customer}?`,
    body: rotation
      ? ['A new master component is created. The old one keeps working for the grace period, then the timer retires it.']
      : ['The request is carried out now and recorded in the customer’s audit log.'],
    confirmLabel: 'Execute',
    ...(rotation ? { input: { label: 'Grace period (hours)', value: '168', type: 'number' } } : {}),
  });
  if (answer === undefined) return;
  try {
    await portal.api.post(
      `/v1/staff/customer-keys/requests/${encodeURIComponent(request.id)}/execute`,
      rotation && answer !== '' ? { gracePeriodHours: Number(answer) } : {},
    );
    toast('Request executed.');
  } catch (error) {
    showError(error);
  }
  await loadStaff(portal);
}

async function reject(portal: Portal, request: QueuedRequest): Promise<void> {
  const reason = await confirmAction({
    title: `Reject “${ACTIONS[request.action]}” for ${request.customer}?`,
    body: ['The customer sees the request as rejected, with your reason.'],
    confirmLabel: 'Reject',
    input: { label: 'Reason' },
  });
  if (reason === undefined) return;
  try {
    await portal.api.post(
      `/v1/staff/customer-keys/requests/${encodeURIComponent(request.id)}/reject`,
      reason.trim() ? { reason: reason.trim() } : {},
    );
    toast('Request rejected.');
  } catch (error) {
    showError(error);
  }
  await loadStaff(portal);
}

async function loadTenantKey(portal: Portal): Promise<void> {
  const slug = byId<HTMLSelectElement>('staff-customer').value;
  const facts = byId('tenant-key');
  if (!slug) {
    facts.replaceChildren();
    return;
  }
  const state = await portal.api.get<TenantKey>(`/v1/staff/customers/${encodeURIComponent(slug)}/tenant-key`);
  const pairs: Array<[string, string]> = [
    ['Current version', state.currentVersion],
    ['Previous version', state.previousVersion ?? 'None'],
    ['In grace', state.inGrace ? 'Yes: both components are accepted' : 'No'],
    ['Grace ends', formatDateTime(state.graceEndsAt)],
    ['Last rotated', formatDateTime(state.rotatedAt)],
    ['Component required', state.requireComponent ? 'Yes' : 'No'],
    ['Keys found in public', POLICIES[customersBySlug.get(slug)?.leakedKeyPolicy ?? 'revoke']],
    ['Keys due for rotation', reviewed(customersBySlug.get(slug)?.keyReview, 'rotationDue')],
    ['Stale keys', reviewed(customersBySlug.get(slug)?.keyReview, 'stale')],
  ];
  facts.replaceChildren(...pairs.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]));
}

export async function loadStaff(portal: Portal): Promise<void> {
  const { requests } = await portal.api.get<StaffRequestQueue>('/v1/staff/customer-keys/requests?status=pending');
  fillBody(
    byId<HTMLTableElement>('staff-requests-table'),
    requests.map((r) => {
      const run = el(
        'button',
        { type: 'button', class: 'primary small', 'aria-label': `Execute ${ACTIONS[r.action]} for ${r.customer}` },
        'Execute',
      );
      if (r.action === 'issue-key') {
        // Executing it would show staff the customer's new key; the customer issues it.
        run.disabled = true;
        run.title = 'Customers issue their own keys; reject this request instead';
      }
      run.addEventListener('click', () => void execute(portal, r));
      const no = el(
        'button',
        { type: 'button', class: 'danger small', 'aria-label': `Reject ${ACTIONS[r.action]} for ${r.customer}` },
        'Reject',
      );
      no.addEventListener('click', () => void reject(portal, r));
      return el(
        'tr',
        { 'data-request-id': r.id },
        timeCell(r.requestedAt),
        el('td', {}, r.customer),
        el('td', {}, ACTIONS[r.action] ?? r.action),
        el('td', {}, r.requestedBy.name),
        el('td', { class: 'row-actions' }, run, ' ', no),
      );
    }),
  );
  byId('staff-requests-empty').hidden = requests.length > 0;
  const select = byId<HTMLSelectElement>('staff-customer');
  const previous = select.value;
  const { customers } = await portal.api.get<CustomerList>('/v1/staff/customers');
  customersBySlug = new Map(customers.map((c) => [c.slug, c]));
  select.replaceChildren(
    el('option', { value: '' }, 'Choose a customer'),
    ...customers.map((c) => el('option', { value: c.slug }, `${c.name} (${c.slug}, ${c.plan})`)),
  );
  select.value = customers.some((c) => c.slug === previous) ? previous : '';
  await loadTenantKey(portal);
  await loadService(portal);
}

/** The answering instance's metrics (README "On call" says what each one answers). */
async function loadService(portal: Portal): Promise<void> {
  const service = await portal.api.get<ServiceMetrics>('/v1/staff/service');
  byId('service-summary').textContent = `Instance ${service.instanceId}, ${formatDateTime(service.at)}: values since it started.`;
  fillBody(
    byId<HTMLTableElement>('service-table'),
    service.metrics.map((m) =>
      el(
        'tr',
        {},
        el('td', {}, el('code', {}, m.name)),
        el(
          'td',
          {},
          Object.entries(m.attributes)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(' '),
        ),
        el(
          'td',
          { class: 'num' },
          m.sum !== undefined && m.value > 0
            ? `${m.value} (mean ${(m.sum / m.value).toFixed(2)} ms)`
            : String(Math.round(m.value * 100) / 100),
        ),
      ),
    ),
  );
}

export function initStaff(portal: Portal): void {
  byId('staff-customer').addEventListener('change', () => void loadTenantKey(portal).catch((e: unknown) => showError(e)));
}
