import { ApiProblem } from './api.js';
import { applyWriteState, type Portal } from './portal.js';
import type { TrustPolicy, TrustPolicyList } from './types.js';
import { byId, confirmAction, el, fillBody, formatAgo, openDialog, showError, timeCell, toast, type Child } from './ui.js';

/** Workload identities: the customer's trust policies (list, create, delete) under the plan's cap. */

/** The form's fields by the API's names (an error's path starts with one), each with the name a message starts with. */
const FIELDS = {
  label: 'Label',
  issuer: 'Issuer',
  audience: 'Audience',
  subject: 'Subject',
  claims: 'Claims',
  application: 'Application',
  environment: 'Environment',
  tokenLifetimeMinutes: 'Token lifetime',
} as const;
type Field = keyof typeof FIELDS;
const FIELD_NAMES = Object.keys(FIELDS) as Field[];

const input = (field: Field) => byId<HTMLInputElement>(`tp-${field}`);

function setFieldError(field: Field, message: string | undefined): void {
  const error = byId(`tp-${field}-error`);
  error.textContent = message ?? '';
  error.hidden = !message;
  if (message) input(field).setAttribute('aria-invalid', 'true');
  else input(field).removeAttribute('aria-invalid');
}

/** The API's message after the field's name: "Subject must hold more than `*`…", "Claim “sub” must not…". */
function fieldMessage(field: Field, rest: string[], message: string): string {
  const name = field === 'claims' && rest.length ? `Claim “${rest.join('.')}”` : FIELDS[field];
  return message.startsWith('must ') ? `${name} ${message}` : `${name}: ${message}`;
}

/** The claims box, one `name=value` a line, as the API takes them; or what is wrong with it. */
function parseClaims(text: string): Record<string, string> | string {
  const claims = new Map<string, string>();
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf('=');
    if (at < 1) return `Line ${i + 1}: write each claim as name=value, one a line.`;
    const name = line.slice(0, at).trim();
    if (claims.has(name)) return `Line ${i + 1} names “${name}” again: a claim has one value.`;
    claims.set(name, line.slice(at + 1).trim());
  }
  return Object.fromEntries(claims);
}

function policyRow(portal: Portal, policy: TrustPolicy): HTMLTableRowElement {
  const remove = el(
    'button',
    { type: 'button', class: 'danger small write', 'aria-label': `Delete trust policy ${policy.label}` },
    'Delete',
  );
  remove.addEventListener('click', () => void deletePolicy(portal, policy));
  const claims = Object.entries(policy.claims);
  const created = timeCell(policy.createdAt);
  created.append(el('div', { class: 'muted' }, `by ${policy.createdBy.name}`));
  return el(
    'tr',
    { 'data-policy-id': policy.id },
    el('td', {}, policy.label),
    el('td', {}, el('code', {}, policy.issuer)),
    el('td', {}, el('code', {}, policy.subject)),
    el('td', {}, el('code', {}, policy.audience)),
    el(
      'td',
      {},
      claims.length ? el('ul', { class: 'claims' }, ...claims.map(([n, v]) => el('li', {}, el('code', {}, `${n}=${v}`)))) : 'None',
    ),
    el('td', {}, `${policy.application} · ${policy.environment === 'live' ? 'Live' : 'Test'}`),
    el('td', {}, `${policy.tokenLifetimeMinutes} min`),
    timeCell(policy.lastUsedAt, formatAgo(policy.lastUsedAt)),
    created,
    el('td', { class: 'row-actions' }, remove),
  );
}

/** What the empty table says: what a trust policy is, and where to read more. */
function noPolicies(portal: Portal): Child[] {
  if (portal.sandbox) return ['The shared sandbox has no trust policies. Sandbox mode is read-only: turn it off to manage your own.'];
  return [
    'No trust policies. A trust policy lets a workload (a CI job, a service in Azure or Kubernetes) send traces with no long-lived key: the identity token its platform gives it is traded for a short-lived ingest token when the token’s issuer, audience and subject match the policy. Add one with “New trust policy” above (see ',
    el('a', { href: '/docs#/Trust%20policies' }, '/docs'),
    ').',
  ];
}

