import { MemorySessionRepository } from '../../shared/adapters/memory/memory-session-repository';
import { TableSessionRepository } from '../../shared/adapters/table/table-session-repository';
import { TableStorage } from '../../shared/adapters/table/table-storage';
import type { KeyValueJson, SpanJson } from '../../shared/otlp/otlp-json';
import { groupSessions, sessionBatch } from '../../shared/otlp/sessions';
import type { Page } from '../../shared/ports/audit-log';
import type {
  AppendResult,
  IngestSource,
  LazyBatch,
  SessionQuery,
  SessionRepository,
  SharedBatchContext,
  StoredSession,
} from '../../shared/ports/session-repository';
import { azuriteConnectionString, uniquePrefix } from '../support/services';

/**
 * The SessionRepository port (shared/ports/session-repository.ts), as its doc comments promise,
 * run against the in-memory fake and the Table adapter alike. Batches are built the way ingest
 * builds them (groupSessions, sessionBatch), so documents are checked as the OTLP/JSON they
 * stand for. Row layout, operation counts and crash recovery stay in
 * test/integration/session-storage.test.ts.
 */

interface Subject {
  repo: SessionRepository;
  /** Waits for work the adapter does after an append resolves (the Table adapter's folds). */
  settle(): Promise<void>;
}

const adapters: Array<[string, () => Promise<Subject>]> = [
  [
    'memory',
    async () => {
      const repo = new MemorySessionRepository();
      return { repo, settle: async () => undefined };
    },
  ],
  [
    'table (Azurite)',
    async () => {
      const storage = new TableStorage(
        { connectionString: azuriteConnectionString(), endpoint: undefined, prefix: uniquePrefix(), timeoutMs: 10_000 },
        { tables: ['sessions'] },
      );
      // Folds after every 3 batches a session gets here (32 in production), so the cases below
      // read counts before, during and after folds.
      const repo = new TableSessionRepository([storage], { foldAfterBatches: 3 });
      return { repo, settle: () => repo.settle() };
    },
  ],
];

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
/** An instant `seconds` after T0, as ISO 8601. */
const at = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();
const nanos = (iso: string): string => (BigInt(Date.parse(iso)) * 1_000_000n).toString();
const TRACE_A = 'a'.repeat(32);
const TRACE_B = 'b'.repeat(32);

let spanCounter = 0;
/** A span of a session (by its `session.id` attribute, or of its trace when `sessionId` is undefined). */
function span(
  sessionId: string | undefined,
  options: { trace?: string; start?: string; end?: string; attributes?: KeyValueJson[] } = {},
): SpanJson {
  spanCounter += 1;
  return {
    traceId: options.trace ?? TRACE_A,
    spanId: spanCounter.toString(16).padStart(16, '0'),
    name: `step-${spanCounter}`,
    kind: 1,
    startTimeUnixNano: nanos(options.start ?? at(-2)),
    endTimeUnixNano: nanos(options.end ?? at(-1)),
    attributes: [
      ...(sessionId === undefined ? [] : [{ key: 'session.id', value: { stringValue: sessionId } }]),
      ...(options.attributes ?? []),
    ],
  };
}

interface Resource {
  service?: string;
  /** Characters of an extra resource attribute (makes the shared document large). */
  padding?: number;
}
const SCOPE = { name: 'contract-tests', version: '1.0.0' };
const resourceOf = (resource: Resource) => ({
  attributes: [
    ...(resource.service === undefined ? [] : [{ key: 'service.name', value: { stringValue: resource.service } }]),
    ...(resource.padding ? [{ key: 'padding', value: { stringValue: 'r'.repeat(resource.padding) } }] : []),
  ],
});

interface Request {
  batches: LazyBatch[];
  shared: SharedBatchContext;
}
/** One export request of `spans` under one resource and scope, split into sessions as ingest splits it. */
function request(spans: SpanJson[], resource: Resource = { service: 'checkout-api' }): Request {
  const grouped = groupSessions({
    resourceSpans: [{ resource: resourceOf(resource), scopeSpans: [{ scope: SCOPE, spans }] }],
    acceptedSpans: spans.length,
    rejectedSpans: 0,
    rejectionMessage: undefined,
  });
  return {
    shared: grouped.shared,
    batches: grouped.sessions.map((group) => ({ sessionId: group.sessionId, build: () => sessionBatch(group, grouped.shared) })),
  };
}

