import { randomUUID } from 'node:crypto';
import {
  Client,
  Connection,
  QueryNotRegisteredError,
  WorkflowNotFoundError,
  isGrpcServiceError,
} from '@temporalio/client';
import {
  decodeFromPayloadsAtIndex,
  encodeMapToPayloads,
  encodeToPayloads,
  encodeUserMetadata,
} from '@temporalio/common/lib/internal-non-workflow';
import { encodeUnifiedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import type { Duration } from '@temporalio/common';
import { msNumberToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { concurrencyKeyOf } from '../sandbox/concurrency';
import { DEFAULT_SETTINGS, readSettings, type Settings } from '../config';
import { dataConverterFor } from '../encryption';
import { debounceWorkflowId, validateJobDebounce, type DebouncedEnqueue } from '../sandbox/debounce';
import { JobNotFoundError, TemporalUnavailableError } from '../sandbox/errors';
import { fairnessFor, type FairnessOptions } from '../sandbox/fairness';
import { workflowIdFor, type DeclaredJob, type PriorityKey } from '../sandbox/job-definition';
import { ENQUEUED_BY_MEMO, EXPIRED_MEMO, EXPIRES_AT_MEMO } from '../sandbox/job-events';
import { clientTracingInterceptors, startWorkflowStartSpan } from '../instrumentation/tracing';
import { InvalidJobTimingError, jobTiming, parseJobDuration } from '../sandbox/job-timing';
import { findJobOrThrow, jobOfRun, jobs } from '../sandbox/jobs';
import { PROGRESS_QUERY, type JobProgress } from '../sandbox/progress';
import { PRIORITIES, taskQueueName } from '../sandbox/queues';
import type { SafeObject } from '../sandbox/safe-arguments';
import {
  jobsClause,
  quoteQueryString,
  runLabels,
  searchAttributePairs,
  SEARCH_ATTRIBUTES,
  TENANT_ID,
} from '../sandbox/search-attributes';
import { validateJobArguments } from '../sandbox/validate-arguments';
import { debounceEnqueueSignal, debounceWorkflow } from '../sandbox/debounce-workflow';

export interface EnqueueResult {
  workflowId: string;
  runId: string;
  /** True when a run with this workflow ID already existed (running, or completed): nothing new was started. */
  duplicate: boolean;
  /** The run in the Temporal Web UI. */
  url: string;
  /** When the run this enqueue started with a `delay`/`runAt` is due to start (ISO); absent for a duplicate. */
  startsAt?: string;
  /** The deadline by which the run this enqueue started must have started, when it expires (ISO). */
  expiresAt?: string;
  /**
   * True for a job that declares `debounce`: the enqueue went to the key's debounce workflow, whose ID is `workflowId`
   * (`<job>/debounce/<key>`; `runId` is the run it signalled), and joins its open window or opens the next one. Its
   * query `debounce.state` and, once it closed, its result list the job runs it started. `duplicate` is false.
   */
  debounced?: true;
}

export const JOB_STATUSES = [
  'Running',
  'Completed',
  'Failed',
  'Canceled',
  'Terminated',
  'ContinuedAsNew',
  'TimedOut',
  /** Running, but still waiting out its start delay (`delay`/`runAt`): its execution time is in the future. */
  'Scheduled',
  /** Failed with `JobExpired`: it had not started by its `expiresAfter` deadline and was dropped without running. */
  'Expired',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export interface JobRunSummary {
  workflowId: string;
  runId: string;
  job: string;
  status: JobStatus;
  startTime: string;
  closeTime?: string;
  url: string;
  /** Who enqueued it (`EnqueueOptions.enqueuedBy`), when it was recorded. */
  enqueuedBy?: string;
  /** When a Scheduled run starts: the end of its delay (ISO). */
  startsAt?: string;
  /** The deadline by which it had to start, when it expires (`expiresAfter`; ISO). */
  expiresAt?: string;
}

export interface JobRunStatus extends JobRunSummary {
  /** The job's return value, when completed. */
  result?: unknown;
  /** Why it failed, when failed. */
  failure?: { message: string; type?: string };
  /** Progress, for a running job whose workflow reports it. */
  progress?: JobProgress;
}

/** A job whose latest run failed — discarded by its retry rules, out of attempts, or failed otherwise. */
export interface DeadJob extends JobRunSummary {
  errorType: string;
  message: string;
}

export interface RetryResult {
  workflowId: string;
  /** True when a new run was started; false when the job is not dead (already retried, running or completed). */
  retried: boolean;
  runId: string;
  status?: JobStatus;
  url: string;
}

const CLOSED_UNSUCCESSFULLY: readonly JobStatus[] = ['Failed', 'TimedOut', 'Terminated', 'Canceled'];

/** Closed statuses of a dead job. Canceled is not one: a cancelled job was stopped on purpose, it did not fail. */
const DEAD_STATUSES: readonly JobStatus[] = ['Failed', 'TimedOut', 'Terminated'];

export interface CancelResult {
  workflowId: string;
  /** The run cancellation was requested of (the latest run of the workflow ID). */
  runId: string;
  job: string;
  /** True when cancellation was requested; false when the latest run had already closed (nothing to cancel). */
  cancelled: boolean;
  /**
   * The run's status when asked: `Running` when `cancelled` (it closes as Canceled once its workflow has stopped its
   * work, usually within seconds), else how it closed (Completed, Failed, Canceled, …).
   */
  status: JobStatus;
  url: string;
}

/**
 * Which open runs a bulk cancel selects: `Running` ones that have started, `Scheduled` ones still waiting out a start
 * delay (Temporal: ExecutionStatus Running with an ExecutionTime in the future), or both when omitted.
 */
export type CancellableStatus = 'Running' | 'Scheduled';

export interface CancelManyFilter {
  /** The job whose open runs to cancel. */
  job: string;
  /** Only runs in this state. @default both Running and Scheduled */
  status?: CancellableStatus;
}

export interface CancelManyResult {
  /** How many runs cancellation was requested of. */
  count: number;
  /** Their workflow IDs, in the order they were cancelled. */
  workflowIds: string[];
}

export interface EnqueueOptions {
  /** Order within the job's queue, 1 (first) to 5 (last); overrides the job's declared key. */
  priorityKey?: PriorityKey;
  /**
   * Who enqueues, e.g. `token:web` for the HTTP service's API token "web": kept in the run's memo (`enqueuedBy`, shown
   * by the Web UI and `jobctl status`) and in the job's `job_started` log line. A duplicate keeps the first run's.
   */
  enqueuedBy?: string;
  /**
   * Start the job this long from now: `'10m'`, `'5s'`, `'1h'` or ms (Temporal's start delay). Until then it is
   * `Scheduled`; an enqueue of the same key meanwhile attaches to the waiting run. Not with `runAt`. @default 0 (now)
   */
  delay?: Duration;
  /**
   * Start the job at this time: a `Date` or an ISO 8601 time with a zone. Up to 1 s in the past starts at once; further
   * in the past is refused. Not with `delay`. @default now
   */
  runAt?: Date | string;
  /**
   * Drop the job (status `Expired`) if it has not started this long after it was due (now, or the end of its delay):
   * `'15m'`, `'1h'` or ms. Overrides the job's declared `expiresAfter`. @default the job's, else never
   */
  expiresAfter?: Duration;
  /**
   * Fair sharing within the queue: runs are dispatched across fairness keys (e.g. tenant ids) in proportion to their
   * weights instead of first in, first out (Temporal's `priority.fairnessKey`; the workflow's activities and children
   * inherit it). Non-empty, at most 64 bytes. Overrides the job's declared `fairness.key`. @default the job's, else none
   */
  fairnessKey?: string;
  /**
   * The fairness key's share, 0.001 to 1000: weight 2 gets twice the dispatches of weight 1 while both have work
   * waiting. Overrides the job's declared `fairness.weight`. @default the job's, else 1
   */
  fairnessWeight?: number;
}

export interface JobClientOptions {
  /** A Temporal client; when omitted, `JobClient.connect` makes one from the settings. */
  client: Client;
  /** @default DEFAULT_SETTINGS.taskQueuePrefix ('jobs') */
  taskQueuePrefix?: string;
  /** @default DEFAULT_SETTINGS.temporalUiUrl ('http://localhost:8233') */
  uiUrl?: string;
}

/** gRPC status the server answers when the reuse policy refuses a new run. */
const GRPC_ALREADY_EXISTS = 6;

/** How long a CLI or web process waits for an unreachable server before saying so. */
const CONNECT_TIMEOUT = '5s';
/** How long one enqueue may take, the SDK's own retries of an unavailable server included. */
const ENQUEUE_TIMEOUT_MS = 10_000;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_CANCELLED = 1;

/**
 * A call given a deadline ended because the deadline passed. grpc-js ends it as DEADLINE_EXCEEDED or, about two times
 * in five (seen against server 1.29.1 on a query no worker answers), as CANCELLED.
 */
function deadlinePassed(err: { code: number }, deadline: number): boolean {
  return err.code === GRPC_DEADLINE_EXCEEDED || (err.code === GRPC_CANCELLED && Date.now() >= deadline);
}
/** How long `status` waits for a running job's worker to answer its progress query. */
const STATUS_PROGRESS_TIMEOUT_MS = 3_000;
const GRPC_UNAVAILABLE = 14;
/** Cancellation requests a bulk cancel has in flight at once. */
const CANCEL_CONCURRENCY = 8;

/**
 * The client API: enqueue jobs, look at their runs. Every call reads the job's declaration; arguments are
 * validated before any RPC.
 */
export class JobClient {
  readonly temporal: Client;
  readonly taskQueuePrefix: string;
  readonly uiUrl: string;
  readonly namespace: string;

  constructor(options: JobClientOptions) {
    this.temporal = options.client;
    this.namespace = options.client.options.namespace;
    this.taskQueuePrefix = options.taskQueuePrefix ?? DEFAULT_SETTINGS.taskQueuePrefix;
    this.uiUrl = (options.uiUrl ?? DEFAULT_SETTINGS.temporalUiUrl).replace(/\/+$/, '');
  }

  /** Connects with Temporal's environment conventions (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, …). */
  static async connect(settings: Settings = readSettings()): Promise<JobClient> {
    const connection = await connectTemporal(settings);
    const client = new Client({
      connection,
      namespace: settings.temporalNamespace,
      dataConverter: dataConverterFor(settings.encryption),
      // Traces (README "Traces"): spans for signal-with-start, queries, cancel…; none when tracing is off.
      interceptors: { workflow: clientTracingInterceptors() },
    });
    return new JobClient({ client, taskQueuePrefix: settings.taskQueuePrefix, uiUrl: settings.temporalUiUrl });
  }

  async close(): Promise<void> {
    await this.temporal.connection.close();
  }

  /** Enqueues a job by its declaration; TypeScript checks the arguments' shape. */
  async enqueue<Args extends SafeObject>(
    job: DeclaredJob<Args>,
    args: NoInfer<Args>,
    options: EnqueueOptions = {},
  ): Promise<EnqueueResult> {
    if (job.debounce) return this.enqueueDebounced(job, validateJobArguments(job, args), options);
    return this.start(job, validateJobArguments(job, args), options);
  }

  /** Enqueues a job by name with arguments from outside (CLI, HTTP); unknown jobs and bad arguments throw. */
  async enqueueByName(name: string, args: unknown, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    const job = findJobOrThrow(name);
    if (job.debounce) return this.enqueueDebounced(job, validateJobArguments(job, args), options);
    return this.start(job, validateJobArguments(job, args), options);
  }

  /**
   * Starts with conflict policy USE_EXISTING (a duplicate of a running job attaches to it) and reuse policy
   * ALLOW_DUPLICATE_FAILED_ONLY (a duplicate of a completed job is a no-op; a failed one may run again).
   * Calls StartWorkflowExecution directly because only its response says whether a run was started.
   */
  private async start<Args extends SafeObject>(
    job: DeclaredJob<Args>,
    args: Args,
    enqueueOptions: EnqueueOptions = {},
    workflowId = workflowIdFor(job, args),
  ): Promise<EnqueueResult> {
    const priority = priorityOf(job, args, enqueueOptions);
    // Before any RPC: a concurrency key the declaration derives badly throws a TypeError naming concurrency.key.
    concurrencyKeyOf(job, args);
    // Before any RPC: a bad delay, runAt or expiresAfter throws InvalidJobTimingError naming it.
    const timing = jobTiming(enqueueOptions, job.expiresAfter, Date.now());
    // Before any RPC: a declared tenant or summary that fails throws a TypeError naming it (README "Finding runs").
    const labels = runLabels(job, args);
    const { workflowService, options } = this.temporal;
    const userMetadata = await encodeUserMetadata(options.loadedDataConverter, labels.summary, undefined);
    const input = { payloads: await encodeToPayloads(options.loadedDataConverter, args) };
    const memoFields: Record<string, unknown> = {
      ...(enqueueOptions.enqueuedBy === undefined ? {} : { [ENQUEUED_BY_MEMO]: enqueueOptions.enqueuedBy }),
      ...(timing.expiresAt ? { [EXPIRES_AT_MEMO]: timing.expiresAt.toISOString() } : {}),
    };
    const memo =
      Object.keys(memoFields).length === 0
        ? undefined
        : { fields: await encodeMapToPayloads(options.loadedDataConverter, memoFields) };
    // Traced (README "Traces") as the SDK's client interceptor would, which this direct call bypasses.
    const traced = startWorkflowStartSpan(job.workflowType, workflowId);
    const deadline = Date.now() + ENQUEUE_TIMEOUT_MS;
    try {
      // Bounded: a server that goes away after we connected is an error in seconds, not whenever gRPC gives up.
      const response = await this.temporal.connection.withDeadline(deadline, () =>
        workflowService.startWorkflowExecution({
          header: traced?.header,
          namespace: this.namespace,
          identity: options.identity,
          requestId: randomUUID(),
          workflowId,
          workflowType: { name: job.workflowType },
          taskQueue: {
            name: taskQueueName(this.taskQueuePrefix, job.queue),
            kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL,
          },
          input,
          memo,
          // JobName, JobKey and TenantId, and the Web UI's one-line summary (README "Finding runs").
          searchAttributes: { indexedFields: encodeUnifiedSearchAttributes(undefined, searchAttributePairs(labels)) },
          userMetadata,
          workflowIdReusePolicy:
            temporal.api.enums.v1.WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
          workflowIdConflictPolicy:
            temporal.api.enums.v1.WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
          // The workflow's activities and children inherit it.
          priority,
          // The run exists at once (so a duplicate attaches to it) and gets its first workflow task after the delay.
          workflowStartDelay: timing.startDelayMs === undefined ? undefined : msNumberToTs(timing.startDelayMs),
        }),
      );
      traced?.end({ runId: response.runId });
      return {
        workflowId,
        runId: response.runId,
        duplicate: !response.started,
        url: this.runUrl(workflowId, response.runId),
        ...(response.started && timing.startDelayMs !== undefined ? { startsAt: timing.dueAt.toISOString() } : {}),
        ...(response.started && timing.expiresAt ? { expiresAt: timing.expiresAt.toISOString() } : {}),
      };
    } catch (err) {
      traced?.end(isGrpcServiceError(err) && err.code === GRPC_ALREADY_EXISTS ? {} : { error: err });
      if (isGrpcServiceError(err) && err.code === GRPC_ALREADY_EXISTS) {
        const { workflowExecutionInfo } = await this.temporal.workflow
          .getHandle(workflowId)
          .describe()
          .then((d) => d.raw);
        const runId = workflowExecutionInfo?.execution?.runId ?? '';
        return { workflowId, runId, duplicate: true, url: this.runUrl(workflowId, runId) };
      }
      if (isGrpcServiceError(err) && (err.code === GRPC_UNAVAILABLE || deadlinePassed(err, deadline))) {
        const { connection } = this.temporal;
        const address = connection instanceof Connection ? connection.options.address : 'the Temporal server';
        const outcome =
          err.code === GRPC_UNAVAILABLE
            ? 'nothing was enqueued'
            : `no answer within ${ENQUEUE_TIMEOUT_MS / 1000} s, so it may or may not have started; ` +
              'enqueueing again is safe (same workflow ID)';
        throw new TemporalUnavailableError(address, err, `${workflowId}: ${outcome}`);
      }
      throw missingSearchAttributesError(err, this.namespace) ?? err;
    }
  }

  /**
   * Enqueues a job that declares `debounce`: signal-with-start of the key's debounce workflow (`<job>/debounce/<key>`)
   * on the job's queue, carrying this enqueue (arguments, priority, fairness, memo fields). See README "Debounce".
   */
  private async enqueueDebounced<Args extends SafeObject>(
    job: DeclaredJob<Args>,
    args: Args,
    options: EnqueueOptions,
  ): Promise<EnqueueResult> {
    for (const field of ['delay', 'runAt'] as const) {
      if (options[field] !== undefined)
        throw new InvalidJobTimingError(
          field,
          `does not apply to job "${job.name}": it is debounced, so its run starts when its debounce period has passed`,
        );
    }
    const { periodMs, maxWaitMs } = validateJobDebounce(job.name, job.debounce);
    const priority = priorityOf(job, args, options);
    const workflowId = debounceWorkflowId(job, args);
    const enqueue: DebouncedEnqueue = {
      workflowType: job.workflowType,
      workflowIdBase: workflowIdFor(job, args),
      args,
      labels: runLabels(job, args),
      ...(priority ? { priority } : {}),
      ...(options.enqueuedBy === undefined ? {} : { enqueuedBy: options.enqueuedBy }),
      ...(options.expiresAfter === undefined
        ? {}
        : { expiresAfterMs: parseJobDuration(options.expiresAfter, 'expiresAfter') }),
    };
    const deadline = Date.now() + ENQUEUE_TIMEOUT_MS;
    try {
      const handle = await this.temporal.connection.withDeadline(deadline, () =>
        this.temporal.workflow.signalWithStart(debounceWorkflow, {
          workflowId,
          taskQueue: taskQueueName(this.taskQueuePrefix, job.queue),
          args: [{ job: job.name, periodMs, maxWaitMs }],
          signal: debounceEnqueueSignal,
          signalArgs: [enqueue],
          ...(priority ? { priority } : {}),
        }),
      );
      const runId = handle.signaledRunId;
      return { workflowId, runId, duplicate: false, debounced: true, url: this.runUrl(workflowId, runId) };
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause ?? err;
      if (isGrpcServiceError(cause) && (cause.code === GRPC_UNAVAILABLE || deadlinePassed(cause, deadline))) {
        const { connection } = this.temporal;
        const address = connection instanceof Connection ? connection.options.address : 'the Temporal server';
        const outcome =
          cause.code === GRPC_UNAVAILABLE
            ? 'nothing was enqueued'
            : `no answer within ${ENQUEUE_TIMEOUT_MS / 1000} s, so it may or may not have been enqueued`;
        throw new TemporalUnavailableError(address, err, `${workflowId}: ${outcome}`);
      }
      throw err;
    }
  }

  /** Status of the latest run of a workflow ID, with its result or failure once closed. */
  async status(workflowId: string): Promise<JobRunStatus> {
    const handle = this.temporal.workflow.getHandle(workflowId);
    let description;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new JobNotFoundError(workflowId);
      throw err;
    }
    const summary = this.summarize(description);
    if (summary.status === 'Completed') return { ...summary, result: await handle.result() };
    if (
      summary.status === 'Failed' ||
      summary.status === 'Expired' ||
      summary.status === 'TimedOut' ||
      summary.status === 'Terminated' ||
      summary.status === 'Canceled'
    ) {
      try {
        await handle.result();
      } catch (err) {
        const cause = rootCause(err);
        return {
          ...summary,
          failure: { message: cause.message, type: (cause as { type?: string }).type ?? cause.name },
        };
      }
    }
    if (summary.status === 'Running') {
      // A run no worker has picked up (none polling its queue, or all busy) cannot answer the progress query: the
      // status says what Temporal knows after a short wait instead of waiting out the query's own timeout.
      const progress = await this.progress(workflowId, { timeoutMs: STATUS_PROGRESS_TIMEOUT_MS });
      if (progress) return { ...summary, progress };
    }
    return summary;
  }

  /**
   * Progress of a running job, or undefined when its workflow does not report progress — or, with `timeoutMs`, when
   * no worker answered within that time.
   */
  async progress(workflowId: string, options: { timeoutMs?: number } = {}): Promise<JobProgress | undefined> {
    const query = () => this.temporal.workflow.getHandle(workflowId).query<JobProgress>(PROGRESS_QUERY);
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    try {
      return deadline === undefined ? await query() : await this.temporal.connection.withDeadline(deadline, query);
    } catch (err) {
      if (
        err instanceof QueryNotRegisteredError ||
        /did not register a handler|not registered/i.test(String((err as Error).message))
      )
        return undefined;
      const cause = (err as { cause?: unknown }).cause ?? err;
      if (deadline !== undefined && isGrpcServiceError(cause) && deadlinePassed(cause, deadline)) return undefined;
      throw err;
    }
  }

  /** Runs of our jobs, newest first, from Temporal's visibility store. */
  async list(
    filter: {
      job?: string;
      status?: JobStatus;
      limit?: number;
      /** Only runs of this tenant (`TenantId`, jobs that declare `tenant`; README "Finding runs"). */
      tenant?: string;
    } = {},
  ): Promise<JobRunSummary[]> {
    const selected = filter.job ? [findJobOrThrow(filter.job)] : jobs;
    // This deployment's runs only: several deployments (task queue prefixes) may share one namespace.
    const queues = PRIORITIES.map((p) => `'${taskQueueName(this.taskQueuePrefix, p)}'`);
    // By JobName, or by workflow type for the runs started before runs carried JobName (README "Finding runs").
    const clauses = [jobsClause(selected), `TaskQueue IN (${queues.join(', ')})`];
    if (filter.tenant !== undefined) clauses.push(`${TENANT_ID.name} = ${quoteQueryString(filter.tenant)}`);
    const now = new Date();
    if (filter.status) clauses.push(statusClause(filter.status, now));
    const out: JobRunSummary[] = [];
    const runs = this.temporal.workflow.list({ query: clauses.join(' AND '), pageSize: 100 });
    for await (const info of withSearchAttributeHint(runs, this.namespace)) {
      const summary = this.summarize(info, now);
      // Expired runs are Failed to Temporal (told apart by their memo), Scheduled ones Running: keep what was asked.
      if (filter.status && summary.status !== filter.status) continue;
      out.push(summary);
      if (out.length >= (filter.limit ?? 50)) break;
    }
    return out;
  }

  /**
   * Dead letters: runs that failed and were not run again since. Read from Temporal's visibility and each run's
   * failure, so there is no second store to drift out of date.
   */
  async deadLetters(
    filter: {
      job?: string;
      errorType?: string;
      limit?: number;
      /** Only this tenant's dead jobs (`TenantId`; README "Finding runs"). */
      tenant?: string;
    } = {},
  ): Promise<DeadJob[]> {
    const failed = await this.list({ job: filter.job, status: 'Failed', limit: 1000, tenant: filter.tenant });
    const dead: DeadJob[] = [];
    const seen = new Set<string>();
    for (const run of failed) {
      if (seen.has(run.workflowId)) continue;
      seen.add(run.workflowId);
      const latest = await this.status(run.workflowId);
      if (latest.runId !== run.runId || !DEAD_STATUSES.includes(latest.status)) continue; // run again since
      const errorType = latest.failure?.type ?? 'Error';
      if (filter.errorType && errorType !== filter.errorType) continue;
      dead.push({ ...run, errorType, message: latest.failure?.message ?? '' });
      if (dead.length >= (filter.limit ?? 100)) break;
    }
    return dead;
  }

  /** The latest run of a workflow ID, without its result: `JobNotFoundError` when there is none. */
  async latestRun(workflowId: string): Promise<JobRunSummary> {
    try {
      return this.summarize(await this.temporal.workflow.getHandle(workflowId).describe());
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new JobNotFoundError(workflowId);
      throw err;
    }
  }

  /**
   * Requests cancellation of the latest run of a workflow ID (a running job, or one waiting out a start delay). The
   * run's workflow sees it at once: activities in flight are cancelled (heartbeating ones stop at their next
   * heartbeat), child workflows are cancelled, and the run closes as Canceled — neither failed nor dead, and the same
   * key can be enqueued again. A run that already closed is left alone (`cancelled: false`); asking twice is harmless.
   * Unknown workflow IDs throw `JobNotFoundError`.
   */
  async cancel(workflowId: string): Promise<CancelResult> {
    const latest = await this.latestRun(workflowId);
    const result = (run: JobRunSummary, cancelled: boolean): CancelResult => ({
      workflowId,
      runId: run.runId,
      job: run.job,
      cancelled,
      status: run.status,
      url: run.url,
    });
    if (latest.status !== 'Running' && latest.status !== 'Scheduled') return result(latest, false);
    try {
      // The workflow ID's current run: a job that continued-as-new since `latestRun` is cancelled in its new run.
      await this.temporal.workflow.getHandle(workflowId).cancel();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      return result(await this.latestRun(workflowId), false); // it closed in between
    }
    return result(latest, true);
  }

  /**
   * Open runs of a job that `cancelMany` would cancel, newest first, from Temporal's visibility store (which may lag
   * a run started a moment ago by a moment).
   */
  async cancellable(filter: CancelManyFilter): Promise<JobRunSummary[]> {
    const job = findJobOrThrow(filter.job);
    if (filter.status !== undefined && filter.status !== 'Running' && filter.status !== 'Scheduled') {
      throw new TypeError(`status must be Running or Scheduled, got ${JSON.stringify(filter.status)}`);
    }
    const queues = PRIORITIES.map((p) => `'${taskQueueName(this.taskQueuePrefix, p)}'`);
    const now = new Date();
    const clauses = [
      `WorkflowType = '${job.workflowType}'`,
      `TaskQueue IN (${queues.join(', ')})`,
      statusClause(filter.status ?? 'Running', now),
    ];
    const out: JobRunSummary[] = [];
    for await (const info of this.temporal.workflow.list({ query: clauses.join(' AND '), pageSize: 1000 })) {
      const run = this.summarize(info, now);
      // Running and Scheduled as `list` tells them apart (a start delay still ahead: Scheduled); no status: both.
      if (filter.status === undefined || run.status === filter.status) out.push(run);
    }
    return out;
  }

  /**
   * Cancels every open run of a job (`cancellable`), a few at a time; `onCancelled` hears of each as it goes. Runs that
   * closed meanwhile are skipped and not counted.
   */
  async cancelMany(
    filter: CancelManyFilter,
    options: {
      /** Hears of each run as its cancellation is requested. */
      onCancelled?: (result: CancelResult) => void;
      /**
       * Cancel these workflow IDs (as `cancellable` listed them, e.g. for a confirmation) instead of querying again:
       * a run started since is not cancelled without being counted.
       */
      only?: readonly string[];
    } = {},
  ): Promise<CancelManyResult> {
    const queue = options.only ? [...options.only] : (await this.cancellable(filter)).map((r) => r.workflowId);
    const workflowIds: string[] = [];
    const cancelNext = async (): Promise<void> => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        let result: CancelResult;
        try {
          result = await this.cancel(id);
        } catch (err) {
          if (err instanceof JobNotFoundError) continue; // gone (retention) since it was listed
          throw err;
        }
        if (!result.cancelled) continue;
        workflowIds.push(result.workflowId);
        options.onCancelled?.(result);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CANCEL_CONCURRENCY, queue.length) }, cancelNext));
    return { count: workflowIds.length, workflowIds };
  }

  /**
   * Runs a dead job again with its original arguments. A job that is running or completed is left alone, so retrying
   * the same dead job twice processes it once: the second call finds the first retry's run.
   */
  async retry(workflowId: string): Promise<RetryResult> {
    const latest = await this.status(workflowId);
    if (!CLOSED_UNSUCCESSFULLY.includes(latest.status)) {
      return { workflowId, retried: false, runId: latest.runId, status: latest.status, url: latest.url };
    }
    const job = findJobOrThrow(latest.job); // by workflow type: a run started raw, under any ID, is retried too
    const history = await this.temporal.workflow.getHandle(workflowId, latest.runId).fetchHistory();
    const payloads = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads;
    const args = await decodeFromPayloadsAtIndex(this.temporal.options.loadedDataConverter, 0, payloads);
    // Under the same workflow ID, also for a run started raw under an ID of its own: `dead` then no longer lists it.
    const started = await this.start(job, validateJobArguments(job, args), {}, workflowId);
    return { workflowId, retried: !started.duplicate, runId: started.runId, url: started.url };
  }

  runUrl(workflowId: string, runId: string): string {
    return (
      `${this.uiUrl}/namespaces/${encodeURIComponent(this.namespace)}` +
      `/workflows/${encodeURIComponent(workflowId)}/${runId}/history`
    );
  }

  private summarize(
    info: {
      workflowId: string;
      runId: string;
      type: string;
      status: { name: string };
      startTime: Date;
      executionTime?: Date;
      closeTime?: Date;
      memo?: Record<string, unknown>;
    },
    now = new Date(),
  ): JobRunSummary {
    const enqueuedBy = info.memo?.[ENQUEUED_BY_MEMO];
    const expiresAt = info.memo?.[EXPIRES_AT_MEMO] ?? info.memo?.[EXPIRED_MEMO];
    let status = toJobStatus(info.status.name);
    // A run with a start delay is Running from the enqueue on; until its execution time it waits, and no worker saw it.
    // Without a delay the execution time is the start time: never Scheduled, whatever the skew of the caller's clock.
    const scheduled =
      status === 'Running' &&
      info.executionTime !== undefined &&
      info.executionTime > info.startTime &&
      info.executionTime > now;
    if (scheduled) status = 'Scheduled';
    if (status === 'Failed' && typeof info.memo?.[EXPIRED_MEMO] === 'string') status = 'Expired';
    return {
      workflowId: info.workflowId,
      runId: info.runId,
      job: jobOfRun({ workflowType: info.type, workflowId: info.workflowId })?.name ?? info.type,
      status,
      startTime: info.startTime.toISOString(),
      closeTime: info.closeTime?.toISOString(),
      url: this.runUrl(info.workflowId, info.runId),
      ...(typeof enqueuedBy === 'string' ? { enqueuedBy } : {}),
      ...(scheduled ? { startsAt: info.executionTime!.toISOString() } : {}),
      ...(typeof expiresAt === 'string' ? { expiresAt } : {}),
    };
  }
}

