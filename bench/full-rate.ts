/**
 * Figures 8 to 10 of `npm run bench`: one enterprise customer at its plan's full rate, sent at a
 * fiftieth of it through three hosts and modelled up (partition-load.ts). 8: the busiest
 * partition's busiest second; 9: storage round trips in sequence per ingest request; 10: storage
 * transactions per second per such customer. The instances the full rate needs come from the
 * protobuf x 10 rate of figure 3 (measured here first when figure 3 did not run).
 */
import { randomBytes } from 'node:crypto';
import type { HostProcess } from '../local/host-process';
import { DEFAULT_PLANS } from '../shared/config';
import { LIST_PARTITIONS, SESSION_PARTITIONS } from '../shared/adapters/table/table-session-repository';
import type { StorageOperationRecord } from '../shared/adapters/table/storage-operations';
import { measureIngest } from './ingest';
import { BENCH_OP as op, sleep } from './measure';
import type { BenchContext } from './modules';
import { modelPartitionLoad, sequentialRoundTrips } from './partition-load';

export async function fullRateFigures(ctx: BenchContext): Promise<void> {
  const ingest = ctx.ingestRates;
  if (!ingest['protobuf-10']) {
    const { key } = await ctx.main();
    ingest['protobuf-10'] = await measureIngest(ctx, await ctx.mainHost(), key, 10, 'protobuf');
  }
  const full = DEFAULT_PLANS.enterprise;
  const fullKeys = 10;
  const fullRate = fullKeys * full.requestsPerSecond; // requests (batches) per second
  const scale = 50; // the run sends 1/50 of it
  const runRate = fullRate / scale;
  const prefixFull = `b${randomBytes(4).toString('hex')}`;
  const seedFull = ctx.seeder(prefixFull);
  await seedFull.storage.ensureTables();
  await seedFull.useCases.customers.create({ slug: 'fullrate', name: 'Full rate', plan: 'enterprise' });
  const fullSecrets: string[] = [];
  for (let i = 0; i < fullKeys; i++)
    fullSecrets.push((await seedFull.useCases.keys.issue('fullrate', { label: `full-${i}`, application: 'bench' }, op)).key);
  // Production's intervals (usage flushes every 30 s), three hosts on the same tables.
  const fullHosts = [];
  for (let i = 0; i < 3; i++) fullHosts.push(await ctx.host(prefixFull, { PLANS: '' }));
  const spansPerBatch = 10;
  const body = (session: string) =>
    JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench-fleet' } }] },
          scopeSpans: [
            {
              scope: { name: 'bench' },
              spans: Array.from({ length: spansPerBatch }, (_, n) => ({
                traceId: randomBytes(16).toString('hex'),
                spanId: randomBytes(8).toString('hex'),
                name: `step-${n}`,
                startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
                endTimeUnixNano: String(BigInt(Date.now() + 5) * 1_000_000n),
                attributes: [{ key: 'session.id', value: { stringValue: session } }],
              })),
            },
          ],
        },
      ],
    });
  const send = async (target: HostProcess, secret: string, session: string) => {
    const response = await fetch(`${target.url}/v1/traces`, {
      method: 'POST',
      headers: { 'x-api-key': secret, 'content-type': 'application/json' },
      body: body(session),
    });
    await response.arrayBuffer();
    return response.status;
  };
  // Sessions of 1 to 50 batches, a batch every half second each; 20% of them spread over the hosts.
  type FleetSession = { id: string; left: number; spread: boolean; home: number };
  let sessionCounter = 0;
  const newSession = (): FleetSession => ({
    id: `fleet-${sessionCounter++}`,
    left: 1 + Math.floor(Math.random() * 50),
    spread: Math.random() < 0.2,
    home: Math.floor(Math.random() * 3),
  });
  const perKeyRate = runRate / fullKeys;
  const active = fullSecrets.map(() => Array.from({ length: Math.max(1, Math.round(perKeyRate / 2)) }, newSession));
  for (const [k, secret] of fullSecrets.entries()) for (const h of fullHosts) await send(h, secret, `warm-${k}`); // keys cached everywhere
  const loadSeconds = ctx.seconds(30);
  const statuses = new Map<number, number>();
  const inflight = new Set<Promise<void>>();
  const loadStart = Date.now();
  for (let n = 0; ; n++) {
    const due = loadStart + (n * 1000) / runRate;
    if (due > loadStart + loadSeconds * 1000) break;
    if (due > Date.now()) await sleep(due - Date.now());
    const k = n % fullKeys;
    const sessions = active[k]!;
    const i = Math.floor(Math.random() * sessions.length);
    const session = sessions[i]!;
    const target = fullHosts[session.spread ? Math.floor(Math.random() * 3) : session.home]!;
    if (--session.left === 0) sessions[i] = newSession();
    const sent = send(target, fullSecrets[k]!, session.id).then((status) => void statuses.set(status, (statuses.get(status) ?? 0) + 1));
    inflight.add(sent);
    void sent.finally(() => inflight.delete(sent));
  }
  const loadEnd = Date.now();
  await Promise.all(inflight);
  await sleep(2000); // deferred work (folds) of the run's last batches
  const operationsOf = async (h: HostProcess, since: number) =>
    ((await (await fetch(`${h.url}/_local/operations?since=${since}`)).json()) as { operations: StorageOperationRecord[] }).operations;
  const recorded = (await Promise.all(fullHosts.map((h) => operationsOf(h, loadStart)))).flat();
  const perHost = ingest['protobuf-10'].storedSpansPerSecond / 10;
  const instancesAtFullRate = Math.ceil(fullRate / perHost);
  const model = modelPartitionLoad({
    operations: recorded,
    from: loadStart + 2000, // past the warm-up
    to: loadEnd,
    customerSlug: 'fullrate',
    partitionsPerCustomer: SESSION_PARTITIONS,
    listPartitionsPerCustomer: LIST_PARTITIONS,
    trafficScale: scale,
    instanceScale: instancesAtFullRate / fullHosts.length,
    seed: 20261202,
  });
  const sent = [...statuses.values()].reduce((a, b) => a + b, 0);
  ctx.record({
    id: '8',
    name: `busiest partition at the full rate (${fullKeys} keys x ${full.requestsPerSecond} req/s x ${spansPerBatch} spans; ${model.peak.partition}), entities in its busiest second`,
    value: model.peak.entitiesPerSecond,
    unit: 'entities/s',
    target: '<= 1000',
    pass: model.peak.entitiesPerSecond <= 1000,
    detail: {
      busiest: model.busiest,
      acrossPartitions: model.acrossPartitions,
      run: { requests: sent, statuses: Object.fromEntries(statuses), seconds: (loadEnd - loadStart) / 1000, scale, instancesAtFullRate },
    },
  });

  // Figure 9: ingest requests one at a time, each kind of batch, and the storage operations
  // each made while it was under way (deferred and time-driven work left out).
  const probes: Array<{ kind: string; trips: number }> = [];
  const probeStart = Date.now();
  const windows: Array<{ kind: string; host: number; from: number; to: number }> = [];
  for (let i = 0; i < (ctx.quick ? 5 : 15); i++) {
    const id = `probe-${i}`;
    for (const [kind, h] of [
      ['new session', 0],
      ['next batch, same host', 0],
      ['next batch, another host (first sight there)', 1],
      ['next batch, another host', 1],
    ] as const) {
      const from = performance.timeOrigin + performance.now();
      const status = await send(fullHosts[h]!, fullSecrets[i % fullKeys]!, id);
      if (status !== 200) throw new Error(`probe ${kind}: ${status}`);
      windows.push({ kind, host: h, from, to: performance.timeOrigin + performance.now() });
      await sleep(30);
    }
  }
  const probeOps = await Promise.all(fullHosts.slice(0, 2).map((h) => operationsOf(h, probeStart)));
  for (const w of windows) {
    const during = probeOps[w.host]!.filter((o) => o.cause === 'request' && !o.deferred && o.startedAt >= w.from && o.endedAt <= w.to);
    probes.push({ kind: w.kind, trips: sequentialRoundTrips(during) });
  }
  const worstTrips = Math.max(...probes.map((p) => p.trips));
  const tripsByKind = Object.fromEntries(
    [...new Set(probes.map((p) => p.kind))].map((kind) => [kind, [...new Set(probes.filter((p) => p.kind === kind).map((p) => p.trips))]]),
  );
  ctx.record({
    id: '9',
    name: `storage round trips in sequence per ingest request, worst of ${probes.length} (new session, next batch, another host)`,
    value: worstTrips,
    unit: 'round trips',
    target: 'exactly 1',
    pass: probes.every((p) => p.trips === 1),
    detail: { byKind: tripsByKind },
  });

  const perCustomer = model.transactionsPerSecond.total;
  const customersPerAccount = Math.floor(20_000 / perCustomer);
  ctx.record({
    id: '10',
    name: `storage transactions per second per enterprise customer at the full rate (${model.transactionsPerSecond.traffic.toFixed(0)} its traffic + ${model.transactionsPerSecond.instances.toFixed(0)} its ${instancesAtFullRate} instances' own): one account (20,000/s) carries ${customersPerAccount}`,
    value: perCustomer,
    unit: 'transactions/s',
    detail: { ...model.transactionsPerSecond, customersPerAccount, accountLimit: 20_000, perHostRequestsPerSecond: perHost },
  });
}
