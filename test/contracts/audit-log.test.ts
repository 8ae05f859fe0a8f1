import { MemoryAuditLog } from '../../shared/adapters/memory/memory-audit-log';
import { TableAuditLog } from '../../shared/adapters/table/table-audit-log';
import type { AuditEvent } from '../../shared/domain';
import type { AuditLog } from '../../shared/ports/audit-log';
import { at, auditEvent, freshSlug, freshTableStorage, staff } from './support/small-ports';

/** The AuditLog port (shared/ports/audit-log.ts): one behaviour, whichever adapter holds the log. */
const adapters: Array<[string, () => Promise<AuditLog>]> = [
  ['memory', async () => new MemoryAuditLog()],
  ['table (Azurite)', async () => new TableAuditLog(await freshTableStorage('customers'))],
];

/** Every event of the customer, following the cursors from the first page to the last. */
async function allPages(log: AuditLog, slug: string, limit: number): Promise<{ pages: AuditEvent[][]; ids: string[] }> {
  const pages: AuditEvent[][] = [];
  let cursor: string | undefined;
  do {
    const page = await log.list(slug, { limit, ...(cursor ? { cursor } : {}) });
    pages.push(page.items);
    cursor = page.cursor;
  } while (cursor && pages.length < 50);
  return { pages, ids: pages.flat().map((e) => e.id) };
}

describe.each(adapters)('AuditLog contract: %s', (_adapter, make) => {
  let log: AuditLog;
  beforeEach(async () => {
    log = await make();
  });

  it("lists a customer's events newest first, whatever order they were appended in", async () => {
    const slug = freshSlug();
    const events = [auditEvent(slug, at(2)), auditEvent(slug, at(0)), auditEvent(slug, at(3)), auditEvent(slug, at(1))];
    for (const event of events) await log.append(event);
    const page = await log.list(slug, { limit: 10 });
    expect(page.items.map((e) => e.at)).toEqual([at(3), at(2), at(1), at(0)]);
    expect(page.cursor).toBeUndefined();
  });

  it('gives back each event as appended, every field', async () => {
    const slug = freshSlug();
    const event = auditEvent(slug, at(5), {
      type: 'key.revoked',
      actor: staff,
      keyId: 'key_01HZY0000000000000000000AA',
      keyRequestId: 'req_01HZY0000000000000000000BB',
      requestId: 'req-abc',
      details: { reason: 'exposed', nested: { count: 2, flags: [true, false] } },
    });
    const bare = auditEvent(slug, at(4));
    await log.append(event);
    await log.append(bare);
    expect((await log.list(slug, { limit: 10 })).items).toEqual([event, bare]);
  });

  it("lists only that customer's events; a customer without any has an empty last page", async () => {
    const mine = freshSlug();
    const theirs = freshSlug();
    await log.append(auditEvent(theirs, at(1)));
    const own = auditEvent(mine, at(0));
    await log.append(own);
    await log.append(auditEvent(theirs, at(2)));
    expect((await log.list(mine, { limit: 10 })).items).toEqual([own]);
    expect(await log.list(freshSlug(), { limit: 10 })).toEqual({ items: [], cursor: undefined });
  });

  it('pages: at most `limit` events a page, every event exactly once across the pages, newest first, the last page without a cursor', async () => {
    const slug = freshSlug();
    // Seven events, three of them at the same instant: ties page like any other events.
    const times = [at(1), at(2), at(3), at(3), at(3), at(4), at(5)];
    const events = times.map((t) => auditEvent(slug, t));
    for (const event of [...events].reverse()) await log.append(event);
    const { pages, ids } = await allPages(log, slug, 3);
    for (const page of pages) expect(page.length).toBeLessThanOrEqual(3);
    expect(pages[0]).toHaveLength(3);
    expect(ids).toHaveLength(7);
    expect(new Set(ids)).toEqual(new Set(events.map((e) => e.id)));
    const listed = pages.flat().map((e) => e.at);
    expect(listed).toEqual([...listed].sort().reverse());
  });

  it('resumes a page where the previous one ended: events appended meanwhile neither repeat nor hide an older event', async () => {
    const slug = freshSlug();
    const older = [at(1), at(2), at(3), at(4)].map((t) => auditEvent(slug, t));
    for (const event of older) await log.append(event);
    const first = await log.list(slug, { limit: 2 });
    expect(first.items.map((e) => e.at)).toEqual([at(4), at(3)]);
    // Two newer events arrive while the reader looks at the first page.
    await log.append(auditEvent(slug, at(10)));
    await log.append(auditEvent(slug, at(11)));
    const second = await log.list(slug, { limit: 2, cursor: first.cursor! });
    expect(second.items.map((e) => e.at)).toEqual([at(2), at(1)]);
  });

  it('refuses a cursor that is not one it gave (validation_failed), and one it gave for another customer', async () => {
    const slug = freshSlug();
    const other = freshSlug();
    for (const t of [at(1), at(2), at(3)]) {
      await log.append(auditEvent(slug, t));
      await log.append(auditEvent(other, t));
    }
    const first = await log.list(slug, { limit: 1 });
    expect(first.cursor).toEqual(expect.any(String));
    await expect(log.list(slug, { limit: 1, cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(log.list(other, { limit: 1, cursor: first.cursor! })).rejects.toMatchObject({ code: 'validation_failed' });
  });
});
