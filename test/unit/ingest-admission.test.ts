import { ApiError } from '../../shared/errors';
import { systemClock } from '../../shared/clock';
import { IngestAdmission } from '../../shared/services/ingest-admission';
import { IngestMemory } from '../../shared/services/ingest-memory';

describe('ingest admission: the memory requests may hold at once', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('admits while the estimates fit, then in arrival order as memory comes back', async () => {
    const admission = new IngestAdmission(100, 10_000);
    const first = await admission.admit(60);
    const second = await admission.admit(40);
    const order: string[] = [];
    const third = admission.admit(50).then((release) => (order.push('third'), release));
    const fourth = admission.admit(10).then((release) => (order.push('fourth'), release)); // fits, but waits its turn
    await Promise.resolve();
    expect(order).toEqual([]);
    first();
    first(); // releasing twice gives nothing back twice
    await third;
    await fourth;
    expect(order).toEqual(['third', 'fourth']);
    expect(admission.reservedBytes).toBe(100);
    second();
    (await third)();
    (await fourth)();
    expect(admission.reservedBytes).toBe(0);
  });

  it('runs a request costlier than the whole budget alone', async () => {
    const admission = new IngestAdmission(100, 10_000);
    const huge = await admission.admit(500);
    expect(admission.reservedBytes).toBe(100);
    let small = false;
    const waiting = admission.admit(1).then((release) => ((small = true), release));
    await Promise.resolve();
    expect(small).toBe(false);
    huge();
    (await waiting)();
    expect(small).toBe(true);
  });

  it('answers 503 server_busy with Retry-After when the turn does not come in time, and lets the next one in', async () => {
    const admission = new IngestAdmission(100, 10_000);
    const holder = await admission.admit(100);
    const late = admission.admit(80);
    jest.advanceTimersByTime(10_001);
    const error = await late.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'server_busy', status: 503, headers: { 'Retry-After': '1' } });
    holder();
    const next = await admission.admit(100);
    expect(admission.reservedBytes).toBe(100);
    next();
  });
});