/** The OTLP/JSON a stored batch of `spans` under that resource stands for. */
const documentOf = (spans: SpanJson[], resource: Resource = { service: 'checkout-api' }) => ({
  resourceSpans: [{ resource: resourceOf(resource), scopeSpans: [{ scope: SCOPE, spans }] }],
});

const source = (overrides: Partial<IngestSource> = {}): IngestSource => ({
  customerId: 'cus_acme',
  customerSlug: 'acme',
  keyId: 'key_checkout',
  keyLabel: 'checkout-ci',
  application: 'checkout',
  environment: 'live',
  ...overrides,
});

describe.each(adapters)('SessionRepository contract: %s', (_name, make) => {
  let subject: Subject;
  let repo: SessionRepository;
  beforeEach(async () => {
    subject = await make();
    repo = subject.repo;
  });
  afterEach(() => subject.settle());

  /** Appends one request's batches as `from` sent them at `receivedAt`. */
  const send = (
    spans: SpanJson[],
    receivedAt: string,
    options: { from?: IngestSource; resource?: Resource } = {},
  ): Promise<AppendResult> => {
    const { batches, shared } = request(spans, options.resource);
    return repo.append(options.from ?? source(), batches, shared, receivedAt);
  };
  /** Every page of a listing, each checked to hold at most `limit` sessions. */
  const listAll = async (customerSlug: string, query: Omit<SessionQuery, 'cursor'>): Promise<StoredSession[]> => {
    const all: StoredSession[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 50; pages++) {
      const page: Page<StoredSession> = await repo.list(customerSlug, { ...query, ...(cursor ? { cursor } : {}) });
      expect(page.items.length).toBeLessThanOrEqual(query.limit);
      all.push(...page.items);
      cursor = page.cursor;
      if (!cursor) return all;
    }
    throw new Error('the listing did not end within 50 pages');
  };
  const ids = (sessions: StoredSession[]) => sessions.map((s) => s.sessionId);

  describe('append and get', () => {
    it('opens a session on its first batch, with who sent it, and reads it back', async () => {
      const id = 'checkout/4711?#ü';
      const result = await send([span(id, { trace: TRACE_A, start: at(-5), end: at(-4) })], at(0));
      expect(result).toMatchObject({ stored: 1, duplicates: 0 });
      expect(await repo.get('acme', id)).toEqual<StoredSession>({
        sessionId: id,
        sessionIdSource: 'attribute',
        serviceName: 'checkout-api',
        keyId: 'key_checkout',
        keyLabel: 'checkout-ci',
        application: 'checkout',
        environment: 'live',
        sandbox: false,
        anchor: 'pending',
        spanCount: 1,
        batchCount: 1,
        traceIds: [TRACE_A],
        startedAt: at(-5),
        endedAt: at(-4),
        firstReceivedAt: at(0),
        lastReceivedAt: at(0),
      });
    });

    it("marks a test key's sessions as sandbox, never to be anchored", async () => {
      await send([span('sandboxed')], at(0), { from: source({ environment: 'test', keyId: 'key_test' }) });
      expect(await repo.get('acme', 'sandboxed')).toMatchObject({ environment: 'test', sandbox: true, anchor: 'never' });
    });

    it('stores a span without a session id under its trace, as a session of its own', async () => {
      await send([span(undefined, { trace: TRACE_B })], at(0));
      expect(await repo.get('acme', TRACE_B)).toMatchObject({ sessionId: TRACE_B, sessionIdSource: 'trace', spanCount: 1 });
    });

    it('answers undefined and no documents for a session it does not hold, and keeps customers apart', async () => {
      await send([span('same-id'), span('same-id')], at(0));
      await send([span('same-id')], at(1), { from: source({ customerId: 'cus_globex', customerSlug: 'globex', keyId: 'key_globex' }) });
      expect(await repo.get('acme', 'other-id')).toBeUndefined();
      expect(await repo.documents('acme', 'other-id')).toEqual([]);
      expect(await repo.get('initech', 'same-id')).toBeUndefined();
      expect(await repo.documents('initech', 'same-id')).toEqual([]);
      expect(await repo.get('acme', 'same-id')).toMatchObject({ keyId: 'key_checkout', spanCount: 2, firstReceivedAt: at(0) });
      expect(await repo.get('globex', 'same-id')).toMatchObject({ keyId: 'key_globex', spanCount: 1, firstReceivedAt: at(1) });
      expect(await repo.documents('globex', 'same-id')).toHaveLength(1);
      expect(ids((await repo.list('globex', { limit: 10 })).items)).toEqual(['same-id']);
      expect(await repo.list('initech', { limit: 10 })).toEqual({ items: [], cursor: undefined });
    });

    it('adds later batches to the session: counts summed, trace ids merged, span times widened, arrivals kept', async () => {
      await send([span('long', { trace: TRACE_A, start: at(-10), end: at(-8) }), span('long', { trace: TRACE_A })], at(0));
      // A batch of earlier spans arriving later (a client flushing out of order).
      await send([span('long', { trace: TRACE_B, start: at(-20), end: at(-19) })], at(5));
      await send([span('long', { trace: TRACE_A, start: at(-3), end: at(3) })], at(9));
      // Stamped earlier than the last one by an instance whose clock is behind.
      await send([span('long', { trace: TRACE_A, start: at(-4), end: at(-3) })], at(7));
      const expected = {
        spanCount: 5,
        batchCount: 4,
        startedAt: at(-20),
        endedAt: at(3),
        firstReceivedAt: at(0),
        lastReceivedAt: at(9),
      };
      const read = await repo.get('acme', 'long');
      expect(read).toMatchObject(expected);
      expect([...read!.traceIds].sort()).toEqual([TRACE_A, TRACE_B]);
      await subject.settle();
      expect(await repo.get('acme', 'long')).toMatchObject(expected);
    });

    it('keeps who opened the session: a later batch from another key changes none of it', async () => {
      await send([span('opened')], at(0));
      await send([span('opened')], at(1), {
        from: source({ keyId: 'key_nightly', keyLabel: 'nightly', application: 'batch' }),
        resource: { service: 'batch-runner' },
      });
      expect(await repo.get('acme', 'opened')).toMatchObject({
        keyId: 'key_checkout',
        keyLabel: 'checkout-ci',
        application: 'checkout',
        serviceName: 'checkout-api',
        spanCount: 2,
        batchCount: 2,
      });
    });

    it('keeps where the session id came from as its first batch said', async () => {
      // The same text first named by a `session.id` attribute, then only by a trace id.
      await send([span(TRACE_B, { trace: TRACE_A })], at(0));
      await send([span(undefined, { trace: TRACE_B })], at(1));
      expect(await repo.get('acme', TRACE_B)).toMatchObject({ sessionIdSource: 'attribute', batchCount: 2 });
    });

    it('takes the service name from a later batch when the first had none, folded or not', async () => {
      await send([span('unnamed')], at(0), { resource: {} });
      await send([span('unnamed')], at(1));
      expect(await repo.get('acme', 'unnamed')).toMatchObject({ serviceName: 'checkout-api' });
      for (let i = 2; i < 6; i++) await send([span('unnamed')], at(i));
      await subject.settle();
      expect(await repo.get('acme', 'unnamed')).toMatchObject({ serviceName: 'checkout-api', batchCount: 6 });
    });

    it('reads exact counts after every batch, before, during and after the counts are folded', async () => {
      const seen: Array<[number, number, number | undefined]> = [];
      for (let i = 0; i < 10; i++) {
        await send([span('counted'), span('counted')], at(i));
        const got = await repo.get('acme', 'counted');
        const [listed] = (await repo.list('acme', { limit: 5 })).items;
        seen.push([got!.spanCount, got!.batchCount, listed?.spanCount]);
      }
      expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => [2 * (i + 1), i + 1, 2 * (i + 1)]));
      await subject.settle();
      expect(await repo.get('acme', 'counted')).toMatchObject({ spanCount: 20, batchCount: 10, lastReceivedAt: at(9) });
    });
  });

  describe('retries', () => {
    it('recognises a batch stored before and does not count it again', async () => {
      const first = request([span('retried'), span('retried')]);
      expect(await repo.append(source(), first.batches, first.shared, at(0))).toMatchObject({ stored: 1, duplicates: 0 });
      expect(await repo.append(source(), first.batches, first.shared, at(7))).toMatchObject({ stored: 0, duplicates: 1 });
      expect(await repo.get('acme', 'retried')).toMatchObject({ spanCount: 2, batchCount: 1, lastReceivedAt: at(0) });
      expect(await repo.documents('acme', 'retried')).toHaveLength(1);
    });

    it('tells stored from duplicate batches in a retried request that gained a session', async () => {
      const spans = [span('r-1'), span('r-2'), span('r-1')];
      const first = request(spans);
      expect(await repo.append(source(), first.batches, first.shared, at(0))).toMatchObject({ stored: 2, duplicates: 0 });
      const again = request([...spans, span('r-3')]);
      expect(await repo.append(source(), again.batches, again.shared, at(1))).toMatchObject({ stored: 1, duplicates: 2 });
      expect(await repo.get('acme', 'r-1')).toMatchObject({ spanCount: 2, batchCount: 1 });
      expect(await repo.get('acme', 'r-2')).toMatchObject({ spanCount: 1, batchCount: 1 });
      expect(await repo.get('acme', 'r-3')).toMatchObject({ spanCount: 1, batchCount: 1, firstReceivedAt: at(1) });
    });

    it('stores each batch of concurrent requests to one new session once', async () => {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => send([span('busy', { trace: TRACE_A })], at(i))));
      expect(results.map((r) => [r.stored, r.duplicates])).toEqual(Array.from({ length: 8 }, () => [1, 0]));
      expect(await repo.get('acme', 'busy')).toMatchObject({ spanCount: 8, batchCount: 8 });
      expect(await repo.documents('acme', 'busy')).toHaveLength(8);
    });
  });

  describe('documents', () => {
    it('gives back each batch as OTLP/JSON with its resource and scope, in arrival order', async () => {
      const batches = [
        { spans: [span('doc'), span('doc', { trace: TRACE_B })], resource: { service: 'checkout-api' } },
        { spans: [span('doc')], resource: { service: 'payments' } },
        { spans: [span('doc', { attributes: [{ key: 'step', value: { intValue: '3' } }] })], resource: {} },
      ];
      for (const [i, b] of batches.entries()) await send(b.spans, at(i), { resource: b.resource });
      const documents = (await repo.documents('acme', 'doc')).map((d) => JSON.parse(d) as unknown);
      expect(documents).toEqual(batches.map((b) => documentOf(b.spans, b.resource)));
    });

    it("gives each session of a request only its own spans, under the request's resource", async () => {
      const a = [span('mixed-a'), span('mixed-a')];
      const b = [span('mixed-b')];
      expect(await send([a[0]!, b[0]!, a[1]!], at(0))).toMatchObject({ stored: 2, duplicates: 0 });
      expect((await repo.documents('acme', 'mixed-a')).map((d) => JSON.parse(d) as unknown)).toEqual([documentOf(a)]);
      expect((await repo.documents('acme', 'mixed-b')).map((d) => JSON.parse(d) as unknown)).toEqual([documentOf(b)]);
    });

    it('keeps a large resource and a large batch whole', async () => {
      const resource = { service: 'checkout-api', padding: 40_000 };
      const big = [span('big', { attributes: [{ key: 'payload', value: { stringValue: 'x'.repeat(450_000) } }] })];
      const small = [span('beside')];
      await send([...big, ...small], at(0), { resource });
      await send([span('big')], at(1), { resource }); // the large resource again, from a second request
      const documents = await repo.documents('acme', 'big');
      expect(documents).toHaveLength(2);
      expect(JSON.parse(documents[0]!)).toEqual(documentOf(big, resource));
      expect(JSON.parse(documents[1]!)).toMatchObject({ resourceSpans: [{ resource: resourceOf(resource) }] });
      expect((await repo.documents('acme', 'beside')).map((d) => JSON.parse(d) as unknown)).toEqual([documentOf(small, resource)]);
    });
  });

  describe('list', () => {
    it("lists a customer's sessions newest first by first arrival, with their counts", async () => {
      await send([span('first')], at(0));
      await send([span('second')], at(10));
      await send([span('third'), span('third')], at(20));
      await send([span('first')], at(30)); // a later batch does not move a session up
      const page = await repo.list('acme', { limit: 10 });
      expect(page.cursor).toBeUndefined();
      expect(page.items.map((s) => [s.sessionId, s.spanCount, s.firstReceivedAt, s.lastReceivedAt])).toEqual([
        ['third', 2, at(20), at(20)],
        ['second', 1, at(10), at(10)],
        ['first', 2, at(0), at(30)],
      ]);
      expect(page.items[0]).toEqual(await repo.get('acme', 'third'));
    });

    it('pages through every session once, newest first', async () => {
      for (let i = 0; i < 7; i++) await send([span(`paged-${i}`)], at(i));
      const first = await repo.list('acme', { limit: 3 });
      expect(first.cursor).toEqual(expect.any(String));
      expect(ids(await listAll('acme', { limit: 3 }))).toEqual([
        'paged-6',
        'paged-5',
        'paged-4',
        'paged-3',
        'paged-2',
        'paged-1',
        'paged-0',
      ]);
    });

    it('pages sessions first seen at the same instant each exactly once', async () => {
      await send(
        Array.from({ length: 5 }, (_, i) => span(`tied-${i}`)),
        at(5),
      );
      await send([span('before')], at(0));
      await send([span('after')], at(9));
      const listed = ids(await listAll('acme', { limit: 2 }));
      expect(listed).toHaveLength(7);
      expect(listed[0]).toBe('after');
      expect(listed[6]).toBe('before');
      expect(new Set(listed.slice(1, 6))).toEqual(new Set(Array.from({ length: 5 }, (_, i) => `tied-${i}`)));
    });

    it("continues from a page's last session, whatever arrived since", async () => {
      for (let i = 0; i < 4; i++) await send([span(`older-${i}`)], at(i));
      const first = await repo.list('acme', { limit: 2 });
      expect(ids(first.items)).toEqual(['older-3', 'older-2']);
      await send([span('newer-0')], at(10));
      await send([span('newer-1')], at(11));
      const second = await repo.list('acme', { limit: 2, cursor: first.cursor! });
      expect(ids(second.items)).toEqual(['older-1', 'older-0']);
      if (second.cursor) expect((await repo.list('acme', { limit: 2, cursor: second.cursor })).items).toEqual([]);
    });

    it('narrows to the key label a session was opened with', async () => {
      const nightly = source({ keyId: 'key_nightly', keyLabel: 'nightly' });
      for (let i = 0; i < 6; i++) await send([span(`labelled-${i}`)], at(i), i % 2 ? { from: nightly } : {});
      await send([span('labelled-0')], at(10), { from: nightly }); // opened by checkout-ci: stays there
      expect(ids(await listAll('acme', { limit: 2, keyLabel: 'nightly' }))).toEqual(['labelled-5', 'labelled-3', 'labelled-1']);
      expect(ids(await listAll('acme', { limit: 2, keyLabel: 'checkout-ci' }))).toEqual(['labelled-4', 'labelled-2', 'labelled-0']);
      expect(await listAll('acme', { limit: 2, keyLabel: 'nobody' })).toEqual([]);
    });

    it('narrows to a window of first arrival, both ends included, with or without a key label', async () => {
      const nightly = source({ keyId: 'key_nightly', keyLabel: 'nightly' });
      for (let i = 0; i < 5; i++) await send([span(`w-${i * 10}`)], at(i * 10), i === 2 ? { from: nightly } : {});
      await send([span('w-0')], at(25)); // a later batch does not bring a session into a later window
      expect(ids(await listAll('acme', { limit: 10, from: at(10), to: at(30) }))).toEqual(['w-30', 'w-20', 'w-10']);
      expect(ids(await listAll('acme', { limit: 1, from: at(10), to: at(30) }))).toEqual(['w-30', 'w-20', 'w-10']);
      expect(ids(await listAll('acme', { limit: 10, from: at(25) }))).toEqual(['w-40', 'w-30']);
      expect(ids(await listAll('acme', { limit: 10, to: at(9) }))).toEqual(['w-0']);
      expect(ids(await listAll('acme', { limit: 10, from: at(10), to: at(30), keyLabel: 'checkout-ci' }))).toEqual(['w-30', 'w-10']);
      expect(ids(await listAll('acme', { limit: 10, from: at(10), to: at(30), keyLabel: 'nightly' }))).toEqual(['w-20']);
      expect(await listAll('acme', { limit: 10, from: at(41), to: at(50) })).toEqual([]);
    });

    it('refuses a cursor it did not hand out for this customer', async () => {
      for (let i = 0; i < 3; i++) await send([span(`cursor-${i}`)], at(i));
      await send([span('elsewhere')], at(0), { from: source({ customerId: 'cus_globex', customerSlug: 'globex' }) });
      const { cursor } = await repo.list('acme', { limit: 1 });
      expect(cursor).toEqual(expect.any(String));
      await expect(repo.list('acme', { limit: 1, cursor: 'garbage' })).rejects.toMatchObject({ code: 'validation_failed' });
      await expect(repo.list('globex', { limit: 1, cursor: cursor! })).rejects.toMatchObject({ code: 'validation_failed' });
    });
  });
});
