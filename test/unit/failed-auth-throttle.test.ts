import { ManualClock } from '../../shared/clock';
import { generateSecret, hashSecret } from '../../shared/keys/compound-key';
import { FailedAuthThrottle, OVER_BUDGET_LOOKUPS_AT_ONCE } from '../../shared/auth/failed-auth-throttle';
import { LookupQueue } from '../../shared/auth/lookup-queue';

/** Lets every settled promise run its callbacks (one turn of the event loop; no time passes). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const newHash = () => hashSecret(generateSecret());
const good = (result: boolean) => result;

/** Reads that answer only when told to, counting how many run at once. */
function gatedStorage() {
  const pending: Array<() => void> = [];
  const state = { reads: 0, inFlight: 0, most: 0 };
  const read = (valid: boolean) => () => {
    state.reads += 1;
    state.inFlight += 1;
    state.most = Math.max(state.most, state.inFlight);
    return new Promise<boolean>((resolve) =>
      pending.push(() => {
        state.inFlight -= 1;
        resolve(valid);
      }),
    );
  };
  /** Answers the reads waiting now, one turn at a time, until none is left. */
  const answerAll = async () => {
    await settle();
    while (pending.length > 0) {
      pending.shift()!();
      await settle();
    }
  };
  return { state, read, answerAll, pending };
}

function setup(perMinute = 60, lookupsAtOnce?: number) {
  const clock = new ManualClock();
  const throttle = new FailedAuthThrottle(perMinute, clock, lookupsAtOnce ? { lookupsAtOnce } : {});
  /** Spends an address's whole budget on made-up keys, one after the other. */
  const exhaust = async (address: string) => {
    for (let i = 0; i < perMinute; i++) await throttle.lookup(address, newHash(), async () => false, good);
  };
  return { clock, throttle, exhaust };
}

describe('FailedAuthThrottle: a valid key is never refused', () => {
  it('looks up a valid new key from an address past its budget, after the lookups queued before it', async () => {
    const { throttle, exhaust } = setup();
    await exhaust('198.51.100.7');
    const storage = gatedStorage();
    const made = Array.from({ length: 10 }, () => throttle.lookup('198.51.100.7', newHash(), storage.read(false), good));
    const real = throttle.lookup('198.51.100.7', newHash(), storage.read(true), good);
    await storage.answerAll();
    expect(await Promise.all(made)).toEqual(Array(10).fill(false));
    expect(await real).toBe(true);
    expect(storage.state.reads).toBe(11); // every key was looked up: none refused unread
    expect(storage.state.most).toBe(1); // past the budget, one at a time
    expect(throttle.queuedAddresses).toBe(0);
  });

  it('lets a key that authenticated within the day skip the queue of its address, then forgets it', async () => {
    const { clock, throttle, exhaust } = setup();
    const warm = newHash();
    expect(await throttle.lookup('198.51.100.7', warm, async () => true, good)).toBe(true);
    clock.advance(301_000); // its identity cache entry would have expired long ago
    await exhaust('198.51.100.7');
    const storage = gatedStorage();
    const blocked = throttle.lookup('198.51.100.7', newHash(), storage.read(false), good); // holds the address's turn
    await settle();
    // Not behind the blocked lookup: it answers while that one still waits.
    expect(await throttle.lookup('198.51.100.7', warm, async () => true, good)).toBe(true);
    expect(storage.pending).toHaveLength(1);

    clock.advance(24 * 3_600_000 + 1); // a day without authenticating: it queues like any key
    await exhaust('198.51.100.7');
    let answered = false;
    const late = throttle.lookup('198.51.100.7', warm, async () => true, good).then((r) => (answered = r));
    await settle();
    expect(answered).toBe(false);
    await storage.answerAll();
    await blocked;
    await late;
    expect(answered).toBe(true);
  });
});

