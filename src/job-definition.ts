import type { ActivityOptions } from '@temporalio/common';
import type { z } from 'zod';
import type { Priority } from './queues';
import { compileRetryPolicy, type RetryTable } from './retry-rules';
import type { SafeObject } from './safe-arguments';
import type * as workflows from '../workflows';

/** Temporal priority keys: 1 is served first, 5 last. */
export type PriorityKey = 1 | 2 | 3 | 4 | 5;

/** Name of a workflow function exported by `workflows/index.ts`. */
export type WorkflowType = keyof typeof workflows;

/**
 * Everything about a job, declared once. The client, the CLI, the HTTP service, the worker and the job's own workflow
 * all read this declaration; nothing about a job is repeated elsewhere.
 */
export interface JobDefinition<Args extends SafeObject = SafeObject> {
  /** Stable job name, used in workflow IDs (`<name>/<key>`), the CLI and logs. Kebab-case. */
  readonly name: string;
  /** One sentence for `jobctl jobs` and the README. */
  readonly description: string;
  /** The workflow function that runs the job. */
  readonly workflowType: WorkflowType;
  /** Priority group, and so task queue, the job runs on. */
  readonly queue: Priority;
  /** Schema of the arguments; checked at enqueue after the safe-value check. */
  readonly args: z.ZodType<Args>;
  /**
   * Derives the idempotency key from the arguments: two enqueues with the same key are the same job, so the
   * workflow ID is `<name>/<key>` and a duplicate attaches to (or is a no-op after) the first.
   */
  readonly idempotencyKey: (args: Args) => string;
  /** Timeouts and retry policy of the job's activities. With a `retry` table, the policy is compiled from it. */
  readonly activities: ActivityOptions;
  /** Per-error retry rules for the job's activities (see retry-rules.ts); the worker's retry interceptor applies them. */
  readonly retry?: RetryTable;
  /**
   * Order within the job's task queue, 1 (first) to 5 (last); Temporal's `priority.priorityKey`. Enqueue can override
   * it per job. Queues separate capacity; keys only order work waiting in one queue. @default 3 (Temporal's default)
   */
  readonly priorityKey?: PriorityKey;
  /** Failure rate (0–1) above which the health check alerts for this job. @default 0.02 */
  readonly alertFailureRate?: number;
  /** Include the arguments in the job's `job_started` log line. Off by default: arguments can hold personal data. */
  readonly logArguments?: boolean;
  /** Size budget for the JSON arguments. @default 65536 bytes */
  readonly maxArgumentBytes?: number;
}

/** Declares a job; the arguments type comes from the schema, so unsafe argument types fail to compile. */
export function defineJob<Args extends SafeObject>(definition: JobDefinition<Args>): JobDefinition<Args> {
  if (!/^[a-z][a-z0-9-]*$/.test(definition.name)) {
    throw new TypeError(`job name must be kebab-case, got "${definition.name}"`);
  }
  if (definition.retry && definition.activities.retry) {
    throw new TypeError(`job "${definition.name}" declares both activities.retry and a retry table; keep one`);
  }
  const activities = definition.retry ? { ...definition.activities, retry: compileRetryPolicy(definition.retry) } : definition.activities;
  return Object.freeze({ ...definition, activities });
}

/** The arguments type of a job declaration. */
export type JobArgs<J> = J extends JobDefinition<infer A> ? A : never;

export function workflowIdFor<Args extends SafeObject>(job: JobDefinition<Args>, args: Args): string {
  const key = job.idempotencyKey(args);
  if (key === '') throw new TypeError(`idempotency key of job "${job.name}" must not be empty`);
  return `${job.name}/${key}`;
}
