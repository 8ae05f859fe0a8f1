import { createHash, randomBytes } from 'node:crypto';
import { odata } from '@azure/data-tables';
import {
  LIST_PARTITIONS,
  SESSION_PARTITIONS,
  TableSessionRepository,
  sessionListPartition,
  sessionPartition,
} from '../../shared/adapters/table/table-session-repository';
import type { IngestSource, SessionBatch } from '../../shared/ports/session-repository';
import { testServices } from '../support/services';

const source = (environment: 'live' | 'test' = 'live'): IngestSource => ({
  customerId: 'cus_x',
  customerSlug: `s${randomBytes(4).toString('hex')}`,
  keyId: 'key_1',
  keyLabel: 'ingest',
  application: 'web',
  environment,
});

function batch(sessionId: string, document: string, spanCount = 1, traceId = 'a'.repeat(32)): SessionBatch {
  return {
    sessionId,
    sessionIdSource: 'attribute',
    serviceName: 'svc',
    spanCount,
    traceIds: [traceId],
    startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: '2026-01-01T00:00:01.000Z',
    document,
    sharedHash: '0'.repeat(64),
    contentHash: createHash('sha256').update(sessionId).update(document).digest('hex'),
  };
}

/** Appends one batch, as a request with one session does: 'stored' or 'duplicate'. */
async function one(
  repository: TableSessionRepository,
  src: IngestSource,
  b: SessionBatch,
  receivedAt: string,
): Promise<'stored' | 'duplicate'> {
  const result = await repository.append(src, [{ sessionId: b.sessionId, build: () => b }], shared, receivedAt);
  expect(result.stored + result.duplicates).toBe(1);
  return result.stored === 1 ? 'stored' : 'duplicate';
}
const shared = { hash: '0'.repeat(64), document: '{"resources":[]}' };

