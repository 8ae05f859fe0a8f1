import { ApiError } from '../../shared/errors';
import { IngestAdmission } from '../../shared/services/ingest-admission';

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
