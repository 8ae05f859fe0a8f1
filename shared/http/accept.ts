/**
 * Content negotiation by the Accept header (RFC 9110 §12.5.1), for the few routes that answer in
 * more than one media type: which of `offered` the client prefers, the first of them when it
 * states no preference (no header, `*\/*`, or nothing it names is offered).
 */
export function preferredMediaType<T extends string>(accept: string | null | undefined, offered: readonly [T, ...T[]]): T {
  if (!accept) return offered[0];
  const ranges = accept.split(',').flatMap((part) => {
    const [range = '', ...parameters] = part.split(';').map((s) => s.trim().toLowerCase());
    if (!/^[^/\s]+\/[^/\s]+$/.test(range)) return [];
    const q = parameters.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    return Number.isFinite(weight) ? [{ range, weight: Math.min(Math.max(weight, 0), 1) }] : [];
  });
  /** The weight the most specific range matching `type` gives it (0 when none matches). */
  const weightOf = (type: string): number => {
    const [major] = type.split('/');
    const exact = ranges.find((r) => r.range === type);
    const family = ranges.find((r) => r.range === `${major}/*`);
    const any = ranges.find((r) => r.range === '*/*');
    return (exact ?? family ?? any)?.weight ?? 0;
  };
  let best = offered[0];
  let bestWeight = weightOf(best);
  for (const type of offered.slice(1)) {
    const weight = weightOf(type);
    if (weight > bestWeight) [best, bestWeight] = [type, weight];
  }
  return best;
}
