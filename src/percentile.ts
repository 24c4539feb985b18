/**
 * The p-th percentile by the nearest-rank method: the smallest value such that at least p% of the values are at or
 * below it (sorted ascending, the value at rank ⌈p/100 × n⌉).
 * Always one of the values, so a p95 is a duration some
 * run really took; undefined for none. `jobctl stats` and the benchmarks both use this one definition, so their p95s
 * agree.
 */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  if (!(p > 0 && p <= 100)) throw new RangeError('percentile must be in (0, 100]');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
