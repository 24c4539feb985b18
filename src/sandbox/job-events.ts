import type { Sinks } from '@temporalio/workflow';

/**
 * What a job's workflow reports about itself, through a sink: the worker turns each call into one structured log line
 * (and the workflow records the job metrics). Sink calls are skipped during replay, so a line is never repeated when
 * a worker rebuilds a workflow from its history. Workflow ID, run ID and task queue come with the call.
 */
export interface JobEvent {
  job: string;
  /** Attempt of the workflow run (1 unless the run itself was retried). */
  attempt: number;
  /** Since the job (the first run of its continue-as-new chain) started; absent on `started`. */
  duration_ms?: number;
  error_type?: string;
  error_message?: string;
  /** Who enqueued the job (`EnqueueOptions.enqueuedBy`, e.g. `token:web`), when recorded; only on `started`. */
  enqueued_by?: string;
  /** The job's arguments, only for jobs that opt in with `logArguments`: arguments can hold personal data. */
  arguments?: unknown;
  /** The deadline by which the job had to start (ISO); only on `expired`. */
  expires_at?: string;
  /** How long after that deadline its first workflow task came; only on `expired`. */
  late_ms?: number;
}

export interface JobEventSinks extends Sinks {
  jobEvents: {
    started(event: JobEvent): void;
    succeeded(event: JobEvent): void;
    failed(event: JobEvent): void;
    /** The run was cancelled on request (`JobClient.cancel`): not a failure. */
    cancelled(event: JobEvent): void;
    /** The job had not started by its `expiresAfter` deadline and was dropped without running (job-expiry.ts). */
    expired(event: JobEvent): void;
  };
}

/** Memo field that says who enqueued a run (`EnqueueOptions.enqueuedBy`); the job's start line repeats it. */
export const ENQUEUED_BY_MEMO = 'enqueuedBy';

/**
 * Memo field with the deadline (ISO) by which the run must have started, written by the client at enqueue when the
 * enqueue or the job's declaration sets `expiresAfter`: due time (enqueue, or the end of the delay) + `expiresAfter`.
 */
export const EXPIRES_AT_MEMO = 'expiresAt';

/** Memo field the run itself writes when it expired (job-expiry.ts): the deadline it missed, ISO. */
export const EXPIRED_MEMO = 'expired';

/** Metric names on the worker's Prometheus endpoint, next to the SDK's own `temporal_*` series. */
export const JOB_METRICS = {
  duration: 'durable_jobs_job_duration',
  succeeded: 'durable_jobs_job_succeeded',
  failed: 'durable_jobs_job_failed',
  cancelled: 'durable_jobs_job_cancelled',
  expired: 'durable_jobs_job_expired',
} as const;
