import { describe, expect, it } from 'vitest';
import { ClientError, NetworkTimeoutError, RateLimitedError, ServerError } from '../src/sandbox/external-errors';
import { processWebhook } from './jobs';
import { compileRetryPolicy, decideRetry, jitterFraction } from '../src/sandbox/retry-rules';
import { parseRetryAfter } from '../activities/services/vendor-client';

const table = processWebhook.retryTables!.processWebhook!;
const key = 'process-webhook/1/1';
/** The delay the table must give for a base delay, with its jitter for this attempt (up to +10%). */
const jittered = (baseMs: number, attempt: number) =>
  Math.round(baseMs * (1 + 0.1 * jitterFraction(`${key}/${attempt}`)));
const decide = (attempt: number, error: Error) => decideRetry(table, attempt, error, `${key}/${attempt}`);

describe('process-webhook retry table (the seed article policy)', () => {
  it('network timeouts back off attempt³+10 s', () => {
    for (const attempt of [1, 2, 3, 4]) {
      expect(decide(attempt, new NetworkTimeoutError('vendor', 500))).toEqual({
        action: 'retry',
        type: 'NetworkTimeout',
        delayMs: jittered((attempt ** 3 + 10) * 1000, attempt),
      });
    }
  });

  it("rate limits wait the vendor's Retry-After, 5 minutes when it gives none", () => {
    expect(decide(1, new RateLimitedError('vendor', 42_000))).toMatchObject({
      action: 'retry',
      delayMs: jittered(42_000, 1),
    });
    expect(decide(2, new RateLimitedError('vendor', undefined))).toMatchObject({
      action: 'retry',
      delayMs: jittered(300_000, 2),
    });
  });

  it('a 4xx is retried once after 10 s, then discarded', () => {
    expect(decide(1, new ClientError('vendor', 422, 'bad'))).toMatchObject({
      action: 'retry',
      type: 'ClientError',
      delayMs: jittered(10_000, 1),
    });
    expect(decide(2, new ClientError('vendor', 422, 'bad'))).toMatchObject({ action: 'discard', type: 'ClientError' });
  });

  it('anything else waits 10×(attempt+1) s', () => {
    expect(decide(1, new ServerError('vendor', 503, ''))).toMatchObject({
      action: 'retry',
      type: 'ServerError',
      delayMs: jittered(20_000, 1),
    });
    expect(decide(3, new Error('boom'))).toMatchObject({
      action: 'retry',
      type: 'Error',
      delayMs: jittered(40_000, 3),
    });
  });

  it('gives up after 5 attempts whatever the error', () => {
    expect(decide(5, new ServerError('vendor', 503, ''))).toMatchObject({ action: 'exhausted', type: 'ServerError' });
    expect(decide(5, new NetworkTimeoutError('vendor', 500))).toMatchObject({ action: 'exhausted' });
  });

  it('jitter adds at most 10%, differs between jobs and is reproducible', () => {
    const fractions = Array.from({ length: 1000 }, (_, i) => jitterFraction(`process-webhook/${i}/1/1`));
    expect(Math.min(...fractions)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...fractions)).toBeLessThan(1);
    expect(new Set(fractions.map((f) => Math.floor(f * 10))).size).toBe(10); // spread over the whole range
    expect(jitterFraction('a')).toBe(jitterFraction('a'));
  });

  it('compiles to a RetryPolicy that caps attempts and never retries a missing record', () => {
    expect(compileRetryPolicy(table)).toMatchObject({ maximumAttempts: 5, nonRetryableErrorTypes: ['RecordNotFound'] });
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('120')).toBe(120_000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:30 GMT', Date.parse('Wed, 21 Oct 2026 07:28:00 GMT'))).toBe(30_000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
