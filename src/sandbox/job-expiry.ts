import {
  ApplicationFailure,
  metricMeter,
  patched,
  proxySinks,
  upsertMemo,
  workflowInfo,
  type Next,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInfo,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';
import { ErrorType } from './error-types';
import { EXPIRED_MEMO, EXPIRES_AT_MEMO, JOB_METRICS, type JobEventSinks } from './job-events';
import type { DeclaredJob } from './job-definition';
import { parseJobDuration } from './job-timing';
import { jobs } from './jobs';

const { jobEvents } = proxySinks<JobEventSinks>();

/**
 * Patch ID of the expiry check. `patched()` is only called once a run is past its deadline, so a run that starts in
 * time gets nothing added to its history; an expired run records the marker, so a replay of it expires again, while a
 * history recorded before the check existed (or before its job declared `expiresAfter`) replays as it ran.
 */
export const JOB_EXPIRY_PATCH = 'durable-jobs-job-expiry';

/**
 * The deadline (ms since the epoch) by which a run must have started: the memo's `expiresAt`, which the client writes
 * at enqueue (due time + `expiresAfter`, the enqueue's or the job's), else, for a run started without our client (raw
 * SDK, Temporal CLI, a Schedule), the run's start time + the job's declared `expiresAfter`. Undefined: it never
 * expires.
 */
export function expiryDeadline(
  job: DeclaredJob<any>,
  info: Pick<WorkflowInfo, 'memo' | 'startTime'>,
): number | undefined {
  const memo = info.memo?.[EXPIRES_AT_MEMO];
  if (typeof memo === 'string') {
    const at = Date.parse(memo);
    if (!Number.isNaN(at)) return at;
  }
  if (job.expiresAfter === undefined) return undefined;
  return info.startTime.getTime() + parseJobDuration(job.expiresAfter, 'expiresAfter');
}

/**
 * Drops a job that had not started by its deadline instead of running it late. At the first workflow task of the
 * job's first run (not a continued-as-new run, not a retry attempt), when workflow time — the time that task started,
 * the same on replay — is past the deadline, the run ends without calling the workflow: the memo gets `expired`
 * (so `JobClient.list` and the stats know without reading each result), one `job_expired` log line, the
 * `durable_jobs_job_expired` counter, and a non-retryable `JobExpired` failure. A job that started runs on, whatever
 * the clock says later.
 *
 * A workflow module for the worker's bundle (`workflowInterceptorModules`), always in and outermost: the job was
 * never started, so the instrumentation inside it logs neither `job_started` nor `job_failed`.
 */
class JobExpiry implements WorkflowInboundCallsInterceptor {
  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const info = workflowInfo();
    if (info.continuedFromExecutionRunId || info.attempt > 1) return next(input);
    const job = jobs.find((j) => j.workflowType === info.workflowType);
    if (!job) return next(input); // a child such as an export slice: its parent job started
    const deadline = expiryDeadline(job, info);
    const now = Date.now();
    if (deadline === undefined || now <= deadline || !patched(JOB_EXPIRY_PATCH)) return next(input);

    const expiresAt = new Date(deadline).toISOString();
    const lateMs = now - deadline;
    upsertMemo({ [EXPIRED_MEMO]: expiresAt });
    jobEvents.expired({ job: job.name, attempt: info.attempt, expires_at: expiresAt, late_ms: lateMs });
    metricMeter
      .createCounter(JOB_METRICS.expired, '1', 'Jobs dropped because they had not started by their deadline')
      .add(1, { job: job.name, task_queue: info.taskQueue });
    throw ApplicationFailure.create({
      type: ErrorType.JobExpired,
      message:
        `job "${job.name}" expired: it had not started by ${expiresAt} (expiresAfter), ` +
        `${Math.round(lateMs / 1000)} s ago; dropped without running`,
      nonRetryable: true,
      details: [{ expiresAt, lateMs }],
    });
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ inbound: [new JobExpiry()] });
