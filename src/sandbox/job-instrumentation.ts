import {
  ContinueAsNew,
  CancellationScope,
  defaultPayloadConverter,
  isCancellation,
  metricMeter,
  proxySinks,
  workflowInfo,
  type ContinueAsNewInput,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowOutboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
  type Next,
} from '@temporalio/workflow';
import { jobs } from './jobs';
import { ENQUEUED_BY_MEMO, JOB_METRICS, type JobEvent, type JobEventSinks } from './job-events';

const { jobEvents } = proxySinks<JobEventSinks>();

/**
 * When the job (the first run of its chain) started, in ms since the epoch, handed from run to run in a header of the
 * continue-as-new: `workflowInfo().startTime` is the current run's start, not the chain's. Headers are not encrypted;
 * a timestamp is not job data.
 */
const JOB_STARTED_AT_HEADER = 'durable-jobs-job-started-at';

/**
 * Reports each job's start, success and failure (a log line through the sink, and the job metrics), for every job with
 * no per-job code. Runs in the workflow sandbox: deterministic, and both sinks and the workflow metric meter are
 * silent during replay. A continue-as-new run is the same job: only the first run reports the start, only the last
 * one the end, with the duration of the whole chain.
 */
class JobInstrumentation implements WorkflowInboundCallsInterceptor, WorkflowOutboundCallsInterceptor {
  private jobStartedAt = 0;

  async continueAsNew(
    input: ContinueAsNewInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>,
  ): Promise<never> {
    const startedAt = defaultPayloadConverter.toPayload(this.jobStartedAt);
    return next({ ...input, headers: { ...input.headers, [JOB_STARTED_AT_HEADER]: startedAt } });
  }

  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const info = workflowInfo();
    const carried = input.headers[JOB_STARTED_AT_HEADER];
    this.jobStartedAt = carried ? defaultPayloadConverter.fromPayload<number>(carried) : info.startTime.getTime();
    const job = jobs.find((j) => j.workflowType === info.workflowType);
    if (!job) return next(input); // a child such as an export slice: part of its parent job
    const base: JobEvent = { job: job.name, attempt: info.attempt };
    const tags = { job: job.name, task_queue: info.taskQueue };
    if (!info.continuedFromExecutionRunId) {
      const enqueuedBy = info.memo?.[ENQUEUED_BY_MEMO];
      jobEvents.started({
        ...base,
        ...(typeof enqueuedBy === 'string' ? { enqueued_by: enqueuedBy } : {}),
        ...(job.logArguments ? { arguments: input.args[0] } : {}),
      });
    }
    const durationMs = () => Date.now() - this.jobStartedAt;
    try {
      const result = await next(input);
      const duration = durationMs();
      jobEvents.succeeded({ ...base, duration_ms: duration });
      metricMeter
        .createHistogram(JOB_METRICS.duration, 'int', 'ms', 'Job duration, start to end')
        .record(duration, tags);
      metricMeter.createCounter(JOB_METRICS.succeeded, '1', 'Jobs that completed').add(1, tags);
      return result;
    } catch (err) {
      if (err instanceof ContinueAsNew) throw err;
      const duration = durationMs();
      if (isCancellation(err) && CancellationScope.current().consideredCancelled) {
        // Cancelled on request (the run closes as Canceled): neither a failure nor a success.
        jobEvents.cancelled({ ...base, duration_ms: duration });
        metricMeter.createCounter(JOB_METRICS.cancelled, '1', 'Jobs cancelled on request').add(1, tags);
        throw err;
      }
      const { type, message } = rootCause(err);
      jobEvents.failed({ ...base, duration_ms: duration, error_type: type, error_message: message });
      metricMeter
        .createHistogram(JOB_METRICS.duration, 'int', 'ms', 'Job duration, start to end')
        .record(duration, tags);
      metricMeter.createCounter(JOB_METRICS.failed, '1', 'Jobs that failed').add(1, { ...tags, error_type: type });
      throw err;
    }
  }
}

function rootCause(err: unknown): { type: string; message: string } {
  let current = err as Error & { type?: string };
  while (current.cause instanceof Error) current = current.cause as Error & { type?: string };
  return { type: current.type ?? current.name ?? 'Error', message: current.message };
}

export const interceptors: WorkflowInterceptorsFactory = () => {
  const instrumentation = new JobInstrumentation();
  return { inbound: [instrumentation], outbound: [instrumentation] };
};
