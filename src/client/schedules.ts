import { createHash } from 'node:crypto';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleDescription,
  type ScheduleOptions,
  type ScheduleSpec,
} from '@temporalio/client';
import { msToNumber } from '@temporalio/common/lib/time';
import { decodeMapFromPayloads, encodeToPayloads } from '@temporalio/common/lib/internal-non-workflow';
import type { JobClient } from './client';
import { KEY_ID_METADATA } from '../encryption';
import { ENQUEUED_BY_MEMO } from '../sandbox/job-events';
import {
  validateJobSchedule,
  type DeclaredJob,
  type JobSchedule,
  type ScheduleOverlap,
} from '../sandbox/job-definition';
import { findJob, findJobOrThrow, jobs as declaredJobs } from '../sandbox/jobs';
import { runLabels, searchAttributePairs } from '../sandbox/search-attributes';
import { taskQueueName } from '../sandbox/queues';

/** Schedule memo field that marks a Schedule as this project's, for one deployment: `durable-jobs/<prefix>`. */
export const MANAGED_BY_MEMO = 'managedBy';
/** Schedule memo field naming the job a managed Schedule runs. */
export const SCHEDULE_JOB_MEMO = 'job';
/**
 * Memo field, on each scheduled run (the Schedule's action), holding the hash of the declaration it was compiled
 * from. A Schedule's own memo cannot be changed after it is created; its action can, so the hash lives there.
 */
export const SCHEDULE_HASH_MEMO = 'scheduleHash';

const OVERLAP: Record<ScheduleOverlap, ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  bufferOne: ScheduleOverlapPolicy.BUFFER_ONE,
  bufferAll: ScheduleOverlapPolicy.BUFFER_ALL,
  cancelOther: ScheduleOverlapPolicy.CANCEL_OTHER,
  terminateOther: ScheduleOverlapPolicy.TERMINATE_OTHER,
  allowAll: ScheduleOverlapPolicy.ALLOW_ALL,
};

/** The `managedBy` memo value of this deployment's Schedules. */
export function scheduleOwner(taskQueuePrefix: string): string {
  return `durable-jobs/${taskQueuePrefix}`;
}

/** The ID of a job's Schedule in one deployment: `<prefix>-schedule-<job>`. */
export function scheduleIdFor(taskQueuePrefix: string, jobName: string): string {
  return `${taskQueuePrefix}-schedule-${jobName}`;
}

/**
 * The workflow ID a Schedule gives its runs, before Temporal appends `-<scheduled time>` (RFC 3339, UTC) to it:
 * `<job>/<prefix>-scheduled`, so a run is `health-check/jobs-scheduled-2026-01-01T00:01:00Z`. One scheduled time is
 * one workflow ID, so a double fire is one run; the prefix keeps deployments sharing a namespace apart.
 */
export function scheduledWorkflowIdBase(taskQueuePrefix: string, jobName: string): string {
  return `${jobName}/${taskQueuePrefix}-scheduled`;
}

/** The Schedule ID older versions gave the hand-wired health check; sync removes it. */
export function legacyHealthCheckScheduleId(taskQueuePrefix: string): string {
  return `${taskQueuePrefix}-health-check`;
}

/** One Schedule that sync created, updated, deleted or left as it was. */
export interface ScheduleChange {
  job: string;
  scheduleId: string;
}

export interface SyncReport {
  created: ScheduleChange[];
  updated: ScheduleChange[];
  deleted: ScheduleChange[];
  unchanged: ScheduleChange[];
}

/** A declared job that has a schedule. */
type ScheduledJob = DeclaredJob<any> & { schedule: JobSchedule<any> };

function hasSchedule(job: DeclaredJob<any>): job is ScheduledJob {
  return job.schedule !== undefined;
}

/** The Temporal spec of a declared schedule. */
export function compileScheduleSpec(schedule: JobSchedule<any>): ScheduleSpec {
  if (schedule.every !== undefined) return { intervals: [{ every: msToNumber(schedule.every as `${number}s`) }] };
  const cron = typeof schedule.cron === 'string' ? [schedule.cron] : [...(schedule.cron ?? [])];
  return { cronExpressions: cron, timezone: schedule.timezone ?? 'UTC' };
}