/**
 * The Temporal priority of an enqueue: its priority key (the enqueue's, else the job's) and fairness key and weight
 * (the enqueue's, else the job's `fairness`), each checked before any RPC; undefined when none is set.
 */
function priorityOf<Args extends SafeObject>(
  job: DeclaredJob<Args>,
  args: Args,
  options: EnqueueOptions,
): ({ priorityKey?: number } & FairnessOptions) | undefined {
  const priorityKey = options.priorityKey ?? job.priorityKey;
  if (priorityKey !== undefined && !(Number.isInteger(priorityKey) && priorityKey >= 1 && priorityKey <= 5)) {
    throw new TypeError(`priorityKey must be an integer from 1 to 5, got ${priorityKey}`);
  }
  const priority = { ...(priorityKey === undefined ? {} : { priorityKey }), ...fairnessFor(job, args, options) };
  return Object.keys(priority).length === 0 ? undefined : priority;
}

function toJobStatus(name: string): JobStatus {
  const map: Record<string, JobStatus> = {
    RUNNING: 'Running',
    COMPLETED: 'Completed',
    FAILED: 'Failed',
    CANCELLED: 'Canceled',
    TERMINATED: 'Terminated',
    CONTINUED_AS_NEW: 'ContinuedAsNew',
    TIMED_OUT: 'TimedOut',
  };
  return map[name] ?? (name as JobStatus);
}