describe('FailedAuthThrottle: what made-up keys cost storage', () => {
  it('runs a burst of made-up keys from a fresh address at once only up to its budget, the rest one at a time', async () => {
    const { throttle } = setup(60);
    const storage = gatedStorage();
    const burst = Array.from({ length: 200 }, () => throttle.lookup('203.0.113.5', newHash(), storage.read(false), good));
    await settle();
    expect(storage.state.inFlight).toBe(61); // 60 on the budget's tokens, taken as they start, and the queue's one
    await storage.answerAll();
    await Promise.all(burst);
    expect(storage.state.reads).toBe(200);
    expect(storage.state.most).toBe(61);
  });

  it('gives the token back when the key authenticates, so valid traffic never spends the budget', async () => {
    const { throttle } = setup(5);
    for (let i = 0; i < 100; i++) await throttle.lookup('203.0.113.5', newHash(), async () => true, good);
    const storage = gatedStorage();
    const five = Array.from({ length: 5 }, () => throttle.lookup('203.0.113.5', newHash(), storage.read(false), good));
    await settle();
    expect(storage.state.inFlight).toBe(5); // the whole budget still there
    await storage.answerAll();
    await Promise.all(five);
  });

  it('does not count a storage outage as a failed authentication', async () => {
    const { throttle } = setup(3);
    for (let i = 0; i < 10; i++) {
      await expect(
        throttle.lookup(
          '203.0.113.5',
          newHash(),
          async () => {
            throw new Error('storage down');
          },
          good,
        ),
      ).rejects.toThrow('storage down');
    }
    const storage = gatedStorage();
    const three = Array.from({ length: 3 }, () => throttle.lookup('203.0.113.5', newHash(), storage.read(false), good));
    await settle();
    expect(storage.state.inFlight).toBe(3);
    await storage.answerAll();
    await Promise.all(three);
  });

  it('bounds the lookups of all over-budget addresses together, and serves each address in turn', async () => {
    const { throttle, exhaust } = setup(2);
    const addresses = Array.from({ length: 20 }, (_, i) => `198.51.100.${i + 1}`);
    for (const address of addresses) await exhaust(address);
    const storage = gatedStorage();
    const all = addresses.flatMap((address) => [0, 1, 2].map(() => throttle.lookup(address, newHash(), storage.read(false), good)));
    await settle();
    expect(storage.state.inFlight).toBe(OVER_BUDGET_LOOKUPS_AT_ONCE);
    await storage.answerAll();
    await Promise.all(all);
    expect(storage.state.reads).toBe(60);
    expect(storage.state.most).toBe(OVER_BUDGET_LOOKUPS_AT_ONCE);
  });

  it('refills the budget with time', async () => {
    const { clock, throttle, exhaust } = setup(60);
    await exhaust('203.0.113.5');
    clock.advance(30_000); // half a minute: 30 tokens
    const storage = gatedStorage();
    const lookups = Array.from({ length: 40 }, () => throttle.lookup('203.0.113.5', newHash(), storage.read(false), good));
    await settle();
    expect(storage.state.inFlight).toBe(31);
    await storage.answerAll();
    await Promise.all(lookups);
  });

  it('leaves a request without an address unthrottled (no address to count against)', async () => {
    const { throttle } = setup(1);
    const storage = gatedStorage();
    const lookups = Array.from({ length: 5 }, () => throttle.lookup(undefined, newHash(), storage.read(false), good));
    await settle();
    expect(storage.state.inFlight).toBe(5);
    await storage.answerAll();
    await Promise.all(lookups);
  });
});

describe('LookupQueue', () => {
  it('runs work one at a time per key, in order, and passes errors to their caller only', async () => {
    const queue = new LookupQueue(4);
    const order: string[] = [];
    const runs = [
      queue.run('a', async () => order.push('a1')),
      queue.run('a', async () => {
        order.push('a2');
        throw new Error('a2 failed');
      }),
      queue.run('a', async () => order.push('a3')),
    ];
    await expect(runs[1]).rejects.toThrow('a2 failed');
    await Promise.all([runs[0], runs[2]]);
    expect(order).toEqual(['a1', 'a2', 'a3']);
    expect(queue.keys).toBe(0);
  });

  it('refuses a bound below one', () => {
    expect(() => new LookupQueue(0)).toThrow(RangeError);
  });
});