/** The Schedule a job's declaration compiles to, with the hash sync compares. */
async function compile(client: JobClient, job: ScheduledJob) {
  const args = validateJobSchedule(job);
  const schedule = job.schedule;
  const scheduleId = scheduleIdFor(client.taskQueuePrefix, job.name);
  const labels = runLabels(job, args);
  const spec = compileScheduleSpec(schedule);
  const action = {
    type: 'startWorkflow' as const,
    workflowType: job.workflowType,
    workflowId: scheduledWorkflowIdBase(client.taskQueuePrefix, job.name),
    taskQueue: taskQueueName(client.taskQueuePrefix, job.queue),
    args: [args],
    // The SDK passes it on (ScheduleDescriptionAction has it); the option type just does not list it yet.
    ...(job.priorityKey === undefined ? {} : { priority: { priorityKey: job.priorityKey } }),
    // JobName, JobKey (the key of the schedule's arguments), TenantId and the summary (README "Finding runs").
    typedSearchAttributes: searchAttributePairs(labels),
    staticSummary: `${labels.summary} · scheduled`,
  };
  const policies = {
    overlap: OVERLAP[schedule.overlap ?? 'skip'],
    catchupWindow: msToNumber((schedule.catchupWindow ?? '1m') as `${number}s`),
  };
  // The key that encrypts the arguments is part of what sync compares: after a key rotation, sync re-encrypts them.
  const payload = (await encodeToPayloads(client.temporal.options.loadedDataConverter, args))?.[0];
  const keyId = payload?.metadata?.[KEY_ID_METADATA];
  const encryptedWith = keyId ? Buffer.from(keyId).toString('utf8') : null;
  const hash = createHash('sha256')
    .update(canonicalJson({ spec, action, policies, priorityKey: job.priorityKey ?? null, encryptedWith }))
    .digest('hex')
    .slice(0, 16);
  const memo = { [ENQUEUED_BY_MEMO]: `schedule:${scheduleId}`, [SCHEDULE_HASH_MEMO]: hash };
  return { scheduleId, hash, spec, policies, action: { ...action, memo } };
}

/** JSON with object keys sorted, so equal declarations hash alike whatever order their fields were written in. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** This deployment's Schedule IDs with the job each runs, from the server's (eventually consistent) list. */
async function listOwned(client: JobClient): Promise<Map<string, string>> {
  const owner = scheduleOwner(client.taskQueuePrefix);
  const converter = client.temporal.options.loadedDataConverter;
  const owned = new Map<string, string>();
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.temporal.workflowService.listSchedules({
      namespace: client.namespace,
      maximumPageSize: 1000,
      nextPageToken,
    });
    for (const entry of page.schedules ?? []) {
      let memo: Record<string, unknown> = {};
      try {
        memo = (await decodeMapFromPayloads(converter, entry.memo?.fields)) ?? {};
      } catch {
        continue; // a memo this process cannot read (another deployment's key) is not ours
      }
      if (memo[MANAGED_BY_MEMO] === owner && entry.scheduleId) {
        owned.set(entry.scheduleId, String(memo[SCHEDULE_JOB_MEMO] ?? ''));
      }
    }
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return owned;
}

