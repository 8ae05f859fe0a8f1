import type { Portal } from './portal.js';
import type { CustomerUsage, UsageBucket } from './types.js';
import { badge, byId, el, fillBody, formatAgo, formatDay, timeCell } from './ui.js';

/**
 * Usage: a per-key chart of requests per day (accepted and rate-limited) and a table of all keys,
 * and of the workload identities (trust policies: `type: federated`, their tokens together).
 */

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  ...children: Array<Node | string>
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

/** A "nice" axis maximum: 1, 2 or 5 times a power of ten. */
function niceMax(value: number): number {
  if (value <= 4) return 4;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((m) => m >= value)!;
}

function chart(days: UsageBucket[], label: string): SVGSVGElement {
  const width = 760;
  const height = 240;
  const left = 56;
  const bottom = 36;
  const top = 12;
  const plotHeight = height - top - bottom;
  const max = niceMax(Math.max(0, ...days.map((d) => Math.max(d.accepted, d.rateLimited))));
  const slot = (width - left - 8) / Math.max(days.length, 1);
  const bar = Math.max(2, Math.min(10, slot / 2 - 2));
  const y = (v: number) => top + plotHeight - (v / max) * plotHeight;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'usage-chart-caption' });
  for (const tick of Number.isInteger(max / 2) ? [0, max / 2, max] : [0, max]) {
    root.append(
      svg('line', { x1: left, x2: width - 8, y1: y(tick), y2: y(tick), class: 'grid' }),
      svg('text', { x: left - 6, y: y(tick) + 4, 'text-anchor': 'end', class: 'axis' }, tick.toLocaleString()),
    );
  }
  days.forEach((day, i) => {
    const x = left + i * slot + slot / 2;
    const title = `${formatDay(day.start)}: ${day.accepted.toLocaleString()} accepted, ${day.rateLimited.toLocaleString()} rate-limited (${label})`;
    const group = svg('g', { 'data-day': day.start }, svg('title', {}, title));
    group.append(
      svg('rect', { x: x - bar - 1, y: y(day.accepted), width: bar, height: Math.max(0, y(0) - y(day.accepted)), class: 'bar-accepted' }),
      svg('rect', { x: x + 1, y: y(day.rateLimited), width: bar, height: Math.max(0, y(0) - y(day.rateLimited)), class: 'bar-limited' }),
    );
    root.append(group);
    if (i % 5 === 0 || i === days.length - 1) {
      // The last day's label ends at the edge rather than past it.
      const last = i === days.length - 1;
      root.append(
        svg(
          'text',
          { x: last ? width - 8 : x, y: height - 8, 'text-anchor': last ? 'end' : 'middle', class: 'axis' },
          formatDay(day.start),
        ),
      );
    }
  });
  return root;
}

let usage: CustomerUsage | undefined;

function renderChart(): void {
  const select = byId<HTMLSelectElement>('usage-key');
  const key = usage?.keys.find((k) => k.keyId === select.value);
  const body = byId('usage-chart-body');
  const caption = byId('usage-chart-caption');
  byId('usage-chart-area').hidden = !key;
  if (!key) {
    body.replaceChildren();
    caption.textContent = '';
    return;
  }
  body.replaceChildren(
    el(
      'div',
      { class: 'legend', 'aria-hidden': 'true' },
      el('span', { class: 'accepted' }, 'Accepted'),
      el('span', { class: 'limited' }, 'Rate-limited'),
    ),
    chart(key.daily, key.label),
    el(
      'details',
      {},
      el('summary', {}, 'Show the numbers'),
      el(
        'table',
        { class: 'data columns' },
        el('caption', { class: 'sr-only' }, `Requests per day for ${key.label}`),
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', { scope: 'col' }, 'Day (UTC)'),
            el('th', { scope: 'col', class: 'num' }, 'Accepted'),
            el('th', { scope: 'col', class: 'num' }, 'Rate-limited'),
          ),
        ),
        el(
          'tbody',
          {},
          ...key.daily.map((d) =>
            el(
              'tr',
              {},
              el('td', {}, formatDay(d.start)),
              el('td', { class: 'num' }, d.accepted),
              el('td', { class: 'num' }, d.rateLimited),
            ),
          ),
        ),
      ),
    ),
  );
  caption.textContent = `Requests per day for “${key.label}” over the last 30 days: ${key.totals.accepted.toLocaleString()} accepted, ${key.totals.rateLimited.toLocaleString()} rate-limited.`;
}

export async function loadUsage(portal: Portal): Promise<void> {
  usage = await portal.api.get<CustomerUsage>('/v1/customer-keys/usage');
  const select = byId<HTMLSelectElement>('usage-key');
  const previous = select.value;
  const ordered = [...usage.keys].sort((a, b) => (a.status === b.status ? a.label.localeCompare(b.label) : a.status === 'active' ? -1 : 1));
  const named = (k: CustomerUsage['keys'][number]) =>
    k.type === 'federated' ? `${k.label} (workload identity)` : k.status === 'active' ? k.label : `${k.label} (revoked)`;
  select.replaceChildren(...ordered.map((k) => el('option', { value: k.keyId }, named(k))));
  if (ordered.some((k) => k.keyId === previous)) select.value = previous;
  renderChart();
  fillBody(
    byId<HTMLTableElement>('usage-table'),
    ordered.map((k) =>
      el(
        'tr',
        { 'data-key-id': k.keyId },
        el(
          'td',
          {},
          k.label,
          k.type === 'federated' ? badge('Workload identity', 'federated') : null,
          k.stale ? badge('stale', 'stale') : null,
        ),
        el('td', {}, k.application),
        el('td', {}, badge(k.status === 'active' ? 'Active' : 'Revoked', k.status)),
        timeCell(k.lastUsedAt, formatAgo(k.lastUsedAt)),
        el('td', { class: 'num' }, k.totals.accepted.toLocaleString()),
        el('td', { class: 'num' }, k.totals.rateLimited.toLocaleString()),
        el('td', { class: 'num' }, k.totals.ipRefused.toLocaleString()),
      ),
    ),
    portal.sandbox
      ? 'The shared sandbox has no keys, so no usage.'
      : 'No keys, so no usage. Issue a key on the Keys tab: its requests are counted here per day.',
  );
}

export function initUsage(): void {
  byId('usage-key').addEventListener('change', renderChart);
}