describe('sessions on Table Storage (Azurite)', () => {
  // A reader runs beside 60 concurrent writes in one test: storage calls get more time than usual.
  const services = testServices({ STORAGE_TIMEOUT_MS: '10000' }, { operationLog: 100_000 });
  const repo = new TableSessionRepository([services.storage]);

  it('stores a session with its audit metadata and documents', async () => {
    const src = source();
    expect(await one(repo, src, batch('sess/one?#', '{"a":1}'), '2026-01-01T00:00:05.000Z')).toBe('stored');
    expect(await repo.get(src.customerSlug, 'sess/one?#')).toMatchObject({
      sessionId: 'sess/one?#',
      keyId: 'key_1',
      keyLabel: 'ingest',
      application: 'web',
      environment: 'live',
      sandbox: false,
      anchor: 'pending',
      spanCount: 1,
      batchCount: 1,
      firstReceivedAt: '2026-01-01T00:00:05.000Z',
    });
    expect(await repo.documents(src.customerSlug, 'sess/one?#')).toEqual(['{"a":1}']);
  });

  it('marks sessions from a test key as sandbox, never to be anchored', async () => {
    const src = source('test');
    await one(repo, src, batch('sbx', '{}'), new Date().toISOString());
    expect(await repo.get(src.customerSlug, 'sbx')).toMatchObject({ sandbox: true, anchor: 'never', environment: 'test' });
  });

  it('recognises a retried batch and does not count it twice', async () => {
    const src = source();
    const b = batch('retry', '{"spans":[1,2]}', 2);
    expect(await one(repo, src, b, '2026-01-01T00:00:00.000Z')).toBe('stored');
    expect(await one(repo, src, b, '2026-01-01T00:00:09.000Z')).toBe('duplicate');
    expect(await one(repo, src, batch('retry', '{"spans":[3]}', 1, 'b'.repeat(32)), '2026-01-01T00:00:10.000Z')).toBe('stored');
    const stored = await repo.get(src.customerSlug, 'retry');
    expect(stored).toMatchObject({ spanCount: 3, batchCount: 2, lastReceivedAt: '2026-01-01T00:00:10.000Z' });
    expect(stored!.traceIds.sort()).toEqual(['a'.repeat(32), 'b'.repeat(32)]);
    expect(await repo.documents(src.customerSlug, 'retry')).toEqual(['{"spans":[1,2]}', '{"spans":[3]}']);
  });

  it('splits a large document over rows and reassembles it exactly', async () => {
    const src = source();
    const large = JSON.stringify({ blob: randomBytes(1_800_000).toString('base64') }); // ~2.4 MB, several rows
    expect(await one(repo, src, batch('large', large, 1), new Date().toISOString())).toBe('stored');
    const [document] = await repo.documents(src.customerSlug, 'large');
    expect(document).toHaveLength(large.length);
    expect(document).toBe(large);
  });

  it('counts every batch once under 20 concurrent appends to one new session', async () => {
    const src = source();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        one(repo, src, batch('busy', `{"n":${i}}`, 1, i.toString(16).padStart(32, '0')), new Date().toISOString()),
      ),
    );
    expect(results.every((r) => r === 'stored')).toBe(true);
    expect(await repo.get(src.customerSlug, 'busy')).toMatchObject({ spanCount: 20, batchCount: 20 });
    expect(await repo.documents(src.customerSlug, 'busy')).toHaveLength(20);
  });

  it('writes each batch in one round trip: one transaction, and the opening and index entry of a new session beside it', async () => {
    const src = source();
    const fresh = new TableSessionRepository([services.storage]);
    const appendOps = async (b: SessionBatch) => {
      const since = performance.timeOrigin + performance.now();
      expect(await one(fresh, src, b, new Date().toISOString())).toBe('stored');
      return services.storage.operations.recent(since).filter((r) => r.table === 'sessions');
    };
    const first = await appendOps(batch('one-trip', '{"n":1}', 1));
    expect(first.map((r) => r.kind)).toEqual(['batch', 'batch', 'batch']); // the batch, the session's opening, its index entry
    expect(Math.max(...first.map((r) => r.startedAt))).toBeLessThan(Math.min(...first.map((r) => r.endedAt))); // side by side
    expect(new Set(first.map((r) => r.partition))).toEqual(
      new Set([sessionPartition(src.customerSlug, 'one-trip'), sessionListPartition(src.customerSlug, 'one-trip')]),
    );
    const next = await appendOps(batch('one-trip', '{"n":2}', 1));
    expect(next.map((r) => [r.kind, r.entities])).toEqual([['batch', 2]]); // part 000 and its pending counts; nothing read
  });

  it("spreads one customer's sessions over its partitions", async () => {
    const src = source();
    const partitions = new Set(Array.from({ length: 3000 }, (_, i) => sessionPartition(src.customerSlug, `spread-${i}`)));
    expect(partitions.size).toBe(SESSION_PARTITIONS);
  });

  it('folds pending counts into the summary without losing or doubling one, and reads them exactly meanwhile', async () => {
    const src = source();
    // Two instances write the same session at once; each folds after every 5 of its batches.
    const first = new TableSessionRepository([services.storage], { foldAfterBatches: 5 });
    const second = new TableSessionRepository([services.storage], { foldAfterBatches: 5 });
    // A reader lists and reads the session all along: a count read across a fold (counted twice,
    // or not at all) would show as a count that goes down between two reads.
    const seen: number[] = [];
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const [listed] = (await repo.list(src.customerSlug, { limit: 10 })).items;
        const got = await repo.get(src.customerSlug, 'folded');
        for (const session of [listed, got]) if (session) seen.push(session.spanCount);
      }
    })();
    try {
      await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          one(i % 2 ? first : second, src, batch('folded', `{"n":${i}}`, 2, i.toString(16).padStart(32, '0')), new Date().toISOString()),
        ),
      );
      expect(await repo.get(src.customerSlug, 'folded')).toMatchObject({ spanCount: 120, batchCount: 60 });
      await Promise.all([first.settle(), second.settle()]);
    } finally {
      writing = false;
      await reader;
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((count, i) => count > 120 || (i > 0 && count < seen[i - 1]!))).toEqual([]);
    expect(await repo.get(src.customerSlug, 'folded')).toMatchObject({ spanCount: 120, batchCount: 60 });
    const pk = sessionPartition(src.customerSlug, 'folded');
    const pending: Array<Record<string, unknown>> = [];
    for await (const row of services.storage.clients.sessions.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${pk} and RowKey ge 'p_' and RowKey lt 'p\`'` },
    }))
      pending.push(row);
    expect(pending.length).toBeLessThan(60); // folded, at least in part (folds that lose a race leave theirs for later)
    // The fold count moved with the summary, in every fold's one transaction.
    const mark = pending.find((row) => String(row.rowKey).endsWith('_folds'));
    const summaries: Array<Record<string, unknown>> = [];
    for await (const row of services.storage.clients.sessions.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${pk} and RowKey ge 's_' and RowKey lt 's\`'` },
    }))
      summaries.push(row);
    expect(summaries).toHaveLength(1);
    expect(mark?.folds).toBeGreaterThan(0);
    expect(summaries[0]!.folds).toBe(mark?.folds);
    expect((await repo.list(src.customerSlug, { limit: 10 })).items).toMatchObject([
      { sessionId: 'folded', spanCount: 120, batchCount: 60 },
    ]);
  });

  it('still finds and lists a session whose opening was lost, and opens it when its counts are folded', async () => {
    const src = source();
    const writer = new TableSessionRepository([services.storage], { foldAfterBatches: 3 });
    await one(writer, src, batch('orphan', '{"n":0}', 1, '0'.repeat(32)), '2026-01-01T00:00:00.000Z');
    // As if the process had stopped between the batch's transaction and the session's opening.
    const pk = sessionPartition(src.customerSlug, 'orphan');
    const opening = [];
    for await (const row of services.storage.clients.sessions.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${pk} and (RowKey ge 'i_' and RowKey lt 'i\`' or RowKey ge 's_' and RowKey lt 's\`')` },
    }))
      opening.push(row);
    expect(opening).toHaveLength(2);
    for (const row of opening) await services.storage.clients.sessions.deleteEntity(pk, row.rowKey!);

    const reader = new TableSessionRepository([services.storage]);
    expect(await reader.get(src.customerSlug, 'orphan')).toMatchObject({
      spanCount: 1,
      keyLabel: 'ingest',
      firstReceivedAt: '2026-01-01T00:00:00.000Z',
    });
    // Its index entry stands: listed from its batches meanwhile.
    expect((await reader.list(src.customerSlug, { limit: 10 })).items).toMatchObject([
      { sessionId: 'orphan', spanCount: 1, batchCount: 1, firstReceivedAt: '2026-01-01T00:00:00.000Z' },
    ]);

    // Its writer believes it opened; its third batch here folds the counts and opens it then.
    await one(writer, src, batch('orphan', '{"n":1}', 1, '1'.repeat(32)), '2026-01-01T00:00:01.000Z');
    await one(writer, src, batch('orphan', '{"n":2}', 1, '2'.repeat(32)), '2026-01-01T00:00:02.000Z');
    await writer.settle();
    expect((await reader.list(src.customerSlug, { limit: 10 })).items).toMatchObject([
      {
        sessionId: 'orphan',
        spanCount: 3,
        batchCount: 3,
        firstReceivedAt: '2026-01-01T00:00:00.000Z',
        lastReceivedAt: '2026-01-01T00:00:02.000Z',
      },
    ]);
  });

  it("writes a request's sessions one transaction per partition, and tells stored from duplicate batches in a retried request", async () => {
    const src = source();
    const lazy = (n: number) => {
      const b = batch(`multi-${n}`, `{"n":${n}}`, 1, n.toString(16).padStart(32, '0'));
      return { sessionId: b.sessionId, build: () => b };
    };
    const fresh = new TableSessionRepository([services.storage]);
    const half = Array.from({ length: 100 }, (_, n) => lazy(n));
    const all = Array.from({ length: 200 }, (_, n) => lazy(n));
    const since = performance.timeOrigin + performance.now();
    const first = await fresh.append(src, half, shared, new Date().toISOString());
    expect(first).toMatchObject({ stored: 100, duplicates: 0 });
    const writes = services.storage.operations.recent(since).filter((r) => r.table === 'sessions' && r.kind === 'batch');
    // What the batch meter charges for: every transaction the append made, the index's included.
    expect(first.transactions).toBe(writes.length);
    const partitions = new Set(half.map((l) => sessionPartition(src.customerSlug, l.sessionId)));
    const listPartitions = new Set(half.map((l) => sessionListPartition(src.customerSlug, l.sessionId)));
    // Each partition: its batches, and its openings; each index partition: its entries.
    expect(writes).toHaveLength(2 * partitions.size + listPartitions.size);
    // The same request again with 100 more sessions: a lost response retried by a client that added to it.
    expect(await fresh.append(src, all, shared, new Date().toISOString())).toMatchObject({ stored: 100, duplicates: 100 });
    for (const n of [0, 99, 100, 199])
      expect(await repo.get(src.customerSlug, `multi-${n}`)).toMatchObject({ spanCount: 1, batchCount: 1 });
    expect(await new TableSessionRepository([services.storage]).append(src, all, shared, new Date().toISOString())).toMatchObject({
      stored: 0,
      duplicates: 200,
    });
  });

  it('pages a rare key label with bounded reads per page, ending short with a cursor rather than scanning everything', async () => {
    const src = source();
    // 40 sessions in one index partition, all newer than the one session of another key label.
    const target = sessionListPartition(src.customerSlug, 'crowd-0');
    const crowd: string[] = [];
    for (let i = 0; crowd.length < 40; i++) if (sessionListPartition(src.customerSlug, `crowd-${i}`) === target) crowd.push(`crowd-${i}`);
    let rare = '';
    for (let i = 0; !rare; i++) if (sessionListPartition(src.customerSlug, `rare-${i}`) === target) rare = `rare-${i}`;
    const fresh = new TableSessionRepository([services.storage]);
    await one(fresh, { ...src, keyLabel: 'rare' }, batch(rare, '{}'), '2026-01-01T00:00:00.000Z');
    for (const [n, id] of crowd.entries())
      await one(fresh, src, batch(id, '{}'), new Date(Date.parse('2026-01-01T00:01:00.000Z') + n * 1000).toISOString());

    const found: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const since = performance.timeOrigin + performance.now();
      const page = await fresh.list(src.customerSlug, { limit: 1, keyLabel: 'rare', ...(cursor ? { cursor } : {}) });
      const reads = services.storage.operations.recent(since).filter((r) => r.table === 'sessions' && r.kind === 'query');
      expect(reads.length).toBeLessThanOrEqual(LIST_PARTITIONS + 1); // one page of each index partition, then the page's counts
      found.push(...page.items.map((s) => s.sessionId));
      cursor = page.cursor;
      pages++;
    } while (cursor && pages < 20);
    expect(found).toEqual([rare]);
    expect(pages).toBeGreaterThan(1); // the first page ended short: 32 entries of the partition read, none of them "rare"
  });
});