async function describeOrUndefined(client: JobClient, scheduleId: string): Promise<ScheduleDescription | undefined> {
  try {
    return await client.temporal.schedule.getHandle(scheduleId).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

function isOwned(client: JobClient, description: ScheduleDescription): boolean {
  return description.memo?.[MANAGED_BY_MEMO] === scheduleOwner(client.taskQueuePrefix);
}

/**
 * Makes this deployment's Temporal Schedules match the jobs' `schedule` declarations: creates the missing ones,
 * updates those whose declaration changed (by the hash recorded on each), deletes the ones this deployment owns that
 * no job declares any more, and removes the hand-wired health-check Schedule of older versions. Never touches a
 * Schedule it does not own (no `managedBy: durable-jobs/<prefix>` memo). Idempotent: a second sync reports all
 * unchanged. A Schedule's paused state is left as it is (`paused` in a declaration applies when it is created).
 */
export async function syncSchedules(
  client: JobClient,
  jobs: readonly DeclaredJob<any>[] = declaredJobs,
): Promise<SyncReport> {
  const report: SyncReport = { created: [], updated: [], deleted: [], unchanged: [] };
  const scheduled = jobs.filter(hasSchedule);
  // Every declaration is checked before anything changes: one bad schedule changes nothing.
  const compiled = await Promise.all(scheduled.map(async (job) => ({ job, ...(await compile(client, job)) })));
  const declaredIds = new Set(compiled.map((c) => c.scheduleId));

  for (const { job, scheduleId, hash, spec, action, policies } of compiled) {
    const change = { job: job.name, scheduleId };
    const handle = client.temporal.schedule.getHandle(scheduleId);
    const current = await describeOrUndefined(client, scheduleId);
    if (current && !isOwned(client, current)) {
      throw new Error(
        `Schedule "${scheduleId}" exists but is not this deployment's (no ${MANAGED_BY_MEMO} memo ` +
          `"${scheduleOwner(client.taskQueuePrefix)}"); delete or rename it to let sync create job "${job.name}"'s`,
      );
    }
    if (!current) {
      try {
        await client.temporal.schedule.create({
          scheduleId,
          spec,
          action,
          policies,
          memo: { [MANAGED_BY_MEMO]: scheduleOwner(client.taskQueuePrefix), [SCHEDULE_JOB_MEMO]: job.name },
          state: { paused: job.schedule.paused ?? false, note: 'created by jobctl schedules sync' },
        } as ScheduleOptions);
        report.created.push(change);
        continue;
      } catch (err) {
        if (!(err instanceof ScheduleAlreadyRunning)) throw err;
        // Created by a concurrent sync a moment ago: compare with it below.
      }
    }
    const latest = current ?? (await handle.describe());
    if (latest.action.memo?.[SCHEDULE_HASH_MEMO] === hash) {
      report.unchanged.push(change);
      continue;
    }
    await handle.update((previous) => ({
      ...previous,
      spec,
      action: action as typeof previous.action,
      policies: { ...previous.policies, ...policies },
      state: { paused: previous.state.paused, note: previous.state.note, remainingActions: undefined },
    }));
    report.updated.push(change);
  }

  // Owned Schedules no declaration asks for: from the list, and, since the list lags, by the ID of every job known.
  const candidates = await listOwned(client);
  for (const name of new Set([...declaredJobs, ...jobs].map((j) => j.name))) {
    const id = scheduleIdFor(client.taskQueuePrefix, name);
    if (!declaredIds.has(id) && !candidates.has(id)) candidates.set(id, name);
  }
  for (const [scheduleId, job] of candidates) {
    if (declaredIds.has(scheduleId)) continue;
    const current = await describeOrUndefined(client, scheduleId);
    if (!current || !isOwned(client, current)) continue;
    await deleteIfPresent(client, scheduleId);
    report.deleted.push({ job: String(current.memo?.[SCHEDULE_JOB_MEMO] ?? job), scheduleId });
  }

  // Versions before declared schedules installed the health check by hand, under this ID and without an owner memo.
  const legacyId = legacyHealthCheckScheduleId(client.taskQueuePrefix);
  const legacy = await describeOrUndefined(client, legacyId);
  if (legacy && legacy.action.workflowType === findJob('health-check')?.workflowType) {
    await deleteIfPresent(client, legacyId);
    report.deleted.push({ job: 'health-check', scheduleId: legacyId });
  }
  return report;
}

async function deleteIfPresent(client: JobClient, scheduleId: string): Promise<void> {
  try {
    await client.temporal.schedule.getHandle(scheduleId).delete();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
}

/** A declared schedule and its Schedule on the server, as `jobctl schedules list` shows it. */
export interface ScheduleStatus {
  job: string;
  scheduleId: string;
  /** The declared timetable, e.g. `every 1m` or `cron 0 3 * * * (Europe/Berlin)`; empty for an undeclared one. */
  when: string;
  /**
   * `active` or `paused`; `not synced` when the server has no Schedule yet, `out of date` when it was compiled from
   * another declaration, `not declared` for an owned Schedule no job declares any more (sync deletes it).
   */
  state: 'active' | 'paused' | 'not synced' | 'out of date' | 'not declared';
  paused?: boolean;
  /** ISO times. */
  nextRun?: string;
  lastRun?: string;
  lastWorkflowId?: string;
}

/** How a declared schedule reads: `every 1m`, `cron 0 3 * * * (UTC)`. */
export function describeJobSchedule(schedule: JobSchedule<any>): string {
  if (schedule.every !== undefined) return `every ${schedule.every}`;
  const cron = typeof schedule.cron === 'string' ? [schedule.cron] : [...(schedule.cron ?? [])];
  return `cron ${cron.join(' | ')} (${schedule.timezone ?? 'UTC'})`;
}

/** Each declared schedule with its Schedule's state, then owned Schedules that no job declares. */
export async function listSchedules(
  client: JobClient,
  jobs: readonly DeclaredJob<any>[] = declaredJobs,
): Promise<ScheduleStatus[]> {
  const out: ScheduleStatus[] = [];
  for (const job of jobs.filter(hasSchedule)) {
    const { scheduleId, hash } = await compile(client, job);
    const when = describeJobSchedule(job.schedule);
    const d = await describeOrUndefined(client, scheduleId);
    if (!d || !isOwned(client, d)) {
      out.push({ job: job.name, scheduleId, when, state: 'not synced' });
      continue;
    }
    const synced = d.action.memo?.[SCHEDULE_HASH_MEMO] === hash;
    out.push({
      job: job.name,
      scheduleId,
      when,
      state: !synced ? 'out of date' : d.state.paused ? 'paused' : 'active',
      ...runInfo(d),
    });
  }
  const listed = new Set(out.map((s) => s.scheduleId));
  for (const [scheduleId, job] of await listOwned(client)) {
    if (listed.has(scheduleId)) continue;
    const d = await describeOrUndefined(client, scheduleId);
    if (d) out.push({ job, scheduleId, when: '', state: 'not declared', ...runInfo(d) });
  }
  return out;
}

function runInfo(d: ScheduleDescription): Pick<ScheduleStatus, 'paused' | 'nextRun' | 'lastRun' | 'lastWorkflowId'> {
  const last = d.info.recentActions.at(-1);
  return {
    paused: d.state.paused,
    nextRun: d.state.paused ? undefined : d.info.nextActionTimes[0]?.toISOString(),
    lastRun: last?.scheduledAt.toISOString(),
    lastWorkflowId: last?.action.workflow.workflowId,
  };
}

/** Thrown for a schedule command on a job that declares no schedule, or whose Schedule is not on the server. */
export class ScheduleMissingError extends Error {
  override readonly name = 'ScheduleMissingError';
}

/** A job for the schedule helpers: its name (looked up among the declared jobs) or a declaration. */
export type JobRef = string | DeclaredJob<any>;

/**
 * The handle of a job's Schedule, checked: the job is known (or has an owned Schedule left over), declares a
 * schedule, and its Schedule exists and is this deployment's.
 */
async function ownedHandle(client: JobClient, ref: JobRef, options: { allowUndeclared?: boolean } = {}) {
  const jobName = typeof ref === 'string' ? ref : ref.name;
  const job = typeof ref === 'string' ? findJob(ref) : ref;
  const scheduleId = scheduleIdFor(client.taskQueuePrefix, jobName);
  if (!job && !options.allowUndeclared) findJobOrThrow(jobName);
  if (job && !job.schedule && !options.allowUndeclared) {
    throw new ScheduleMissingError(`job "${jobName}" declares no schedule`);
  }
  const d = await describeOrUndefined(client, scheduleId);
  if (!d || !isOwned(client, d)) {
    if (!job) findJobOrThrow(jobName); // neither declared nor left over: an unknown job
    throw new ScheduleMissingError(
      job?.schedule
        ? `job "${jobName}" has no Schedule on the server yet (${scheduleId}); run \`jobctl schedules sync\``
        : `job "${jobName}" declares no schedule`,
    );
  }
  return { handle: client.temporal.schedule.getHandle(scheduleId), scheduleId };
}

/** Pauses a job's Schedule: no run starts until it is unpaused. Sync keeps the pause. Returns the schedule ID. */
export async function pauseSchedule(client: JobClient, job: JobRef, note = 'paused by jobctl'): Promise<string> {
  const { handle, scheduleId } = await ownedHandle(client, job);
  await handle.pause(note);
  return scheduleId;
}

/** Unpauses a job's Schedule. Returns the schedule ID. */
export async function unpauseSchedule(client: JobClient, job: JobRef, note = 'unpaused by jobctl'): Promise<string> {
  const { handle, scheduleId } = await ownedHandle(client, job);
  await handle.unpause(note);
  return scheduleId;
}

/**
 * Starts one run now, as a tick would (with the declared arguments, under `<job>/<prefix>-scheduled-<now>`), applying
 * the Schedule's overlap policy. Returns the schedule ID.
 */
export async function triggerSchedule(client: JobClient, job: JobRef): Promise<string> {
  const { handle, scheduleId } = await ownedHandle(client, job);
  const { policies } = await handle.describe();
  await handle.trigger(policies.overlap);
  return scheduleId;
}

/**
 * Deletes a job's Schedule (also one left over from a job no longer declared); runs it started go on. A job that
 * still declares a schedule gets it back at the next sync. Returns the schedule ID.
 */
export async function deleteSchedule(client: JobClient, job: JobRef): Promise<string> {
  const { handle, scheduleId } = await ownedHandle(client, job, { allowUndeclared: true });
  await handle.delete();
  return scheduleId;
}
