import fc from 'fast-check';
import { CorruptRowError } from '../../shared/adapters/table/rows';
import {
  after,
  batchPrefix,
  batchRow,
  decodeListCursor,
  encodeListCursor,
  foldMarkRow,
  indexRow,
  isSummaryRow,
  parseBatchRow,
  pendingPrefix,
  pendingRow,
  sharedPrefix,
  sharedRow,
  sid,
  sidOfSummary,
  summaryRange,
  summaryRow,
} from '../../shared/adapters/table/session-rows';

/** Every session row key is built and parsed in session-rows.ts: these are the properties the rest relies on. */

const sessionIdArb = fc.string({ minLength: 1, maxLength: 80 });
const hexArb = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`));
const isoArb = fc
  .integer({ min: Date.parse('2000-01-01T00:00:00.000Z'), max: Date.parse('2200-01-01T00:00:00.000Z') })
  .map((ms) => new Date(ms).toISOString());
const within = (key: string, prefix: string) => key >= prefix && key < after(prefix);

describe('session row keys: built and parsed back', () => {
  it('a summary key gives back the session it was built for, and reads as a summary key', () => {
    fc.assert(
      fc.property(sessionIdArb, isoArb, (sessionId, at) => {
        const key = summaryRow(at, sid(sessionId));
        expect(isSummaryRow(key)).toBe(true);
        expect(sidOfSummary(key)).toBe(sid(sessionId));
        expect(decodeListCursor(encodeListCursor('acme', key), 'acme')).toBe(key);
      }),
    );
  });

  it('summary keys sort newest first, and a window holds exactly the keys first seen inside it', () => {
    fc.assert(
      fc.property(hexArb(32), isoArb, isoArb, isoArb, (s, at, a, b) => {
        const [from, to] = a <= b ? [a, b] : [b, a];
        if (at !== from) expect(summaryRow(at, s) < summaryRow(from, s)).toBe(at > from);
        const { lower, upper } = summaryRange(from, to);
        const key = summaryRow(at, s);
        expect(key >= lower && key < upper).toBe(at >= from && at <= to);
        const all = summaryRange(undefined, undefined);
        expect(key >= all.lower && key < all.upper).toBe(true);
      }),
    );
  });

  it('a batch key gives back its batch and part, inside its session range, parts in order', () => {
    fc.assert(
      fc.property(hexArb(32), hexArb(64), fc.integer({ min: 0, max: 998 }), (s, contentHash, part) => {
        const key = batchRow(s, contentHash, part);
        expect(parseBatchRow(key)).toEqual({ contentHash: contentHash.slice(0, 32), part });
        expect(within(key, batchPrefix(s))).toBe(true);
        expect(key < batchRow(s, contentHash, part + 1)).toBe(true);
        expect(isSummaryRow(key)).toBe(false);
      }),
    );
  });

  it('pending rows and the fold count lie in the session pending range, the fold count after every pending row', () => {
    fc.assert(
      fc.property(hexArb(32), hexArb(64), (s, contentHash) => {
        const pending = pendingRow(s, contentHash);
        expect(within(pending, pendingPrefix(s))).toBe(true);
        expect(within(foldMarkRow(s), pendingPrefix(s))).toBe(true);
        expect(pending < foldMarkRow(s)).toBe(true);
        expect(isSummaryRow(pending) || isSummaryRow(foldMarkRow(s)) || isSummaryRow(indexRow(s))).toBe(false);
      }),
    );
  });

  it('shared rows lie in their document range, parts in order', () => {
    fc.assert(
      fc.property(hexArb(64), fc.integer({ min: 0, max: 998 }), (hash, part) => {
        expect(within(sharedRow(hash, part), sharedPrefix(hash))).toBe(true);
        expect(sharedRow(hash, part) < sharedRow(hash, part + 1)).toBe(true);
      }),
    );
  });

  it('the ranges of different sessions and kinds do not overlap', () => {
    fc.assert(
      fc.property(hexArb(32), hexArb(32), hexArb(64), isoArb, (s, other, contentHash, at) => {
        fc.pre(s !== other);
        for (const key of [batchRow(other, contentHash, 0), pendingRow(other, contentHash), foldMarkRow(other), summaryRow(at, s)]) {
          expect(within(key, batchPrefix(s))).toBe(false);
          expect(within(key, pendingPrefix(s))).toBe(false);
        }
        expect(indexRow(s)).not.toBe(indexRow(other));
      }),
    );
  });
});

describe('session row keys: what is not one of them', () => {
  it('a key of another kind is not read as a summary or a batch', () => {
    const s = sid('x');
    for (const key of [indexRow(s), pendingRow(s, 'a'.repeat(64)), sharedRow('b'.repeat(64), 0), 's_123_abc', '']) {
      expect(() => sidOfSummary(key)).toThrow(CorruptRowError);
    }
    for (const key of [summaryRow('2026-01-01T00:00:00.000Z', s), pendingRow(s, 'a'.repeat(64)), `${batchPrefix(s)}abc_x`]) {
      expect(() => parseBatchRow(key)).toThrow(CorruptRowError);
    }
  });
});
