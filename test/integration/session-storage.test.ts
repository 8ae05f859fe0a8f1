import { createHash, randomBytes } from 'node:crypto';
import { TableSessionRepository } from '../../shared/adapters/table/table-session-repository';
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

describe('sessions on Table Storage (Azurite)', () => {
  const services = testServices();
  const repo = new TableSessionRepository(services.storage);

  it('stores a session with its audit metadata and documents', async () => {
    const src = source();
    expect(await repo.append(src, batch('sess/one?#', '{"a":1}'), '2026-01-01T00:00:05.000Z')).toBe('stored');
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
    await repo.append(src, batch('sbx', '{}'), new Date().toISOString());
    expect(await repo.get(src.customerSlug, 'sbx')).toMatchObject({ sandbox: true, anchor: 'never', environment: 'test' });
  });

  it('recognises a retried batch and does not count it twice', async () => {
    const src = source();
    const b = batch('retry', '{"spans":[1,2]}', 2);
    expect(await repo.append(src, b, '2026-01-01T00:00:00.000Z')).toBe('stored');
    expect(await repo.append(src, b, '2026-01-01T00:00:09.000Z')).toBe('duplicate');
    expect(await repo.append(src, batch('retry', '{"spans":[3]}', 1, 'b'.repeat(32)), '2026-01-01T00:00:10.000Z')).toBe('stored');
    const stored = await repo.get(src.customerSlug, 'retry');
    expect(stored).toMatchObject({ spanCount: 3, batchCount: 2, lastReceivedAt: '2026-01-01T00:00:10.000Z' });
    expect(stored!.traceIds.sort()).toEqual(['a'.repeat(32), 'b'.repeat(32)]);
    expect(await repo.documents(src.customerSlug, 'retry')).toEqual(['{"spans":[1,2]}', '{"spans":[3]}']);
  });

  it('splits a large document over rows and reassembles it exactly', async () => {
    const src = source();
    const large = JSON.stringify({ blob: randomBytes(1_800_000).toString('base64') }); // ~2.4 MB, several rows
    expect(await repo.append(src, batch('large', large, 1), new Date().toISOString())).toBe('stored');
    const [document] = await repo.documents(src.customerSlug, 'large');
    expect(document).toHaveLength(large.length);
    expect(document).toBe(large);
  });

  it('counts every batch once under 20 concurrent appends to one new session', async () => {
    const src = source();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        repo.append(src, batch('busy', `{"n":${i}}`, 1, i.toString(16).padStart(32, '0')), new Date().toISOString()),
      ),
    );
    expect(results.every((r) => r === 'stored')).toBe(true);
    expect(await repo.get(src.customerSlug, 'busy')).toMatchObject({ spanCount: 20, batchCount: 20 });
    expect(await repo.documents(src.customerSlug, 'busy')).toHaveLength(20);
  });
});
