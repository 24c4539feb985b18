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
});
