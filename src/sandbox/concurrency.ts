import type { Duration } from '@temporalio/common';
import { parseJobDuration } from './job-timing';

/**
 * Per-key concurrency limits (README "Per-key concurrency"): the pure part, shared by the declaration check
 * (`defineJob`), the client's enqueue check, the job-side workflow interceptor (src/concurrency-limit.ts), the
 * semaphore workflow (workflows/concurrency-semaphore.ts) and its activities (activities/concurrency-semaphore.ts).
 * No I/O and no clock: the workflow sandbox imports it.
 */

/** A job's `concurrency` declaration: at most `limit` runs of the job per key at once, across every worker. */
export interface ConcurrencyLimit<Args> {
  /**
   * The key the limit counts by, from the job's (validated) arguments, e.g. `({ userId }) => String(userId)`. A
   * non-empty string of at most `MAX_CONCURRENCY_KEY_LENGTH` characters.
   */
  readonly key: (args: Args) => string;
  /** Runs of one key that may run at once, across all workers: a positive integer. */
  readonly limit: number;
  /**
   * How often the key's semaphore checks that the runs holding its permits are still open, and how long it stays
   * open with nothing to do. A permit whose run closed without giving it back (terminated, timed out) returns within
   * this. `'30s'`, `'1m'` or ms, at least 1 s. @default '1m'
   */
  readonly lease?: Duration;
}

export const DEFAULT_CONCURRENCY_LEASE_MS = 60_000;
export const MAX_CONCURRENCY_KEY_LENGTH = 200;
/** The patch marker a limited job's run records before it asks for a permit: runs started before it never ask. */
export const CONCURRENCY_PATCH = 'durable-jobs-concurrency-limit';

/** Signal and query names: the semaphore and its holders agree on them across processes and deploys. */
export const ACQUIRE_SIGNAL = 'durable-jobs.concurrency.acquire';
export const RELEASE_SIGNAL = 'durable-jobs.concurrency.release';
export const GRANT_SIGNAL = 'durable-jobs.concurrency.grant';
export const SEMAPHORE_STATE_QUERY = 'durable-jobs.concurrency.state';
export const SEMAPHORE_WORKFLOW_TYPE = 'concurrencySemaphoreWorkflow';

/** A run of a limited job: a workflow ID's execution chain (continue-as-new, retries and resets keep `firstRunId`). */
export interface PermitHolderId {
  workflowId: string;
  /** `workflowInfo().firstExecutionRunId`: tells this chain from a later run of the same workflow ID. */
  firstRunId: string;
}

/** What a run sends its key's semaphore to ask for a permit; sending it again is harmless (same chain, same place). */
export interface AcquireRequest extends PermitHolderId {
  /** The run to signal the grant to: the chain's current run. */
  runId: string;
  /** When the job was enqueued (its chain's start), ms since the epoch: waiters are served in this order. */
  enqueuedAt: number;
  /** The job's declared limit and lease, as this run's code declares them: the semaphore follows the latest. */
  limit: number;
  leaseMs: number;
}

export interface PermitHolder extends PermitHolderId {
  runId: string;
  enqueuedAt: number;
  /** When the semaphore granted the permit (workflow time, ms since the epoch). */
  grantedAt: number;
}

export interface PermitWaiter extends PermitHolderId {
  runId: string;
  enqueuedAt: number;
  /** Order of arrival at the semaphore: breaks ties of `enqueuedAt`. */
  arrival: number;
}

/** A semaphore's whole state: its input, carried over continue-as-new, and what its state query answers. */
export interface SemaphoreState {
  job: string;
  key: string;
  limit: number;
  leaseMs: number;
  holders: PermitHolder[];
  /** In the order they will be granted: by `enqueuedAt`, then arrival. */
  waiters: PermitWaiter[];
  arrivals: number;
  /** Permits granted so far, over the whole chain. */
  granted: number;
  /** Permits taken back from runs that closed without releasing them, over the whole chain. */
  reclaimed: number;
}

/** What the acquire activity needs: where the semaphore is and how to start it, and the request. */
export interface AcquireInput {
  semaphoreId: string;
  taskQueue: string;
  job: string;
  key: string;
  request: AcquireRequest;
}

/**
 * The semaphore of a job's key: one workflow per job, key and task queue (so deployments sharing a namespace, each
 * with its own queue prefix, keep apart). E.g. `semaphore/jobs-low/generate-report/42`.
 */
export function semaphoreWorkflowId(taskQueue: string, job: string, key: string): string {
  return `semaphore/${taskQueue}/${job}/${key}`;
}

/** A job's `concurrency` declaration checked; returns the lease in ms. Throws a TypeError naming the field. */
export function validateConcurrencyLimit(job: string, concurrency: unknown): number {
  const fail = (field: string, message: string): never => {
    throw new TypeError(`job "${job}": concurrency${field ? `.${field}` : ''} ${message}`);
  };
  if (concurrency === null || typeof concurrency !== 'object' || Array.isArray(concurrency)) {
    return fail('', 'must be an object: { key: (args) => string, limit: number, lease? }');
  }
  const { key, limit, lease, ...rest } = concurrency as Record<string, unknown>;
  for (const field of Object.keys(rest)) fail(field, 'is not a concurrency field (key, limit, lease)');
  if (typeof key !== 'function') fail('key', 'must be a function from the arguments to a string');
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    fail('limit', `must be a positive integer, got ${JSON.stringify(limit)}`);
  }
  if (lease === undefined) return DEFAULT_CONCURRENCY_LEASE_MS;
  let ms = 0;
  try {
    ms = parseJobDuration(lease, 'lease');
  } catch (err) {
    fail('lease', (err as Error).message.replace(/^lease /, ''));
  }
  if (ms < 1000) fail('lease', `must be at least 1 s, got ${JSON.stringify(lease)}`);
  return ms;
}

/** The key of a limited job's run, checked. Throws a TypeError naming `concurrency.key`. */
export function concurrencyKeyOf<Args>(job: { name: string; concurrency?: ConcurrencyLimit<Args> }, args: Args) {
  if (!job.concurrency) return undefined;
  const key: unknown = job.concurrency.key(args);
  if (typeof key !== 'string' || key === '' || key.length > MAX_CONCURRENCY_KEY_LENGTH) {
    throw new TypeError(
      `job "${job.name}": concurrency.key must return a non-empty string of at most ` +
        `${MAX_CONCURRENCY_KEY_LENGTH} characters, got ${typeof key === 'string' ? `${key.length} characters` : JSON.stringify(key)}`,
    );
  }
  return key;
}

/**
 * Where a request goes in the waiting line: after every waiter enqueued before it or at the same time and arrived
 * earlier. Returns the index to insert at. Pure.
 */
export function waiterPosition(waiters: readonly PermitWaiter[], waiter: PermitWaiter): number {
  let i = waiters.length;
  while (
    i > 0 &&
    (waiters[i - 1]!.enqueuedAt > waiter.enqueuedAt ||
      (waiters[i - 1]!.enqueuedAt === waiter.enqueuedAt && waiters[i - 1]!.arrival > waiter.arrival))
  )
    i--;
  return i;
}
