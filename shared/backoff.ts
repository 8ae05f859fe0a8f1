/**
 * How long background work waits after consecutive failures: exponential from `baseMs`, capped
 * at `capMs`, with full jitter (a random wait up to the bound), so instances that failed
 * together (a throttled account, an outage) do not come back in step.
 */
export function failureBackoffMs(failures: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  if (failures <= 0) return baseMs;
  const bound = Math.min(capMs, baseMs * 2 ** Math.min(failures, 20));
  return Math.max(baseMs, Math.round(random() * bound));
}