describe('ingest memory: reserve before reading, then before decoding', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const memory = (intakeBytes = 100, budgetBytes = 100, random = () => 0) =>
    new IngestMemory({ intakeBytes, budgetBytes, maxWaitMs: 10_000, clock: systemClock, random });
  const settled = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };

  it('holds nothing for a request waiting to be read, and answers it 503 server_busy with Retry-After when its turn does not come', async () => {
    const m = memory();
    const reading = await m.enter(80);
    let read = false;
    const waiting = m.enter(80).then((ticket) => ((read = true), ticket));
    await settled();
    expect(read).toBe(false);
    expect(m.reservedBytes).toEqual({ intake: 80, processing: 0 });
    jest.advanceTimersByTime(10_001);
    await expect(waiting).rejects.toMatchObject({ code: 'server_busy', status: 503, headers: { 'Retry-After': '1' } });
    expect(m.reservedBytes).toEqual({ intake: 80, processing: 0 });
    reading.release();
    expect(m.reservedBytes).toEqual({ intake: 0, processing: 0 });
  });

  it('shrinks the intake to the body kept, letting the next request read', async () => {
    const m = memory();
    const first = await m.enter(90); // its read bound
    const second = m.enter(50);
    await settled();
    expect(m.intake.waitingRequests).toBe(1);
    first.holding(40); // read: the bytes it keeps
    const ticket = await second;
    expect(m.reservedBytes.intake).toBe(90);
    first.holding(60); // never grows
    expect(m.reservedBytes.intake).toBe(90);
    first.release();
    ticket.release();
    expect(m.reservedBytes.intake).toBe(0);
  });

  it("reserves a gzip body's inflate bound only once the body is read: a slow upload holds its read bound alone", async () => {
    const m = memory(100);
    const slow = await m.enter(10); // a small compressed body still arriving
    const other = await m.enter(10);
    expect(m.reservedBytes.intake).toBe(20); // not 10 + twice an inflated bound
    other.holding(4); // read: 4 compressed bytes
    await other.beforeInflating(80);
    expect(m.reservedBytes.intake).toBe(94);
    // The pool cannot hold a third inflate bound: the slow body, once read, waits for it holding only its bytes.
    slow.holding(6);
    let inflating = false;
    const grow = slow.beforeInflating(80).then(() => (inflating = true));
    await settled();
    expect(inflating).toBe(false);
    expect(m.reservedBytes.intake).toBe(90);
    other.holding(10); // inflated: the body kept, the compressed bytes and the rest of the bound given back
    expect(m.reservedBytes.intake).toBe(10 + 6 + 80);
    await grow;
    expect(inflating).toBe(true);
    other.release();
    slow.release();
    expect(m.reservedBytes.intake).toBe(0);
  });

  it('answers a gzip body that cannot reserve its inflate bound within its deadline 503 server_busy, holding only what it read', async () => {
    const m = memory(100);
    const holder = await m.enter(90);
    const ticket = await m.enter(10);
    ticket.holding(5);
    const grow = ticket.beforeInflating(80);
    jest.advanceTimersByTime(10_001);
    await expect(grow).rejects.toMatchObject({ code: 'server_busy', status: 503 });
    expect(m.reservedBytes.intake).toBe(95);
    ticket.release();
    holder.release();
    expect(m.reservedBytes.intake).toBe(0);
  });

  it('hands the intake back once the estimate is granted, and never deadlocks when every reader waits to grow', async () => {
    // Both readers fill the intake, and each estimate needs the whole budget: with one pool for
    // both steps, each would hold half and wait for the other forever.
    const m = memory(100, 100);
    const a = await m.enter(50);
    const b = await m.enter(50);
    const order: string[] = [];
    const third = m.enter(50).then((t) => (order.push('third read'), t));
    const aAdmitted = a.admit(500).then(() => order.push('a decodes'));
    const bAdmitted = b.admit(500).then(() => order.push('b decodes'));
    await aAdmitted;
    await settled();
    expect(order).toEqual(['a decodes', 'third read']); // a's intake came back when it was admitted
    expect(m.reservedBytes).toEqual({ intake: 100, processing: 100 }); // b waits for the budget, holding its intake
    a.release();
    await bAdmitted;
    expect(order).toEqual(['a decodes', 'third read', 'b decodes']);
    b.release();
    (await third).release();
    expect(m.reservedBytes).toEqual({ intake: 0, processing: 0 });
  });

  it('gives a request one deadline for both waits, counted from its arrival', async () => {
    const m = memory(100, 100);
    const runner = await m.enter(10);
    await runner.admit(100);
    const blocker = await m.enter(100);
    const late = m.enter(50);
    jest.advanceTimersByTime(6_000);
    blocker.release(); // 6 s into its wait, the request is read...
    const ticket = await late;
    const decoding = ticket.admit(10);
    jest.advanceTimersByTime(4_001); // ...and 4 s later its 10 s are up, though it waited only 4 s for the budget
    await expect(decoding).rejects.toMatchObject({ code: 'server_busy' });
    ticket.release();
    runner.release();
    expect(m.reservedBytes).toEqual({ intake: 0, processing: 0 });
  });

  it('spreads the waits of requests that arrived together over the last fifth of the bound', async () => {
    const m = memory(100, 100, () => 0.999_9);
    const holder = await m.enter(100);
    const outcome = m.enter(10).then(
      () => 'admitted',
      (error: { code: string }) => error.code,
    );
    jest.advanceTimersByTime(7_999);
    await settled();
    expect(m.intake.waitingRequests).toBe(1);
    jest.advanceTimersByTime(2);
    expect(await outcome).toBe('server_busy');
    holder.release();
  });

  it('keeps what is reserved within the intake pool plus the budget, whatever the number of requests in flight', async () => {
    const m = memory(64, 256);
    let peak = 0;
    const watch = () => (peak = Math.max(peak, m.reservedBytes.intake + m.reservedBytes.processing));
    const requests = Array.from({ length: 200 }, async (_, i) => {
      const ticket = await m.enter(24); // a gzip body of 8 inflating to at most 8 (twice: 16)
      watch();
      try {
        await Promise.resolve();
        ticket.holding(8 + (i % 3));
        await ticket.admit(96 + (i % 5) * 10);
        watch();
        await new Promise((r) => setTimeout(r, 5));
      } finally {
        ticket.release();
      }
      return 'ok';
    });
    const outcomes = Promise.allSettled(requests);
    await jest.advanceTimersByTimeAsync(12_000);
    const results = await outcomes;
    expect(peak).toBeLessThanOrEqual(64 + 256);
    expect(results.every((r) => r.status === 'fulfilled' || (r.reason as { code?: string }).code === 'server_busy')).toBe(true);
    expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
    expect(m.reservedBytes).toEqual({ intake: 0, processing: 0 });
  });
});
