import fc from 'fast-check';
import { acceptedVersions, dueForRetirement, previousInGrace } from '../../shared/keys/grace-policy';

const rotatedAt = Date.parse('2026-01-01T00:00:00.000Z');
const DAY = 86_400_000;
const state = {
  componentVersion: 'new',
  previousComponentVersion: 'old',
  graceEndsAt: new Date(rotatedAt + 7 * DAY).toISOString(),
  requireComponent: false,
};
const at = (ms: number) => new Date(rotatedAt + ms);

describe('grace policy (shared by the door and the timer)', () => {
  it('accepts the previous component until the grace end, not at it', () => {
    expect(acceptedVersions(state, at(0))).toEqual(['new', 'old']);
    expect(acceptedVersions(state, at(6 * DAY + 23 * 3_600_000))).toEqual(['new', 'old']);
    expect(acceptedVersions(state, at(7 * DAY - 1))).toEqual(['new', 'old']);
    expect(acceptedVersions(state, at(7 * DAY))).toEqual(['new']);
    expect(acceptedVersions(state, at(7 * DAY + 60_000))).toEqual(['new']);
  });

  it('has no previous component without a rotation in grace', () => {
    expect(acceptedVersions({ ...state, previousComponentVersion: undefined, graceEndsAt: undefined }, at(0))).toEqual(['new']);
    expect(previousInGrace({ previousComponentVersion: 'old', graceEndsAt: undefined }, at(0))).toBe(false);
  });

  it('makes the timer retire exactly when the door stops accepting', () => {
    fc.assert(
      fc.property(fc.integer({ min: -DAY, max: 10 * DAY }), (offset) => {
        const now = at(offset);
        expect(dueForRetirement(state, now)).toBe(!previousInGrace(state, now));
        expect(dueForRetirement(state, now)).toBe(offset >= 7 * DAY);
      }),
    );
    expect(dueForRetirement({ previousComponentVersion: undefined, graceEndsAt: undefined }, at(8 * DAY))).toBe(false);
  });
});
