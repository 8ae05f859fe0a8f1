import { MAX_KEPT_EXPOSURES, withPlaces, type KeyExposure } from '../../shared/domain';

const place = (url: string, source = 'content'): KeyExposure => ({
  reporter: 'github',
  url,
  source,
  reportedAt: '2026-12-02T00:00:00.000Z',
});

describe('a key keeps its first places and counts the new ones', () => {
  it('keeps the first places in order, up to the bound, and counts every new one', () => {
    const places = Array.from({ length: 1000 }, (_, i) => place(`https://github.com/o/r/blob/main/${i}`));
    const { exposures, added } = withPlaces([], places);
    expect(exposures).toEqual(places.slice(0, MAX_KEPT_EXPOSURES));
    expect(added).toBe(1000);
  });

  it('counts a place already kept, or named twice, once', () => {
    const kept = [place('https://a'), place('https://b')];
    const { exposures, added } = withPlaces(kept, [
      place('https://b'),
      place('https://c'),
      place('https://c'),
      place('https://b', 'commit'),
    ]);
    expect(exposures.map((e) => [e.url, e.source])).toEqual([
      ['https://a', 'content'],
      ['https://b', 'content'],
      ['https://c', 'content'],
      ['https://b', 'commit'],
    ]);
    expect(added).toBe(2);
    expect(withPlaces(kept, [place('https://a')]).added).toBe(0);
  });
});
