import { ApplicationFailure, type Context } from '@temporalio/activity';
import { TemporalFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { JobDefinition } from './job-definition';
import { decideRetry } from './retry-rules';

/** Details attached to every failure the retry table decided, for dead-letter listings and the Web UI. */
export interface RetryFailureDetails {
  attempt: number;
  decision: 'retry' | 'discard' | 'exhausted';
  nextRetryDelayMs?: number;
  reason?: string;
}

/**
 * Applies each job's retry table: activity code only throws its typed errors; this turns each into an
 * `ApplicationFailure` with the rule's `nextRetryDelay`, or `nonRetryable` when the rule discards or the attempts for
 * that error type are used up. Jitter is computed here, in activity code, never in workflow code.
 */
export function retryTableInterceptor(jobs: readonly JobDefinition<any>[]): ActivityInterceptorsFactory {
  const byWorkflowType = new Map(jobs.filter((j) => j.retry).map((j) => [j.workflowType as string, j]));
  return (ctx: Context) => ({
    inbound: {
      async execute(input, next) {
        try {
          return await next(input);
        } catch (err) {
          const job = byWorkflowType.get(ctx.info.workflowType ?? '');
          if (!job?.retry || !(err instanceof Error) || err instanceof TemporalFailure) throw err;
          const { attempt, workflowExecution, activityId } = ctx.info;
          const decision = decideRetry(job.retry, attempt, err, `${workflowExecution?.workflowId}/${activityId}/${attempt}`);
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
