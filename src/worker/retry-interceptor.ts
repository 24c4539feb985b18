import { ApplicationFailure, type Context } from '@temporalio/activity';
import { TemporalFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { DeclaredJob } from '../sandbox/job-definition';
import { decideRetry, type RetryTable } from '../sandbox/retry-rules';

/** Details attached to every failure a retry table decided, for dead-letter listings and the Web UI. */
export interface RetryFailureDetails {
  attempt: number;
  decision: 'retry' | 'discard' | 'exhausted';
  nextRetryDelayMs?: number;
  reason?: string;
}

/**
 * The retry tables the jobs declare, by the activity each governs. Activity names are global on a worker, so one
 * activity has at most one table; declaring a second is an error naming both jobs.
 */
export function retryTablesByActivity(jobs: readonly DeclaredJob<any>[]): ReadonlyMap<string, RetryTable> {
  const tables = new Map<string, { job: string; table: RetryTable }>();
  for (const job of jobs) {
    for (const [activity, table] of Object.entries(job.retryTables ?? {})) {
      const other = tables.get(activity);
      if (other && other.table !== table) {
        throw new TypeError(`activity "${activity}" has retry tables in two jobs: "${other.job}" and "${job.name}"`);
      }
      if (table) tables.set(activity, { job: job.name, table });
    }
  }
  return new Map([...tables].map(([activity, { table }]) => [activity, table]));
}

/**
 * Applies each activity's retry table: activity code only throws its typed errors; this turns each into an
 * `ApplicationFailure` with the rule's `nextRetryDelay`, or `nonRetryable` when the rule discards or the attempts for
 * that error type are used up. Activities without a table keep their plain RetryPolicy. Jitter is computed here, in
 * activity code, never in workflow code. A cancelled attempt's error passes as the cancellation (a CancelledFailure,
 * which the worker reports as cancelled), never through the table.
 */
export function retryTableInterceptor(tables: ReadonlyMap<string, RetryTable>): ActivityInterceptorsFactory {
  return (ctx: Context) => ({
    inbound: {
      async execute(input, next) {
        try {
          return await next(input);
        } catch (err) {
          const table = tables.get(ctx.info.activityType);
          if (!table || !(err instanceof Error) || err instanceof TemporalFailure) throw err;
          // Cancelled (the job was cancelled, or the run closed): whatever the aborted call threw, the attempt ends as
          // cancelled — no retry decision, no discard, so nothing is retried or marked dead because of it.
          if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
          const { attempt, workflowExecution, activityId } = ctx.info;
          const jitterKey = `${workflowExecution?.workflowId}/${activityId}/${attempt}`;
          const decision = decideRetry(table, attempt, err, jitterKey);
          const details: RetryFailureDetails =
            decision.action === 'retry'
              ? { attempt, decision: 'retry', nextRetryDelayMs: decision.delayMs }
              : { attempt, decision: decision.action, reason: decision.reason };
          throw ApplicationFailure.create({
            type: decision.type,
            message: decision.action === 'retry' ? err.message : `${err.message} (${decision.reason})`,
            nonRetryable: decision.action !== 'retry',
            nextRetryDelay: decision.action === 'retry' ? decision.delayMs : undefined,
            details: [details],
            cause: err,
          });
        }
      },
    },
  });
}
