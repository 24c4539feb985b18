import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { Logger } from 'pino';
import { jobOfRun } from '../sandbox/jobs';
import type { JobEvent, JobEventSinks } from '../sandbox/job-events';

/** The worker's side of the job events: each sink call becomes one log line. Never called during replay. */
export function jobEventSinks(logger: Logger): InjectedSinks<JobEventSinks> {
  const line = (event: string, level: 'info' | 'warn' | 'error') => ({
    fn: (info: { workflowId: string; runId: string; taskQueue: string }, e: JobEvent) =>
      logger[level]({ event, ...e, workflowId: info.workflowId, runId: info.runId, task_queue: info.taskQueue }),
  });
  return {
    jobEvents: {
      started: line('job_started', 'info'),
      succeeded: line('job_succeeded', 'info'),
      failed: line('job_failed', 'error'),
      cancelled: line('job_cancelled', 'info'),
      expired: line('job_expired', 'warn'),
    },
  };
}

/**
 * One log line per activity attempt's start, success and failure, with its attempt number and duration: where a
 * job's retries show. Activities never replay, so these never repeat either. Arguments are not logged.
 */
export function activityLogging(logger: Logger): ActivityInterceptorsFactory {
  return (ctx: Context) => ({
    inbound: {
      async execute(input, next) {
        const { info } = ctx;
        const fields = {
          job: jobOfRun({ workflowType: info.workflowType, workflowId: info.workflowExecution?.workflowId })?.name,
          activity: info.activityType,
          workflowId: info.workflowExecution?.workflowId,
          runId: info.workflowExecution?.runId,
          task_queue: info.taskQueue,
          attempt: info.attempt,
        };
        const started = performance.now();
        logger.debug({ event: 'activity_started', ...fields });
        try {
          const result = await next(input);
          logger.info({ event: 'activity_succeeded', ...fields, duration_ms: Math.round(performance.now() - started) });
          return result;
        } catch (err) {
          const e = err as Error & { type?: string };
          logger.warn({
            event: 'activity_failed',
            ...fields,
            duration_ms: Math.round(performance.now() - started),
            error_type: e.type ?? e.name,
            error_message: e.message,
          });
          throw err;
        }
      },
    },
  });
}
