import { describe, expect, it } from 'vitest';
import { percentile } from '../src/percentile';

describe('percentile (nearest rank)', () => {
  it('p95 is the nearest-rank value', () => {
    expect(percentile([], 95)).toBeUndefined();
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([5, 1, 4, 2, 3], 95)).toBe(5); // rank ⌈4.75⌉ = 5
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(percentile(hundred, 95)).toBe(95); // rank 95
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile([...hundred, 101], 95)).toBe(96); // rank ⌈95.95⌉ = 96
  });

  it('sorts numerically, not as text', () => {
    expect(percentile([10, 9, 100], 50)).toBe(10);
  });

  it('p100 is the largest value and a tiny p the smallest', () => {
    expect(percentile([3, 1, 2], 100)).toBe(3);
    expect(percentile([3, 1, 2], 0.001)).toBe(1);
  });

  it('refuses p outside (0, 100]', () => {
    for (const p of [0, -5, 100.5, Number.NaN]) {
      expect(() => percentile([1, 2], p), String(p)).toThrow(new RangeError('percentile must be in (0, 100]'));
    }
  });
});
