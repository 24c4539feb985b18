import { describe, expect, it } from 'vitest';
import { formatDuration, formatPercent } from '../src/format';

describe('formatPercent', () => {
  it('formats failure rates as percentages', () => {
    expect([0, 0.4, 1 / 3, 1, 0.0025].map(formatPercent)).toEqual(['0%', '40%', '33.3%', '100%', '0.25%']);
  });
});

describe('formatDuration: one scale for durations in ms (stats, watch, benchmarks)', () => {
  it.each([
    [undefined, '-'],
    [Number.NaN, '-'],
    [Number.POSITIVE_INFINITY, '-'],
    [0, '0 ms'],
    [4.256, '4.26 ms'],
    [12.34, '12.3 ms'],
    [850, '850 ms'],
    [999.4, '999 ms'],
    [999.5, '1 s'],
    [999.6, '1 s'], // rounds up into the next unit, never `1000 ms`
    [1234, '1.23 s'],
    [12_345, '12.3 s'],
    [59_949, '59.9 s'],
    [59_950, '1 min'],
    [180_000, '3 min'],
    [200_400, '3 min 20 s'],
    [3_599_400, '59 min 59 s'],
    [3_599_500, '1 h'],
    [7_200_000, '2 h'],
    [7_529_000, '2 h 5 min'],
    [86_460_000, '24 h 1 min'],
    [-1500, '-1.5 s'],
  ])('%s ms is %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
