import { describe, expect, it } from 'vitest';
import { isoDate, parseIsoDate, tryParseIsoDate } from '../src/sandbox/iso-date';

describe('ISO calendar dates', () => {
  it('parse to UTC midnight, leap days included', () => {
    expect(parseIsoDate('2026-11-28').toISOString()).toBe('2026-11-28T00:00:00.000Z');
    expect(tryParseIsoDate('2024-02-29')?.toISOString()).toBe('2024-02-29T00:00:00.000Z');
  });

  it('refuse dates that do not exist instead of rolling them over', () => {
    for (const text of ['2026-02-29', '2026-02-30', '2026-04-31', '2026-13-01', '2026-00-10', '2026-01-00']) {
      expect(tryParseIsoDate(text), text).toBeUndefined();
    }
  });

  it('never read years 0–99 as 1900–1999', () => {
    expect(tryParseIsoDate('0099-05-01')).toBeUndefined();
  });

  it('accept only the whole string YYYY-MM-DD', () => {
    for (const text of [
      '',
      'nonsense',
      '2026-11-28T00:00:00Z',
      ' 2026-11-28',
      'x2026-11-28',
      '2026-1-28',
      '26-11-28',
    ]) {
      expect(tryParseIsoDate(text), text).toBeUndefined();
    }
  });

  it('parseIsoDate throws a RangeError quoting the text', () => {
    expect(() => parseIsoDate('2026-02-30')).toThrow(
      new RangeError('"2026-02-30" is not an ISO calendar date (YYYY-MM-DD)'),
    );
  });

  it('the isoDate schema accepts real dates and says what it expects', () => {
    expect(isoDate.safeParse('2026-11-28')).toEqual({ success: true, data: '2026-11-28' });
    const refused = isoDate.safeParse('2026-02-30');
    expect(refused.success).toBe(false);
    expect(refused.error?.issues.map((i) => i.message)).toEqual(["expected an ISO calendar date such as '2026-11-28'"]);
  });
});