export async function loadIdentities(portal: Portal): Promise<void> {
  const list = await portal.api.get<TrustPolicyList>('/v1/trust-policies');
  const { trustPolicyCount: count, trustPolicyLimit: limit } = list;
  byId('identities-summary').textContent =
    `${count} of ${limit} trust policies${list.sandbox ? ' · shared sandbox (read-only)' : ` · ${list.customer}`}`;
  // At the plan's cap the button is disabled, and says why beside it.
  const reason =
    list.sandbox || count < limit
      ? ''
      : `You have ${count} of ${limit} trust policies, the most your plan allows: delete one to add another.`;
  const cap = byId('trust-policy-cap');
  cap.textContent = reason;
  cap.hidden = !reason;
  const button = byId('new-trust-policy');
  if (reason) button.dataset.blocked = reason;
  else delete button.dataset.blocked;
  fillBody(
    byId<HTMLTableElement>('trust-policies-table'),
    list.trustPolicies.map((p) => policyRow(portal, p)),
    noPolicies(portal),
  );
  applyWriteState(portal);
}

async function createPolicy(portal: Portal): Promise<void> {
  const form = byId<HTMLFormElement>('trust-policy-form');
  const formError = byId('trust-policy-error');
  const clear = () => {
    FIELD_NAMES.forEach((f) => setFieldError(f, undefined));
    formError.hidden = true;
  };
  form.reset();
  clear();
  const dialog = byId<HTMLDialogElement>('trust-policy-dialog');
  let created: TrustPolicy | undefined;
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    clear();
    const data = new FormData(form);
    const value = (field: Field) => {
      const entry = data.get(field);
      return typeof entry === 'string' ? entry.trim() : '';
    };
    const claims = parseClaims(value('claims'));
    if (typeof claims === 'string') {
      setFieldError('claims', claims);
      input('claims').focus();
      return;
    }
    const lifetime = value('tokenLifetimeMinutes');
    try {
      created = await portal.api.post<TrustPolicy>('/v1/trust-policies', {
        label: value('label'),
        issuer: value('issuer'),
        audience: value('audience'),
        subject: value('subject'),
        claims,
        application: value('application'),
        environment: value('environment'),
        ...(lifetime ? { tokenLifetimeMinutes: Number(lifetime) } : {}),
      });
      dialog.close('created');
      return;
    } catch (error) {
      // The API's own words, under the field each is about.
      const messages = new Map<Field, string[]>();
      if (error instanceof ApiProblem && error.code === 'label_taken') messages.set('label', [error.detail]);
      else if (error instanceof ApiProblem && error.code === 'validation_failed' && error.errors.length) {
        for (const e of error.errors) {
          const [name = '', ...rest] = e.path.split('.');
          const field = FIELD_NAMES.find((f) => f === name);
          if (field) messages.set(field, [...(messages.get(field) ?? []), fieldMessage(field, rest, e.message)]);
          else showError(error, formError);
        }
      } else showError(error, formError);
      for (const [field, texts] of messages) setFieldError(field, texts.join('\n')); // a line each (pre-line)
      FIELD_NAMES.map(input)
        .find((i) => i.getAttribute('aria-invalid'))
        ?.focus();
    }
  };
  const onSubmit = (event: SubmitEvent) => void submit(event);
  form.addEventListener('submit', onSubmit);
  await openDialog(dialog, input('label'));
  form.removeEventListener('submit', onSubmit);
  if (!created) return;
  toast(`Created the trust policy “${created.label}”.`);
  await loadIdentities(portal);
  byId('trust-policies-table').querySelector<HTMLElement>(`tr[data-policy-id="${created.id}"] button`)?.focus();
}

async function deletePolicy(portal: Portal, policy: TrustPolicy): Promise<void> {
  const confirmed = await confirmAction({
    title: `Delete “${policy.label}”?`,
    body: [
      `Workloads can no longer trade identity tokens from ${policy.issuer} for ingest tokens under this policy, and the ingest tokens it gave stop working within seconds. This cannot be undone.`,
    ],
    confirmLabel: 'Delete trust policy',
  });
  if (confirmed === undefined) return;
  try {
    await portal.api.delete(`/v1/trust-policies/${encodeURIComponent(policy.id)}`);
    toast(`Deleted the trust policy “${policy.label}”.`);
  } catch (error) {
    showError(error);
  }
  await loadIdentities(portal);
  // The row and its button are gone: focus the next control that can act.
  const next = [byId('new-trust-policy'), ...byId('trust-policies-table').querySelectorAll<HTMLElement>('tbody button'), byId('main')];
  next.find((n) => !(n as HTMLButtonElement).disabled)?.focus();
}

export function initIdentities(portal: Portal): void {
  byId('new-trust-policy').addEventListener('click', () => void createPolicy(portal));
}