/**
 * The visibility clause of a `list` status filter. Scheduled and Running are both Temporal's Running, told apart by
 * the execution time (the end of the start delay; the start time for a run without one); Expired is Temporal's Failed,
 * told apart by the memo. `list` keeps only the runs `summarize` gives the status asked for.
 */
function statusClause(status: JobStatus, now: Date): string {
  if (status === 'Scheduled') return `ExecutionStatus = 'Running' AND ExecutionTime > '${now.toISOString()}'`;
  if (status === 'Running') return `ExecutionStatus = 'Running'`;
  if (status === 'Expired') return `ExecutionStatus = 'Failed'`;
  return `ExecutionStatus = '${status}'`;
}

/** The innermost cause of a workflow failure: the activity's own error rather than its ActivityFailure wrapper. */
function rootCause(err: unknown): Error {
  let current = err as Error;
  while (current.cause instanceof Error) current = current.cause;
  return current;
}

/** Opens a connection with a bounded wait, turning "unreachable" into one clear error. */
export async function connectTemporal(settings: Settings): Promise<Connection> {
  try {
    return await Connection.connect({
      address: settings.temporalAddress,
      tls: settings.temporalTls || undefined,
      apiKey: settings.temporalApiKey,
      connectTimeout: CONNECT_TIMEOUT,
    });
  } catch (err) {
    throw new TemporalUnavailableError(settings.temporalAddress, err);
  }
}

