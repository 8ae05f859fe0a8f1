import type { Portal } from './portal.js';
import type { CustomerList, MetricPoint, QueuedRequest, ServiceMetrics, StaffRequestQueue, TenantKey } from './types.js';
import { byId, confirmAction, el, fillBody, formatDateTime, showError, timeCell, toast } from './ui.js';

/** Staff: the queue of pending requests (execute, reject), a customer's tenant-key state, the instance's metrics. */

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
  facts.hidden = !slug;
  byId('tenant-key-hint').hidden = Boolean(slug);
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
    'No pending requests. A customer’s request to rotate its master component waits here until you execute or reject it.',
  );
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

const numbers = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

/** An amount in its metric's unit: bytes in kB or MB, seconds and milliseconds named, counts as they are. */
function amount(value: number, unit: string): string {
  if (unit === 'By') {
    if (value < 1000) return `${numbers.format(value)} B`;
    return value < 1e6 ? `${numbers.format(value / 1e3)} kB` : `${numbers.format(value / 1e6)} MB`;
  }
  return unit ? `${numbers.format(value)} ${unit}` : numbers.format(value);
}

/** A metric's value over some of its points: a histogram's count, mean and max; otherwise the total. */
function summarise(points: MetricPoint[]): string {
  const unit = points[0]?.unit ?? '';
  const total = points.reduce((sum, p) => sum + p.value, 0);
  if (!points.some((p) => p.sum !== undefined)) return amount(total, unit);
  if (total === 0) return 'None recorded';
  const sum = points.reduce((s, p) => s + (p.sum ?? 0), 0);
  const max = Math.max(...points.map((p) => p.max ?? 0));
  return `${numbers.format(total)} recorded, mean ${amount(sum / total, unit)}, max ${amount(max, unit)}`;
}

/** The values by attributes (outcome, table, customer…), named: a short list, or a long one behind a disclosure. */
function breakdown(points: MetricPoint[]): HTMLElement | string {
  const split = points.filter((p) => Object.keys(p.attributes).length > 0);
  if (split.length === 0) return '—';
  const by = `By ${[...new Set(split.flatMap((p) => Object.keys(p.attributes)))].join(', ')}`;
  const items = el(
    'ul',
    { class: 'breakdown' },
    ...split.map((p) => el('li', {}, `${Object.values(p.attributes).map(String).join(' · ')}: ${summarise([p])}`)),
  );
  if (split.length <= 4) return el('div', {}, el('span', { class: 'breakdown-by' }, by), items);
  return el('details', {}, el('summary', {}, `${by} (${split.length})`), items);
}

/** The answering instance's metrics, one row per metric (docs/operations.md, "On call", says what each one answers). */
async function loadService(portal: Portal): Promise<void> {
  const service = await portal.api.get<ServiceMetrics>('/v1/staff/service');
  byId('service-summary').textContent = `Instance ${service.instanceId}, ${formatDateTime(service.at)}: values since it started.`;
  const byName = new Map<string, MetricPoint[]>();
  for (const point of service.metrics) byName.set(point.name, [...(byName.get(point.name) ?? []), point]);
  fillBody(
    byId<HTMLTableElement>('service-table'),
    [...byName.entries()].map(([name, points]) =>
      el(
        'tr',
        { 'data-metric': name },
        el('td', {}, el('span', { class: 'description' }, points[0]!.description || name), el('code', {}, name)),
        el('td', {}, summarise(points)),
        el('td', {}, breakdown(points)),
      ),
    ),
    'This instance has recorded no metrics yet.',
  );
}

export function initStaff(portal: Portal): void {
  byId('staff-customer').addEventListener('change', () => void loadTenantKey(portal).catch((e: unknown) => showError(e)));
}
