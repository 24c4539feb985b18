import type { Duration } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import { InvalidEnqueueOptionError } from './errors';

/**
 * When a job runs: its start delay (`delay` / `runAt`) and its expiry (`expiresAfter`). Pure, no clock of its own (the
 * caller passes `now`): the client computes an enqueue's timing with it, and the workflow sandbox (job-expiry.ts)
 * parses a job's declared `expiresAfter` with it.
 */

/** A `runAt` this far in the past is still accepted (and starts at once): the caller's "now" took a moment to arrive. */
export const RUN_AT_TOLERANCE_MS = 1000;

/** A bad `delay`, `runAt` or `expiresAfter`; `field` is the option's (and HTTP query parameter's) name. */
export class InvalidJobTimingError extends InvalidEnqueueOptionError {
  override name = 'InvalidJobTimingError';
}

/**
 * A duration in ms: a number of ms, or a string such as `'10m'`, `'5s'`, `'1.5h'`, `'2 days'` or `'500'` (ms) — the
 * format Temporal's own options take. Throws `InvalidJobTimingError` naming `field` for anything else, a negative
 * value, or (unless `allowZero`) zero.
 */
export function parseJobDuration(value: unknown, field: string, options: { allowZero?: boolean } = {}): number {
  const expected = "must be a duration like '10m', '5s' or '2h', or a number of milliseconds";
  let ms: number;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string' && value.trim() !== '') {
    try {
      ms = msToNumber(value.trim() as Duration);
    } catch {
      throw new InvalidJobTimingError(field, `${expected}, got ${JSON.stringify(value)}`);
    }
  } else throw new InvalidJobTimingError(field, `${expected}, got ${describe(value)}`);
  if (!Number.isFinite(ms)) throw new InvalidJobTimingError(field, `${expected}, got ${describe(value)}`);
  if (ms < 0) throw new InvalidJobTimingError(field, `must not be negative, got ${describe(value)}`);
  if (ms === 0 && !options.allowZero)
    throw new InvalidJobTimingError(field, `must be more than zero, got ${describe(value)}`);
  // Beyond ±8.64e15 ms a Date is invalid; a century is already far beyond any useful delay.
  if (ms > 100 * 365 * 86_400_000)
    throw new InvalidJobTimingError(field, `must be under 100 years, got ${describe(value)}`);
  return Math.round(ms);
}

/** A point in time: a valid `Date`, or an ISO 8601 date-time string with its time zone (`Z` or `+02:00`). */
export function parseRunAt(value: unknown, field = 'runAt'): Date {
  const expected = "must be a Date or an ISO 8601 time with a zone, like '2026-05-01T09:00:00Z'";
  let date: Date;
  if (value instanceof Date) date = value;
  else if (typeof value === 'string' && ISO_DATE_TIME.test(value.trim())) date = new Date(value.trim());
  else throw new InvalidJobTimingError(field, `${expected}, got ${describe(value)}`);
  if (Number.isNaN(date.getTime())) throw new InvalidJobTimingError(field, `${expected}, got ${describe(value)}`);
  return date;
}

/** `2026-05-01T09:00Z`, `2026-05-01T09:00:00.000+02:00`: a date, a time and a zone, so the instant is unambiguous. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** The timing options of one enqueue, as `EnqueueOptions` and the HTTP query parameters carry them. */
export interface JobTimingOptions {
  delay?: unknown;
  runAt?: unknown;
  expiresAfter?: unknown;
}

/** What an enqueue asks Temporal for: the start delay, and the deadline by which the job must have started. */
export interface JobTiming {
  /** Temporal's `workflowStartDelay`, in ms; undefined to start at once. */
  startDelayMs?: number;
  /** When the run is due: `now`, or the end of its delay. */
  dueAt: Date;
  /** Due time + `expiresAfter`, when the enqueue or the job's declaration sets one. */
  expiresAt?: Date;
}

/**
 * The timing of an enqueue at `now`. `expiresAfter` defaults to the job's declared one. Throws
 * `InvalidJobTimingError` naming the field for a bad value, for `delay` and `runAt` together, and for a `runAt` more
 * than `RUN_AT_TOLERANCE_MS` in the past.
 */
export function jobTiming(options: JobTimingOptions, declaredExpiresAfter: unknown, now: number): JobTiming {
  if (options.delay !== undefined && options.runAt !== undefined) {
    throw new InvalidJobTimingError('delay', 'and runAt are exclusive: give one of them');
  }
  let startDelayMs: number | undefined;
  if (options.delay !== undefined) {
    startDelayMs = parseJobDuration(options.delay, 'delay', { allowZero: true });
  } else if (options.runAt !== undefined) {
    const runAt = parseRunAt(options.runAt).getTime();
    if (runAt < now - RUN_AT_TOLERANCE_MS) {
      throw new InvalidJobTimingError(
        'runAt',
        `is ${Math.round((now - runAt) / 1000)} s in the past (${new Date(runAt).toISOString()}); ` +
          'give a future time, or no runAt to start at once',
      );
    }
    startDelayMs = Math.max(0, runAt - now);
  }
  if (startDelayMs === 0) startDelayMs = undefined;
  const dueAt = new Date(now + (startDelayMs ?? 0));
  const expiresAfter = options.expiresAfter ?? declaredExpiresAfter;
  const expiresAt =
    expiresAfter === undefined ? undefined : new Date(dueAt.getTime() + parseJobDuration(expiresAfter, 'expiresAfter'));
  return { startDelayMs, dueAt, ...(expiresAt ? { expiresAt } : {}) };
}

function describe(value: unknown): string {
  if (value instanceof Date) return 'an invalid Date';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  return value === null ? 'null' : typeof value;
}
