import type { JobClient } from './client';
import { EXPIRED_MEMO } from '../sandbox/job-events';
import type { DeclaredJob } from '../sandbox/job-definition';
import { findJobOrThrow, jobs } from '../sandbox/jobs';
import { percentile } from '../percentile';
import { PRIORITIES, taskQueueName } from '../sandbox/queues';
import { JOB_NAME, jobsClause, TENANT_ID } from '../sandbox/search-attributes';

/** One job's runs that closed in a window. */
export interface JobStats {
  job: string;
  /** Runs that closed Completed. */
  completed: number;
  /** Runs that closed Failed or TimedOut; not those that expired before they started (`expiresAfter`). */
  failed: number;
  /** failed / (completed + failed); 0 when there were none. */
  failureRate: number;
  /** Mean of closeTime − startTime over completed and failed runs, rounded to the ms; absent when there were none. */
  averageMs?: number;
  /** 95th percentile (nearest rank) of the same durations; absent when there were none. */
  p95Ms?: number;
}

export interface JobStatsOptions {
  /** Runs that closed at or after this time. */
  since: Date;
  /** Only this job (its row is returned even with zero runs). Default: every declared job that had runs. */
  job?: string;
  /** Runs that closed at or before this time. Default: no upper bound (up to the moment of the query). */
  now?: Date;
  /**
   * Which deployment's runs: those on `<prefix>-critical`, `-high`, `-default` and `-low`. Several deployments may
   * share one namespace, each with its own prefix. @default the client's `taskQueuePrefix`
   */
  taskQueuePrefix?: string;
  /** Only this tenant's runs (`TenantId`, jobs that declare `tenant`; README "Finding runs"). @default every run */
  tenant?: string;
}

/** Closed statuses that count: Completed, and Failed/TimedOut as failures (Terminated and Canceled are neither). */
const COUNTED_STATUSES = ['Completed', 'Failed', 'TimedOut'] as const;

/**
 * Completed and failed runs per job in a window, with their failure rate and duration, read from Temporal's
 * visibility store (works without any metrics system). Only the declared jobs' workflow types count — child
 * workflows such as `exportSliceWorkflow` are not jobs — and only runs on the deployment's four task queues.
 *
 * The visibility query (accepted by the dev server's SQLite visibility and by Elasticsearch/SQL advanced visibility):
 *
 *     (JobName IN ('invoice-generation', …) OR WorkflowType IN ('invoiceGenerationWorkflow', …))
 *     AND TaskQueue IN ('jobs-critical', 'jobs-high', 'jobs-default',
 *     'jobs-low') AND ExecutionStatus IN ('Completed', 'Failed', 'TimedOut') AND CloseTime >= '<since, ISO>'
 *     [AND CloseTime <= '<now, ISO>'] [AND TenantId = '<tenant>']
 *
 * A run is its job's by `JobName`, or by workflow type for runs started before runs carried `JobName` (README "Finding
 * runs").
 *
 * A duration is a run's closeTime − startTime. For a job that continues-as-new (large-data-export), that is the
 * final run of the chain only; the runs it continued from close as ContinuedAsNew and are not counted. Visibility is
 * eventually consistent: a run that closed a moment ago may show up a moment later.
 */
export async function jobStats(client: JobClient, options: JobStatsOptions): Promise<JobStats[]> {
  const { since, now } = options;
  if (!isValidDate(since)) throw new TypeError('since must be a valid Date');
  if (now !== undefined && !isValidDate(now)) throw new TypeError('now must be a valid Date');
  const selected: readonly DeclaredJob<any>[] = options.job === undefined ? jobs : [findJobOrThrow(options.job)];

  const byType = new Map<string, { job: string; completed: number; failed: number; durations: number[] }>();
  const byName = new Map<string, { job: string; completed: number; failed: number; durations: number[] }>();
  for (const job of selected) {
    const row = { job: job.name, completed: 0, failed: 0, durations: [] };
    byType.set(job.workflowType, row);
    byName.set(job.name, row);
  }

  const prefix = options.taskQueuePrefix ?? client.taskQueuePrefix;
  const query = statsQuery({
    jobs: selected,
    taskQueues: PRIORITIES.map((p) => taskQueueName(prefix, p)),
    since,
    now,
    tenant: options.tenant,
  });
  for await (const run of client.temporal.workflow.list({ query, pageSize: 1000 })) {
    const name = run.typedSearchAttributes?.get(JOB_NAME);
    const row = (name === undefined ? undefined : byName.get(name)) ?? byType.get(run.type);
    if (!row) continue; // the query already restricts the types
    // An expired run (Failed to Temporal, marked in its memo) never ran: it is not a failure of the job.
    if (typeof run.memo?.[EXPIRED_MEMO] === 'string') continue;
    if (run.status.name === 'COMPLETED') row.completed++;
    else if (run.status.name === 'FAILED' || run.status.name === 'TIMED_OUT') row.failed++;
    else continue;
    if (run.closeTime) row.durations.push(Math.max(0, run.closeTime.getTime() - run.startTime.getTime()));
  }

  const out: JobStats[] = [];
  for (const row of byType.values()) {
    const total = row.completed + row.failed;
    if (total === 0 && options.job === undefined) continue;
    const stats: JobStats = {
      job: row.job,
      completed: row.completed,
      failed: row.failed,
      failureRate: total === 0 ? 0 : row.failed / total,
    };
    if (row.durations.length > 0) {
      stats.averageMs = Math.round(row.durations.reduce((sum, d) => sum + d, 0) / row.durations.length);
      stats.p95Ms = percentile(row.durations, 95);
    }
    out.push(stats);
  }
  return out;
}

/** The visibility query `jobStats` runs; see there. */
export function statsQuery(q: {
  /** The jobs, by `JobName` or workflow type (README "Finding runs"). */
  jobs?: readonly { name: string; workflowType: string }[];
  /** Workflow types alone, without `JobName` (used when `jobs` is not given). */
  workflowTypes?: readonly string[];
  taskQueues: readonly string[];
  since: Date;
  now?: Date;
  /** Only this tenant's runs. */
  tenant?: string;
}): string {
  const clauses = [
    q.jobs ? jobsClause(q.jobs) : `WorkflowType IN (${(q.workflowTypes ?? []).map(quote).join(', ')})`,
    `TaskQueue IN (${q.taskQueues.map(quote).join(', ')})`,
    `ExecutionStatus IN (${COUNTED_STATUSES.map(quote).join(', ')})`,
    `CloseTime >= ${quote(q.since.toISOString())}`,
  ];
  if (q.now) clauses.push(`CloseTime <= ${quote(q.now.toISOString())}`);
  if (q.tenant !== undefined) clauses.push(`${TENANT_ID.name} = ${quote(q.tenant)}`);
  return clauses.join(' AND ');
}

const SINCE_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A look-back such as `90s`, `30m`, `1h` or `2d` in milliseconds: a positive whole number and one unit. */
export function parseSince(value: string): number {
  const match = /^(\d+)([smhd])$/.exec(value);
  const ms = match ? Number(match[1]) * SINCE_UNITS[match[2]!]! : NaN;
  // Beyond ±8.64e15 ms a Date is invalid; no useful window is anywhere near that.
  if (!(ms > 0 && ms <= 8.64e15)) throw new TypeError('--since must be a duration like 30m, 1h or 2d');
  return ms;
}

/** A string literal of a visibility query. */
function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}