/**
 * A clear error for a server on which our search attributes are not registered (a start or a query naming one), or
 * undefined for any other error.
 */
export function missingSearchAttributesError(err: unknown, namespace: string): Error | undefined {
  const message = String((err as { details?: string })?.details ?? (err as Error)?.message ?? '');
  const named = SEARCH_ATTRIBUTES.find((key) => new RegExp(`\\b${key.name}\\b`).test(message));
  if (!named || !/search attribute|no mapping|not defined|unknown|invalid/i.test(message)) return undefined;
  const create = SEARCH_ATTRIBUTES.map((key) => `--name ${key.name} --type Keyword`).join(' ');
  return new Error(
    `the Temporal namespace "${namespace}" has no search attribute ${named.name}: register ${SEARCH_ATTRIBUTES.map((k) => k.name).join(', ')} ` +
      `(Keyword) once, e.g. \`temporal operator search-attribute create --namespace ${namespace} ${create}\` ` +
      `(README "Finding runs"; the dev server and docker compose do it for you). Server said: ${message}`,
    { cause: err },
  );
}

/** Iterates a visibility listing, turning "unknown search attribute" into `missingSearchAttributesError`. */
async function* withSearchAttributeHint<T>(items: AsyncIterable<T>, namespace: string): AsyncIterable<T> {
  try {
    yield* items;
  } catch (err) {
    throw missingSearchAttributesError(err, namespace) ?? err;
  }
}
