/**
 * Debounce: enqueues of one key within a quiet period collapse into one run with the latest arguments (README
 * "Debounce"). The client signals-with-start a debounce workflow per key (`<job>/debounce/<key>`, workflows/debounce.ts)
 * which starts the job when the key has been quiet for `period`, or `maxWait` after the window opened. Pure: job
 * declarations (sandbox code) and the debounce workflow import it.
 */
import type { Duration } from '@temporalio/common';
import { parseJobDuration } from './job-timing';
import type { SafeObject } from './safe-arguments';
import type { RunLabels } from './search-attributes';

/** A job's debounce (`JobDefinition.debounce`). */
export interface JobDebounce<Args extends SafeObject = SafeObject> {
  /**
   * Which enqueues collapse, from the arguments, e.g. `({ userId }) => String(userId)`: enqueues with one key within
   * `period` of each other give one run, with the last enqueue's arguments. Non-empty.
   */
  readonly key: (args: Args) => string;
  /** The quiet period: the run starts once no enqueue of the key came for this long. `'2s'`, `'1m'` or ms; ≥ 10 ms. */
  readonly period: Duration;
  /**
   * The longest a window stays open, from its first enqueue: a key enqueued more often than `period` still runs this
   * long after the first enqueue, and later enqueues open the next window. At least `period`. @default 10 × period
   */
  readonly maxWait?: Duration;
}

/** Smallest debounce period: below it a timer is no quieter than the enqueues themselves. */
export const MIN_DEBOUNCE_PERIOD_MS = 10;

/** Signal that carries one enqueue to the key's debounce workflow. */
export const DEBOUNCE_SIGNAL = 'debounce.enqueue';
/** Query of the debounce workflow: its open window and the runs it started (`DebounceState`). */
export const DEBOUNCE_STATE_QUERY = 'debounce.state';

/** One enqueue, as the client sends it to the debounce workflow: everything the run it may become needs. */
export interface DebouncedEnqueue {
  /** The job's workflow type (the child started). */
  workflowType: string;
  /** `<job>/<idempotency key of these arguments>`; the run's workflow ID is this plus `/debounced/<window start>`. */
  workflowIdBase: string;
  /** The arguments, already checked against the job's schema. */
  args: SafeObject;
  /** Priority key, fairness key and weight of this enqueue. */
  priority?: { priorityKey?: number; fairnessKey?: string; fairnessWeight?: number };
  /** `EnqueueOptions.enqueuedBy`, kept in the run's memo. */
  enqueuedBy?: string;
  /** The enqueue's `expiresAfter` in ms: the run must start this long after the debounce started it. */
  expiresAfterMs?: number;
  /**
   * The run's search attributes and summary (README "Finding runs"); absent in enqueues sent before runs carried them.
   */
  labels?: RunLabels;
}

/** Input of the debounce workflow: the job's period and maximum wait, and what a continued-as-new run carries over. */
export interface DebounceInput {
  job: string;
  periodMs: number;
  maxWaitMs: number;
  /** Carried over continue-as-new: the open window's latest enqueue, when it opened, and how many it collapsed. */
  carried?: { latest: DebouncedEnqueue; windowOpenedAt: number; enqueues: number; lastEnqueueAt: number };
}

/** A run the debounce workflow started. */
export interface DebouncedRun {
  workflowId: string;
  runId: string;
  /** How many enqueues it collapsed. */
  enqueues: number;
  /** When it was started (ISO). */
  startedAt: string;
}

/** What the debounce workflow's query answers, and (without `open`) what it returns. */
export interface DebounceState {
  /** The open window: how many enqueues wait in it, since when (ISO), and when it closes at the latest (ISO). */
  open?: { enqueues: number; openedAt: string; closesBy: string };
  /** The runs this debounce workflow run started, oldest first. */
  runs: DebouncedRun[];
}

/** Checks a declaration's `debounce` (TypeError naming the field); returns its period and maximum wait in ms. */
export function validateJobDebounce(jobName: string, debounce: unknown): { periodMs: number; maxWaitMs: number } {
  const fail = (message: string): never => {
    throw new TypeError(`job "${jobName}": debounce${message}`);
  };
  if (debounce === null || typeof debounce !== 'object' || Array.isArray(debounce))
    fail(' must be an object: { key: (args) => string, period, maxWait? }');
  const { key, period, maxWait, ...rest } = debounce as Record<string, unknown>;
  for (const field of Object.keys(rest)) fail(`.${field} is not a debounce field (key, period, maxWait)`);
  if (typeof key !== 'function') fail('.key must be a function of the arguments returning the key');
  const ms = (value: unknown, field: string): number => {
    try {
      return parseJobDuration(value, field);
    } catch (err) {
      return fail(`.${(err as Error).message}`);
    }
  };
  const periodMs = ms(period, 'period');
  if (periodMs < MIN_DEBOUNCE_PERIOD_MS) fail(`.period must be at least ${MIN_DEBOUNCE_PERIOD_MS} ms, got ${periodMs}`);
  const maxWaitMs = maxWait === undefined ? periodMs * 10 : ms(maxWait, 'maxWait');
  if (maxWaitMs < periodMs) fail(`.maxWait must be at least the period (${periodMs} ms), got ${maxWaitMs} ms`);
  return { periodMs, maxWaitMs };
}

/** The debounce workflow's ID for these arguments: `<job>/debounce/<key>`. */
export function debounceWorkflowId<Args extends SafeObject>(
  job: { readonly name: string; readonly debounce?: JobDebounce<Args> },
  args: Args,
): string {
  const key = job.debounce!.key(args);
  if (typeof key !== 'string' || key === '')
    throw new TypeError(`debounce key of job "${job.name}" must be a non-empty string, got ${JSON.stringify(key)}`);
  return `${job.name}/debounce/${key}`;
}
