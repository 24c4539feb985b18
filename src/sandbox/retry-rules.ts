import type { RetryPolicy } from '@temporalio/common';
import type { ErrorsByType, RetryableErrorType } from './external-errors';

/**
 * Per-error retry rules, as Sidekiq's `sidekiq_retry_in` and ActiveJob's `retry_on` offer, compiled to Temporal.
 * Temporal gives an activity one RetryPolicy; the table becomes that policy (attempt cap, non-retryable types, an
 * interval for failures no code sees) plus, for each failure, an `ApplicationFailure` whose `nextRetryDelay` or
 * `nonRetryable` the worker's retry interceptor computes from the rule. A table belongs to one activity: it sits next
 * to the `proxyActivities` call that compiles it into that activity's options, and the job declares it under the
 * activity's name (`retryTables`), which is how the worker's interceptor finds it. Runs in workflow code too (compile
 * only): keep it free of Node built-ins, I/O and randomness.
 */

/** What to do after an attempt failed: wait this many milliseconds, or give up on the job now. */
export type RetryDelay = number | 'discard';

export interface RetryRule<E extends Error = Error> {
  /**
   * Delay before the next attempt, in milliseconds, from the number of the attempt that just failed (1 for the first
   * try) and its error; `'discard'` gives up at once.
   */
  delayMs: (attempt: number, error: E) => RetryDelay;
  /** Attempts allowed while failing with this error type. @default the table's `maxAttempts` */
  maxAttempts?: number;
}

export interface RetryTable {
  /** Attempts in all, whatever the errors. */
  maxAttempts: number;
  /** Rules by error type; each rule receives that type's error class (`RateLimited` → `RateLimitedError`). */
  rules: { readonly [T in RetryableErrorType]?: RetryRule<ErrorsByType[T]> };
  /** The rule for every other error. */
  otherwise: RetryRule;
  /** Error types that are never retried (for example a missing record). */
  nonRetryable?: readonly RetryableErrorType[];
  /**
   * Up to this fraction is added to each delay, so failures of many jobs at once do not retry in lockstep. @default 0
   */
  jitter?: number;
}

export type RetryDecision =
  | { action: 'retry'; type: string; delayMs: number }
  | { action: 'discard'; type: string; reason: string }
  | { action: 'exhausted'; type: string; reason: string };

/** The error type a rule is looked up by. */
export function errorTypeOf(error: Error): string {
  const type = (error as { type?: unknown }).type;
  return typeof type === 'string' && type !== '' ? type : error.name || 'Error';
}

/**
 * Decides what follows a failed attempt. `jitterKey` identifies the attempt (workflow, activity, attempt number): the
 * jitter is a hash of it, so each job gets its own spread and the schedule can be recomputed exactly.
 */
export function decideRetry(table: RetryTable, attempt: number, error: Error, jitterKey: string): RetryDecision {
  const type = errorTypeOf(error);
  if ((table.nonRetryable as readonly string[] | undefined)?.includes(type)) {
    return { action: 'discard', type, reason: `${type} is never retried` };
  }
  // The rule was chosen by this error's type, so it is the error that rule's signature names.
  const rule = (table.rules[type as RetryableErrorType] as RetryRule | undefined) ?? table.otherwise;
  const cap = Math.min(rule.maxAttempts ?? table.maxAttempts, table.maxAttempts);
  if (attempt >= cap) return { action: 'exhausted', type, reason: `gave up after ${attempt} attempts` };
  const delay = rule.delayMs(attempt, error);
  if (delay === 'discard') return { action: 'discard', type, reason: `${type} discarded after attempt ${attempt}` };
  if (!Number.isFinite(delay) || delay < 0)
    throw new TypeError(`retry rule for ${type} returned an invalid delay: ${delay}`);
  return { action: 'retry', type, delayMs: Math.round(delay * (1 + (table.jitter ?? 0) * jitterFraction(jitterKey))) };
}

/**
 * The activity RetryPolicy the table compiles to. `maximumAttempts` caps everything. Failures the interceptor never
 * sees (an attempt timing out, a worker dying) retry on `initialInterval` × `backoffCoefficient`, capped by
 * `maximumInterval`; on Temporal server 1.29 that cap does not clip a failure's own `nextRetryDelay`, so the rules'
 * delays (Retry-After of any length) apply as computed.
 */
export function compileRetryPolicy(table: RetryTable): RetryPolicy {
  return {
    maximumAttempts: table.maxAttempts,
    nonRetryableErrorTypes: [...(table.nonRetryable ?? [])],
    initialInterval: '10s',
    backoffCoefficient: 2,
    maximumInterval: '5m',
  };
}

/** A number in [0, 1) from a string (FNV-1a): deterministic, evenly spread. */
export function jitterFraction(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash / 2 ** 32;
}

export const seconds = (n: number): number => n * 1000;
