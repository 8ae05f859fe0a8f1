/**
 * Figure 12 of `npm run bench` (alone: `npm run bench -- --only 12`): how long a key revocation
 * takes to reach a customer's webhook receiver, end to end, through a host process on the
 * benchmark's Azurite (tables and queue): the revocation's 204, the dispatcher's fast path (the
 * customer's log read ~100 ms after the event), the delivery and its queue message, the host's
 * queue poller (the local stand-in for the queue trigger), the signed POST to a loopback receiver.
 * The queue is warm (one delivery made before the rounds); each revocation comes at a random point
 * of the poller's idle backoff.
 *
 * And what the webhook costs per event: the host's table operations per revocation with an
 * endpoint subscribed, less the same revocation's without one (the dispatcher's check for endpoints
 * included in both), and its queue operations (sends, deletes and updates; receives are the
 * poller's, counted per second apart).
 */
import { randomBytes } from 'node:crypto';
import { signLocalPortalToken } from '../shared/auth/portal-tokens';
import { WebhookReceiver } from '../fixtures/webhook-receiver';
import type { HostProcess } from '../local/host-process';
import type { StorageOperationRecord } from '../shared/adapters/table/storage-operations';
import { BENCH_OP, diagnostics, median, sleep } from './measure';
import type { BenchContext } from './modules';

const TARGET_P99_MS = 2000;
/** After the rounds: the fast path's second pass (~1 s) and the last attempt's record are counted. */
const SETTLE_MS = 2500;

export async function webhookLatencyFigures(ctx: BenchContext): Promise<void> {
  const prefix = `w${randomBytes(4).toString('hex')}`;
  const seed = ctx.seeder(prefix);
  await seed.storage.ensureTables();
  const receiver = await new WebhookReceiver().start();
  try {
    const slugs = { hooked: 'bench-hooked', plain: 'bench-plain' };
    for (const slug of Object.values(slugs)) {
      await seed.useCases.customers.create({ slug, name: slug, plan: 'enterprise' });
      await seed.useCases.keys.issue(slug, { label: 'keeps-working', application: 'bench' }, BENCH_OP); // never the last key revoked
    }
    await sleep(5); // the keys above predate the endpoint
    await seed.useCases.webhookEndpoints.create(slugs.hooked, { url: receiver.url(), events: ['key.revoked'] }, BENCH_OP);
    const host = await ctx.host(prefix);
    const admin = async (slug: string) =>
      signLocalPortalToken(seed.useCases.config.portal, { sub: 'bench-admin', customer: slug, roles: ['CustomerAdmin'] });
    const tokens = { hooked: await admin(slugs.hooked), plain: await admin(slugs.plain) };

    /** Issues a key through the host, revokes it there; the time from the revocation's request to the receiver's. */
    const revoke = async (customer: 'hooked' | 'plain', i: number): Promise<number> => {
      const issued = await call(host, 'POST', '/v1/customer-keys/issue', tokens[customer], { label: `r-${i}`, application: 'bench' });
      const keyId = (issued as { metadata: { id: string } }).metadata.id;
      await sleep(Math.random() * 1000); // anywhere in the poller's idle backoff
      const arrived = customer === 'hooked' ? arrival(receiver, keyId) : undefined;
      const t0 = performance.now();
      await call(host, 'DELETE', `/v1/customer-keys/${keyId}`, tokens[customer]);
      if (!arrived) return 0;
      await arrived;
      return performance.now() - t0;
    };

    console.log('  12. A key revocation through the host, then its webhook at the receiver');
    await revoke('hooked', -1); // warm: the queue, the poller, the signing secret's data key
    const rounds = ctx.quick ? 8 : 30;
    await sleep(SETTLE_MS);
    const hookedBefore = await diagnostics(host);
    const hookedSince = Date.now();
    const delays: number[] = [];
    for (let i = 0; i < rounds; i++) delays.push(await revoke('hooked', i));
    await sleep(SETTLE_MS);
    const hookedAfter = await diagnostics(host);
    const plainSince = Date.now();
    for (let i = 0; i < rounds; i++) await revoke('plain', i);
    await sleep(SETTLE_MS);
    const plainAfter = await diagnostics(host);
    const byTable = await operationsByTable(host, hookedSince, plainSince, rounds);

    const sorted = [...delays].sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;
    const max = sorted.at(-1)!;
    const perRound = (after: number, before: number) => (after - before) / rounds;
    // Both phases issue a key and revoke it per round; the plain one's operations are the change's own.
    const hookedTables = perRound(hookedAfter.storageOperations.requestDriven, hookedBefore.storageOperations.requestDriven);
    const plainTables = perRound(plainAfter.storageOperations.requestDriven, hookedAfter.storageOperations.requestDriven);
    const queueOf = (d: typeof hookedAfter) => d.queueOperations.send + d.queueOperations.delete + d.queueOperations.update;
    const queueOps = perRound(queueOf(hookedAfter), queueOf(hookedBefore));
    ctx.record({ id: '12', name: 'key revocation to its webhook at the receiver, p50', value: median(delays), unit: 'ms' });
    ctx.record({
      id: '12b',
      name: 'key revocation to its webhook at the receiver, p99 (max beside it)',
      value: p99,
      unit: 'ms',
      target: `<= ${TARGET_P99_MS}`,
      pass: p99 <= TARGET_P99_MS,
      detail: { max, rounds, delaysMs: delays.map((d) => Math.round(d)) },
    });
    ctx.record({
      id: '12c',
      name: 'table operations per event the webhook adds (revocation with an endpoint less without)',
      value: hookedTables - plainTables,
      unit: 'ops',
      // Per round of the phase with an endpoint: the key's issue (its event read too, not sent) and its revocation.
      detail: { withEndpoint: hookedTables, withoutEndpoint: plainTables, byTableAndKind: byTable, received: receiver.received.length },
    });
    ctx.record({
      id: '12d',
      name: 'queue operations per event (send, delete, update; the poller’s receives apart)',
      value: queueOps,
      unit: 'ops',
      detail: {
        receivesPerRound: perRound(hookedAfter.queueOperations.receive, hookedBefore.queueOperations.receive),
        counts: hookedAfter.queueOperations,
      },
    });
    console.log(`      max ${Math.round(max)} ms over ${rounds} revocations`);
  } finally {
    await receiver.stop();
  }
}

/** The host's request-driven table operations between `since` and `until`, by table and kind, per round. */
async function operationsByTable(host: HostProcess, since: number, until: number, rounds: number): Promise<Record<string, number>> {
  const { operations } = (await (await fetch(`${host.url}/_local/operations?since=${since}`)).json()) as {
    operations: StorageOperationRecord[];
  };
  const counts: Record<string, number> = {};
  for (const o of operations) {
    if (o.cause !== 'request' || o.startedAt >= until) continue;
    const key = `${o.table ?? 'other'} ${o.kind}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, Math.round((v / rounds) * 100) / 100]));
}

/** Resolves when the receiver gets the `key.revoked` webhook of `keyId`. */
function arrival(receiver: WebhookReceiver, keyId: string): Promise<void> {
  const has = () => receiver.received.some((r) => r.body.includes(`"id":"${keyId}"`) && r.body.includes('"key.revoked"'));
  return (async () => {
    while (!has()) await receiver.requests(receiver.received.length + 1);
  })();
}

async function call(host: HostProcess, method: string, path: string, token: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${host.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (response.status >= 300) throw new Error(`figure 12: ${method} ${path} answered ${response.status}`);
  return response.status === 204 ? undefined : response.json();
}
