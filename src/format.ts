/**
 * How numbers, shares and durations read wherever people see them — `jobctl stats`, `jobctl status` and `watch`, the
 * benchmarks' summaries — so the same figure reads the same everywhere. JSON output keeps the raw numbers.
 */

/**
 * A number rounded to what a reader takes in: whole from 100, one decimal from 10, two below, without trailing
 * zeros: `1235`, `12.5`, `0.25`, `40`.
 */
export function formatNumber(n: number): string {
  const size = Math.abs(n);
  return String(Number(n.toFixed(size >= 100 ? 0 : size >= 10 ? 1 : 2)));
}

/** A fraction as a percentage, rounded like `formatNumber`: 0.4 is `40%`, 1/3 is `33.3%`, 0.0025 is `0.25%`. */
export function formatPercent(fraction: number): string {
  return `${formatNumber(fraction * 100)}%`;
}

/**
 * A duration given in milliseconds, on one scale: `4.25 ms`, `850 ms`, `1.23 s`, `12.3 s`, `3 min 20 s`, `2 h 5 min`.
 * Below a minute the number is rounded like `formatNumber`; from a minute on, two whole units (a trailing zero unit is
 * left out: `3 min`, `2 h`). `-` when there is no duration (undefined, NaN, infinite).
 */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 0) return `-${formatDuration(-ms)}`;
  // Each threshold is where the rounded figure would reach the next unit: 999.6 ms is `1 s`, not `1000 ms`.
  if (ms < 999.5) return `${formatNumber(ms)} ms`;
  if (ms < 59_950) return `${formatNumber(ms / 1000)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return twoUnits(Math.floor(seconds / 60), 'min', seconds % 60, 's');
  const minutes = Math.round(ms / 60_000);
  return twoUnits(Math.floor(minutes / 60), 'h', minutes % 60, 'min');
}

function twoUnits(major: number, majorUnit: string, minor: number, minorUnit: string): string {
  return minor === 0 ? `${major} ${majorUnit}` : `${major} ${majorUnit} ${minor} ${minorUnit}`;
}
