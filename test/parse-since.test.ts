import { describe, expect, it } from 'vitest';
import { parseSince } from '../src/client/stats';

describe('parseSince', () => {
  it.each([
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['36h', 129_600_000],
    ['100000000d', 8.64e15], // the longest look-back a Date can hold
  ])('%s is %d ms', (text, ms) => {
    expect(parseSince(text)).toBe(ms);
  });

  const invalid = ['', 'nonsense', '1', 'h', '0m', '-1h', '1.5h', '1w', '1 h', ' 1h', '1H', '1hh', '100000001d'];
  it.each(invalid)('rejects %j', (text) => {
    expect(() => parseSince(text)).toThrow(new TypeError('--since must be a duration like 30m, 1h or 2d'));
  });
});
