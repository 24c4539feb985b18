import { describe, expect, it } from 'vitest';
import {
  compileRetryPolicy,
  decideRetry,
  errorTypeOf,
  jitterFraction,
  type RetryTable,
} from '../src/sandbox/retry-rules';

/** An error carrying a Temporal-style `type`, as the external errors do. */
const typed = (type: unknown, name = 'Error') => Object.assign(Object.assign(new Error('x'), { name }), { type });

describe('errorTypeOf: the type a rule is looked up by', () => {
  it('is the error’s `type`, else its name, else "Error"', () => {
    expect(errorTypeOf(typed('RateLimited', 'RateLimitedError'))).toBe('RateLimited');
    expect(errorTypeOf(typed('', 'TypeError'))).toBe('TypeError'); // an empty type names nothing
    expect(errorTypeOf(typed(42, 'RangeError'))).toBe('RangeError'); // only a string is a type
    expect(errorTypeOf(new SyntaxError('x'))).toBe('SyntaxError');
    expect(errorTypeOf(typed(undefined, ''))).toBe('Error');
  });
});

describe('decideRetry', () => {
  const table: RetryTable = {
    maxAttempts: 5,
    rules: { RateLimited: { delayMs: () => 1000, maxAttempts: 2 } },
    otherwise: { delayMs: (attempt) => attempt * 100, maxAttempts: 9 }, // a rule cannot raise the table's cap
    nonRetryable: ['RecordNotFound'],
  };
  const decide = (attempt: number, error: Error, t: RetryTable = table) => decideRetry(t, attempt, error, 'job/1');

  it('discards a non-retryable type at once, saying why', () => {
    expect(decide(1, typed('RecordNotFound'))).toEqual({
      action: 'discard',
      type: 'RecordNotFound',
      reason: 'RecordNotFound is never retried',
    });
  });

  it('a table without non-retryable types retries every type', () => {
    const { nonRetryable: _, ...open } = table;
    expect(decide(1, typed('RecordNotFound'), open)).toEqual({ action: 'retry', type: 'RecordNotFound', delayMs: 100 });
  });

  it('without jitter the delay is exactly the rule’s', () => {
    expect(decide(3, new Error('boom'))).toEqual({ action: 'retry', type: 'Error', delayMs: 300 });
  });

  it('gives up at the smaller of the rule’s and the table’s attempt caps', () => {
    expect(decide(1, typed('RateLimited'))).toMatchObject({ action: 'retry', delayMs: 1000 });
    expect(decide(2, typed('RateLimited'))).toEqual({
      action: 'exhausted',
      type: 'RateLimited',
      reason: 'gave up after 2 attempts',
    });
    expect(decide(4, new Error('boom'))).toMatchObject({ action: 'retry' });
    expect(decide(5, new Error('boom'))).toEqual({
      action: 'exhausted',
      type: 'Error',
      reason: 'gave up after 5 attempts',
    });
  });

  it('a rule that returns "discard" gives up, saying after which attempt', () => {
    const discarding: RetryTable = { maxAttempts: 5, rules: {}, otherwise: { delayMs: () => 'discard' } };
    expect(decide(2, typed('ClientError'), discarding)).toEqual({
      action: 'discard',
      type: 'ClientError',
      reason: 'ClientError discarded after attempt 2',
    });
  });

  it('accepts a zero delay and refuses a negative, NaN or infinite one', () => {
    const returning = (delay: number): RetryTable => ({
      maxAttempts: 5,
      rules: {},
      otherwise: { delayMs: () => delay },
    });
    expect(decide(1, new Error('x'), returning(0))).toEqual({ action: 'retry', type: 'Error', delayMs: 0 });
    for (const delay of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => decide(1, new Error('x'), returning(delay))).toThrow(
        new TypeError(`retry rule for Error returned an invalid delay: ${delay}`),
      );
    }
  });

  it('adds up to the table’s jitter fraction of the delay, the same for the same attempt', () => {
    const jittered: RetryTable = { ...table, jitter: 0.5 };
    const expected = Math.round(300 * (1 + 0.5 * jitterFraction('job/1')));
    expect(decide(3, new Error('boom'), jittered)).toEqual({ action: 'retry', type: 'Error', delayMs: expected });
    expect(expected).toBeGreaterThan(300);
  });
});

describe('jitterFraction', () => {
  it('is the 32-bit FNV-1a hash of the key over 2³²', () => {
    // Published FNV-1a test vectors.
    expect(jitterFraction('')).toBe(0x811c9dc5 / 2 ** 32);
    expect(jitterFraction('a')).toBe(0xe40c292c / 2 ** 32);
    expect(jitterFraction('foobar')).toBe(0xbf9cf968 / 2 ** 32);
  });
});

describe('compileRetryPolicy', () => {
  it('caps attempts and names the non-retryable types; other failures back off from 10 s to 5 min', () => {
    expect(compileRetryPolicy({ maxAttempts: 3, rules: {}, otherwise: { delayMs: () => 1 } })).toEqual({
      maximumAttempts: 3,
      nonRetryableErrorTypes: [],
      initialInterval: '10s',
      backoffCoefficient: 2,
      maximumInterval: '5m',
    });
  });
});
