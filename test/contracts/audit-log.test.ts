import { MemoryAuditLog } from '../../shared/adapters/memory/memory-audit-log';
import { TableAuditLog } from '../../shared/adapters/table/table-audit-log';
import type { AuditEvent } from '../../shared/domain';
import type { AuditLog, FeedPosition } from '../../shared/ports/audit-log';
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

/** Where a reader goes on from after `event`. */
const after = (event: AuditEvent): FeedPosition => ({ at: event.at, id: event.id });

/** The feed followed from the start, `limit` at a time, up to `until`: the pages and whether each said more follow. */
async function wholeFeed(log: AuditLog, slug: string, limit: number, until: string) {
  const pages: AuditEvent[][] = [];
  const hasMore: boolean[] = [];
  let position: FeedPosition | undefined;
  do {
    const page = await log.feed(slug, { limit, until, ...(position ? { after: position } : {}) });
    pages.push(page.items);
    hasMore.push(page.hasMore);
    const last = page.items.at(-1);
    if (last) position = after(last);
  } while (hasMore.at(-1) && pages.length < 50);
  return { pages, hasMore, events: pages.flat() };
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

  describe('the feed: oldest first, from a position', () => {
    it("gives a customer's events oldest first (by instant, then id), only that customer's, whatever order they were appended in", async () => {
      const slug = freshSlug();
      const other = freshSlug();
      const events = [at(2), at(0), at(3), at(1), at(1)].map((t) => auditEvent(slug, t));
      for (const event of events) {
        await log.append(event);
        await log.append(auditEvent(other, event.at));
      }
      const page = await log.feed(slug, { limit: 10, until: at(60) });
      const expected = [...events].sort((a, b) => a.at.localeCompare(b.at) || (a.id < b.id ? -1 : 1));
      expect(page).toEqual({ items: expected, hasMore: false });
      expect(page.items[0]).toEqual(events[1]);
    });

    it('pages: at most `limit` a page, every event once across the pages and in order, `hasMore` on all but the last', async () => {
      const slug = freshSlug();
      // Three events at one instant: a page boundary falls between them.
      const events = [at(1), at(2), at(3), at(3), at(3), at(4), at(5)].map((t) => auditEvent(slug, t));
      for (const event of [...events].reverse()) await log.append(event);
      const { pages, hasMore, events: read } = await wholeFeed(log, slug, 3, at(60));
      expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
      expect(hasMore).toEqual([true, true, false]);
      expect(read.map((e) => e.id)).toEqual(
        [...events].sort((a, b) => a.at.localeCompare(b.at) || (a.id < b.id ? -1 : 1)).map((e) => e.id),
      );
    });

    it('goes on from a position: events appended meanwhile come next, none before the position again', async () => {
      const slug = freshSlug();
      const first = [at(1), at(2)].map((t) => auditEvent(slug, t));
      for (const event of first) await log.append(event);
      const one = await log.feed(slug, { limit: 10, until: at(60) });
      expect(one.items).toEqual(first);
      const later = [at(3), at(4)].map((t) => auditEvent(slug, t));
      for (const event of later) await log.append(event);
      expect(await log.feed(slug, { limit: 10, until: at(60), after: after(first[1]!) })).toEqual({ items: later, hasMore: false });
      expect(await log.feed(slug, { limit: 10, until: at(60), after: after(later[1]!) })).toEqual({ items: [], hasMore: false });
    });

    it('ends at `until`, its instant included: later events wait for a later `until`, and `hasMore` counts only those before it', async () => {
      const slug = freshSlug();
      const events = [at(1), at(2), at(3)].map((t) => auditEvent(slug, t));
      for (const event of events) await log.append(event);
      expect(await log.feed(slug, { limit: 10, until: at(2) })).toEqual({ items: events.slice(0, 2), hasMore: false });
      expect(await log.feed(slug, { limit: 1, until: at(2) })).toEqual({ items: events.slice(0, 1), hasMore: true });
      // A millisecond before an event's instant holds it back.
      const justBefore = new Date(Date.parse(at(3)) - 1).toISOString();
      expect((await log.feed(slug, { limit: 10, until: justBefore, after: after(events[1]!) })).items).toEqual([]);
      expect((await log.feed(slug, { limit: 10, until: at(3), after: after(events[1]!) })).items).toEqual([events[2]]);
    });

    it("a position with the id '' is the start of its instant: that instant's events are after it", async () => {
      const slug = freshSlug();
      const events = [at(1), at(2), at(2), at(3)].map((t) => auditEvent(slug, t));
      for (const event of events) await log.append(event);
      const page = await log.feed(slug, { limit: 10, until: at(60), after: { at: at(2), id: '' } });
      expect(page.items.map((e) => e.at)).toEqual([at(2), at(2), at(3)]);
    });

    it('holds every event the listing holds, instants in the reverse order (each append writes both)', async () => {
      const slug = freshSlug();
      for (const t of [at(5), at(1), at(3), at(4), at(2)]) await log.append(auditEvent(slug, t));
      const listed = (await log.list(slug, { limit: 10 })).items;
      const fed = (await log.feed(slug, { limit: 10, until: at(60) })).items;
      // (Events of one instant are in id order in both.)
      expect(fed).toEqual([...listed].reverse());
    });

    it("reads past the storage service's own page size: 1,001 events, a page of the most (1,000) and then the last one", async () => {
      const slug = freshSlug();
      const events = Array.from({ length: 1001 }, (_, i) => auditEvent(slug, new Date(Date.parse(at(0)) + i).toISOString()));
      for (let i = 0; i < events.length; i += 50) await Promise.all(events.slice(i, i + 50).map((e) => log.append(e)));
      const first = await log.feed(slug, { limit: 1000, until: at(60) });
      expect(first.items).toHaveLength(1000);
      expect(first.hasMore).toBe(true);
      expect(first.items.map((e) => e.id)).toEqual(events.slice(0, 1000).map((e) => e.id));
      const rest = await log.feed(slug, { limit: 1000, until: at(60), after: after(first.items.at(-1)!) });
      expect(rest).toEqual({ items: [events[1000]], hasMore: false });
    }, 120_000);
  });
});
