import type { ActivityOptions, Duration } from '@temporalio/common';
import { z } from 'zod';
import type { Activities } from './app';
import { ErrorType } from './error-types';
import { parseJobDuration } from './job-timing';
import type { Priority } from './queues';
import type { RetryTable } from './retry-rules';
import type { SafeObject } from './safe-arguments';

/** Temporal priority keys: 1 is served first, 5 last. */
export type PriorityKey = 1 | 2 | 3 | 4 | 5;

/** Name of an activity some job's `activities/<job>.ts` registers. */
export type ActivityType = keyof Activities;

/** Failure-rate threshold of every job (the seed article's 2%); a job overrides it with `alertFailureRate`. */
export const DEFAULT_ALERT_FAILURE_RATE = 0.02;

/**
 * Everything about a job, declared once, at the top of `workflows/<job>.ts`. The client, the CLI, the HTTP service,
 * the worker and the job's own workflow all read this declaration; nothing about a job is repeated elsewhere.
 */
export interface JobDefinition<Args extends SafeObject = SafeObject> {
  /** Stable job name, used in workflow IDs (`<name>/<key>`), the CLI and logs. Kebab-case. */
  readonly name: string;
  /** One sentence for `jobctl jobs` and the README. */
  readonly description: string;
  /** The workflow function that runs the job; its name is the Temporal workflow type. */
  readonly workflow: (args: Args, ...rest: never[]) => Promise<unknown>;
  /** Priority group, and so task queue, the job runs on. */
  readonly queue: Priority;
  /** Schema of the arguments: checked at enqueue (after the safe-value check) and again at the workflow's door. */
  readonly args: z.ZodType<Args>;
  /**
   * Derives the idempotency key from the arguments: two enqueues with the same key are the same job, so the
   * workflow ID is `<name>/<key>` and a duplicate attaches to (or is a no-op after) the first.
   */
  readonly idempotencyKey: (args: Args) => string;
  /**
   * Per-error retry rules, by the activity they govern; each table is also compiled into that activity's options where
   * the workflow proxies it (`compileRetryPolicy`). The worker's retry interceptor applies them by activity type.
   */
  readonly retryTables?: { readonly [A in ActivityType]?: RetryTable };
  /**
   * Activities this job runs as Temporal local activities (the workflow proxies them with `proxyJobActivities`): the
   * worker that runs the workflow task runs the activity itself, so no task goes through the server and back. For
   * short activities that touch only our own database: they cannot heartbeat, their retries with short backoff run
   * inside the workflow task, and their timeout must stay short (seconds). Same options and retry policy as the remote
   * activity; an activity with a retry table stays remote. @default none
   */
  readonly localActivities?: readonly ActivityType[];
  /**
   * Order within the job's task queue, 1 (first) to 5 (last); Temporal's `priority.priorityKey`. Enqueue can override
   * it per job. Queues separate capacity; keys only order work waiting in one queue. @default 3 (Temporal's default)
   */
  readonly priorityKey?: PriorityKey;
  /** Failure rate (0–1) above which the health check alerts for this job. @default DEFAULT_ALERT_FAILURE_RATE */
  readonly alertFailureRate?: number;
  /** Include the arguments in the job's `job_started` log line. Off by default: arguments can hold personal data. */
  readonly logArguments?: boolean;
  /**
   * Whether the HTTP service may enqueue it (`POST /jobs/<name>`). Internal jobs (the health check, test jobs) say
   * `false`: over HTTP they are a 404, as if they did not exist; the client API and `jobctl` still start them.
   * @default true
   */
  readonly enqueueOverHttp?: boolean;
  /** Size budget for the JSON arguments. @default 65536 bytes */
  readonly maxArgumentBytes?: number;
  /**
   * Drop the job, with status `Expired`, when it has not started this long after it was due (enqueued, or the end of
   * its `delay`/`runAt`) — e.g. a password-reset email that is useless an hour later. A job that started runs on.
   * `'15m'`, `'1h'` or ms. An enqueue can override it (`EnqueueOptions.expiresAfter`). @default never expires
   */
  readonly expiresAfter?: Duration;
}

/** A declared job, as the registry holds it: the workflow type is derived from the workflow function. */
export interface DeclaredJob<Args extends SafeObject = SafeObject> extends JobDefinition<Args> {
  /** Temporal workflow type: the workflow function's name. */
  readonly workflowType: string;
}

const JOB = Symbol.for('durable-jobs.job');

/**
 * Declares a job; the arguments type comes from the schema, so unsafe argument types fail to compile. Throws a
 * TypeError naming the field for a bad declaration.
 */
export function defineJob<Args extends SafeObject>(definition: JobDefinition<Args>): DeclaredJob<Args> {
  if (!/^[a-z][a-z0-9-]*$/.test(definition.name)) {
    throw new TypeError(`job name must be kebab-case, got "${definition.name}"`);
  }
  if (typeof definition.workflow !== 'function' || definition.workflow.name === '') {
    throw new TypeError(`job "${definition.name}": workflow must be a named workflow function`);
  }
  const rate = definition.alertFailureRate;
  if (rate !== undefined && !(rate >= 0 && rate <= 1)) {
    throw new TypeError(`job "${definition.name}": alertFailureRate must be from 0 to 1, got ${rate}`);
  }
  for (const activity of definition.localActivities ?? []) {
    if (definition.retryTables?.[activity]) {
      throw new TypeError(
        `job "${definition.name}": localActivities: "${activity}" has a retry table; per-error retry delays ` +
          '(nextRetryDelay) are applied and tested for remote activities only, so keep it remote',
      );
    }
  }
  if (definition.expiresAfter !== undefined) {
    try {
      parseJobDuration(definition.expiresAfter, 'expiresAfter');
    } catch (err) {
      throw new TypeError(`job "${definition.name}": ${(err as Error).message}`);
    }
  }
  return Object.freeze({ ...definition, workflowType: definition.workflow.name, [JOB]: true });
}

export function isJobDefinition(value: unknown): value is DeclaredJob<any> {
  return typeof value === 'object' && value !== null && (value as { [JOB]?: boolean })[JOB] === true;
}

/** The arguments type of a job declaration. */
export type JobArgs<J> = J extends JobDefinition<infer A> ? A : never;

export function workflowIdFor<Args extends SafeObject>(job: JobDefinition<Args>, args: Args): string {
  const key = job.idempotencyKey(args);
  if (key === '') throw new TypeError(`idempotency key of job "${job.name}" must not be empty`);
  return `${job.name}/${key}`;
}

/** A database id as users pass it: a positive integer. */
export const recordId = z.number().int().positive();

/**
 * Options of an activity that only touches the database: short attempts, exponential backoff from 1 s capped at
 * 1 min, and no retry of a missing record.
 */
export const databaseActivity: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [ErrorType.RecordNotFound],
  },
};
