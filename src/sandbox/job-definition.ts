import type { ActivityOptions, Duration } from '@temporalio/common';
import type { WorkflowDefinitionOptions } from '@temporalio/common';
import { setWorkflowOptions, workflowInfo } from '@temporalio/workflow';
import { msToNumber } from '@temporalio/common/lib/time';
import { z } from 'zod';
import { validateJobDebounce, type JobDebounce } from './debounce';
import { validateConcurrencyLimit, type ConcurrencyLimit } from './concurrency';
import { ErrorType } from './error-types';
import { validateJobFairness, type JobFairness } from './fairness';
import { parseJobDuration } from './job-timing';
import type { Priority } from './queues';
import type { RetryTable } from './retry-rules';
import { InvalidJobArgumentsError, type SafeObject } from './safe-arguments';
import { validateJobArguments } from './validate-arguments';

/** Temporal priority keys: 1 is served first, 5 last. */
export type PriorityKey = 1 | 2 | 3 | 4 | 5;

/** Name of an activity (the key under which the application's activity factory returns it). */
export type ActivityType = string;

/** Failure-rate threshold of every job (the seed article's 2%); a job overrides it with `alertFailureRate`. */
export const DEFAULT_ALERT_FAILURE_RATE = 0.02;

/**
 * Everything about a job, declared once, at the top of `workflows/<job>.ts`. The client, the CLI, the HTTP service,
 * the worker and the job's own workflow all read this declaration; nothing about a job is repeated elsewhere.
 */
export interface JobDefinition<Args extends SafeObject = SafeObject> {
  /** Stable job name, used in workflow IDs (`<name>/<key>`), the CLI and logs. Kebab-case. */
  readonly name: string;
  /** One sentence for `jobctl jobs` and the README. */
  readonly description: string;
  /** The workflow function that runs the job; its name is the Temporal workflow type. */
  readonly workflow: (args: Args, ...rest: never[]) => Promise<unknown>;
  /** Priority group, and so task queue, the job runs on. */
  readonly queue: Priority;
  /** Schema of the arguments: checked at enqueue (after the safe-value check) and again at the workflow's door. */
  readonly args: z.ZodType<Args>;
  /**
   * Derives the idempotency key from the arguments: two enqueues with the same key are the same job, so the
   * workflow ID is `<name>/<key>` and a duplicate attaches to (or is a no-op after) the first.
   */
  readonly idempotencyKey: (args: Args) => string;
  /**
   * Every activity the job's workflow calls, each declared once: its options (timeouts, heartbeat, retry policy), and
   * optionally its per-error retry table, its cluster-wide rate limit and whether it runs as a local activity. The
   * workflow proxies them all with `proxyJobActivities(job)`; the worker reads the same declaration (retry interceptor,
   * rate-limited queues). @default none: a job whose workflow calls no activity
   */
  readonly activities?: { readonly [name: string]: ActivityDeclaration };
  /**
   * Order within the job's task queue, 1 (first) to 5 (last); Temporal's `priority.priorityKey`. Enqueue can override
   * it per job. Queues separate capacity; keys only order work waiting in one queue. @default 3 (Temporal's default)
   */
  readonly priorityKey?: PriorityKey;
  /** Failure rate (0–1) above which the health check alerts for this job. @default DEFAULT_ALERT_FAILURE_RATE */
  readonly alertFailureRate?: number;
  /** Include the arguments in the job's `job_started` log line. Off by default: arguments can hold personal data. */
  readonly logArguments?: boolean;
  /**
   * Whether the HTTP service may enqueue it (`POST /jobs/<name>`). Internal jobs (the health check, test jobs) say
   * `false`: over HTTP they are a 404, as if they did not exist; the client API and `jobctl` still start them.
   * @default true
   */
  readonly enqueueOverHttp?: boolean;
  /** Size budget for the JSON arguments. @default 65536 bytes */
  readonly maxArgumentBytes?: number;
  /**
   * Drop the job, with status `Expired`, when it has not started this long after it was due (enqueued, or the end of
   * its `delay`/`runAt`) — e.g. a password-reset email that is useless an hour later. A job that started runs on.
   * `'15m'`, `'1h'` or ms. An enqueue can override it (`EnqueueOptions.expiresAfter`). @default never expires
   */
  readonly expiresAfter?: Duration;
  /**
   * Run the job on a timetable: `jobctl schedules sync` (and `npm start`) compiles it to a Temporal Schedule this
   * project owns. See README "Recurring jobs". @default none: the job runs only when enqueued
   */
  readonly schedule?: JobSchedule<Args>;
  /**
   * Fair sharing of the job's queue between keys derived from the arguments, e.g. `{ key: ({ tenantId }) =>
   * tenantId }`: while runs wait, each key gets its weight's share of the dispatches instead of first in, first out —
   * one tenant's 10,000 queued runs do not hold up another's ten. An enqueue can override both (`fairnessKey`,
   * `fairnessWeight`). See README "Fair sharing". @default none: one key, first in, first out within a priority key
   */
  readonly fairness?: JobFairness<Args>;
  /**
   * Collapse bursts: enqueues whose `key` is the same within `period` of each other give one run, with the last
   * enqueue's arguments, which starts once the key was quiet for `period` (or `maxWait` after the first). Such an
   * enqueue returns `debounced: true` and the debounce workflow's ID. See README "Debounce". @default none: every
   * enqueue is its own run (idempotency key aside)
   */
  readonly debounce?: JobDebounce<Args>;
  /**
   * At most `limit` runs of this job per key at once, across every worker: the others wait, in enqueue order, and
   * start as soon as a permit frees. Enforced by a semaphore workflow per key that every run of the job asks (a
   * workflow interceptor, whoever started the run). See README "Per-key concurrency". @default no limit
   */
  readonly concurrency?: ConcurrencyLimit<Args>;
  /**
   * The tenant (account, customer) a run belongs to, from the arguments, e.g. `({ accountId }) => String(accountId)`:
   * set on each run as the `TenantId` search attribute, so the Web UI, `temporal workflow list --query "TenantId =
   * '7'"` and `jobctl list|dead|stats --tenant 7` find one tenant's runs. Must return a non-empty string. See README
   * "Finding runs". @default none: the job's runs have no `TenantId`
   */
  readonly tenant?: (args: Args) => string;
  /**
   * What one run is, in a few words, from the arguments, e.g. `({ invoiceId }) => 'invoice ' + invoiceId`: the run's
   * static summary (shown by the Web UI on the run's page) is `<job> · <this>`, cut to 200 characters. Must return a
   * non-empty string. See README "Finding runs". @default the idempotency key: `<job> · <key>`
   */
  readonly summary?: (args: Args) => string;
  /**
   * How the job's runs move between versions of the code when workers run versioned (Worker Versioning, README
   * "Shipping changed job code"). `'pinned'`: a run stays on the version it started on until it closes, so its code
   * never changes under it (no `patched()` needed); right for short jobs. `'auto-upgrade'`: a run moves to the current
   * version at its next workflow task; right for long-lived runs (a large export, a job waiting days) that must not
   * keep an old version alive, and whose changes must then stay replay-compatible (`patched()`). Unversioned workers
   * ignore it. @default 'pinned'
   */
  readonly versioning?: JobVersioning;
}

/** See `JobDefinition.versioning`. */
export type JobVersioning = 'pinned' | 'auto-upgrade';

const VERSIONING_BEHAVIOR = { pinned: 'PINNED', 'auto-upgrade': 'AUTO_UPGRADE' } as const;

const VERSIONING = Symbol.for('durable-jobs.versioning');

type WorkflowOptionsHolder = {
  workflowDefinitionOptions?: WorkflowDefinitionOptions | (() => WorkflowDefinitionOptions);
  [VERSIONING]?: JobVersioning;
};

/**
 * Declares how runs of a workflow function move between versions (`JobDefinition.versioning`), on the function itself
 * where the Temporal worker reads it (`setWorkflowOptions`), keeping options set on it before. For workflows that are
 * not jobs (a job's child workflows, the library's own); a job's workflow gets its job's `versioning`.
 *
 * The behavior is reported only by a versioned worker: the server refuses a workflow task completed with a behavior by
 * an unversioned one. The options are a getter, asked once per run and worker when the run starts there, which sees
 * whether the task runs on a deployment version (`workflowInfo().currentDeploymentVersion` has a deployment name).
 */
export function setWorkflowVersioning(workflow: (...args: any[]) => Promise<unknown>, versioning: JobVersioning): void {
  const holder = workflow as WorkflowOptionsHolder;
  const before = holder.workflowDefinitionOptions;
  holder[VERSIONING] = versioning;
  setWorkflowOptions(
    // An unversioned worker has a build ID too (the SDK's default) but no deployment name.
    () => versioningOptions(before, versioning, Boolean(workflowInfo().currentDeploymentVersion?.deploymentName)),
    workflow,
  );
}

/** The versioning a workflow function declares (`setWorkflowVersioning`), if any. */
export function workflowVersioning(workflow: unknown): JobVersioning | undefined {
  return (workflow as WorkflowOptionsHolder | undefined)?.[VERSIONING];
}

/**
 * A workflow's definition options: those set before (an object, or a getter), with the versioning behavior added when
 * the task runs on a versioned worker. Pure.
 */
export function versioningOptions(
  before: WorkflowDefinitionOptions | (() => WorkflowDefinitionOptions) | undefined,
  versioning: JobVersioning,
  versionedWorker: boolean,
): WorkflowDefinitionOptions {
  const base = typeof before === 'function' ? before() : { ...before };
  return versionedWorker ? { ...base, versioningBehavior: VERSIONING_BEHAVIOR[versioning] } : base;
}

/** How fast one activity may start, across every worker process. */
export interface RateLimit {
  /**
   * Calls (attempts, retries included) started per second, cluster-wide; fractions allowed (`0.5` is one every 2 s).
   * Temporal's limiter also lets about one second's worth through at once after an idle second; that burst cannot be
   * set (README "Rate limits"). No default: required.
   */
  readonly perSecond: number;
}

/** One activity of a job, declared once (`JobDefinition.activities`). */
export interface ActivityDeclaration {
  /**
   * Its Temporal activity options: timeouts, heartbeat timeout, retry policy. With a `retry` table, leave out
   * `retry` here: the table is compiled into it (`compileRetryPolicy`).
   */
  readonly options: ActivityOptions;
  /**
   * Per-error retry rules (the retry-strategy pattern): compiled into the options' retry policy, and applied by the
   * worker's retry interceptor to each failed attempt (`nextRetryDelay`). @default the options' retry policy alone
   */
  readonly retry?: RetryTable;
  /**
   * Cluster-wide rate limit (a call to an external service that allows so many requests a second). The activity runs
   * on its own task queue, `<prefix>-rate-<activity>`, which every worker process serving the job's queue also serves
   * with Temporal's task queue rate limit: a call over the limit waits in that queue (it neither fails nor uses up an
   * attempt). `JOBS_RATE_LIMITS` overrides the rate per deployment. The options must not set a schedule-to-start or
   * schedule-to-close timeout, or a call waiting for its turn would time out. See README "Rate limits".
   * @default no limit
   */
  readonly rateLimit?: RateLimit;
  /**
   * Run it as a Temporal local activity: the worker that runs the workflow task runs the activity itself, so no task
   * goes through the server and back. For short activities that touch only our own database: they cannot heartbeat,
   * their retries with short backoff run inside the workflow task, and their timeout must stay short (seconds). An
   * activity with a retry table or a rate limit stays remote. @default false
   */
  readonly local?: boolean;
}

/** How a Schedule handles a run that is due while the previous scheduled run still runs (Temporal's overlap policy). */
export const SCHEDULE_OVERLAP_POLICIES = [
  'skip',
  'bufferOne',
  'bufferAll',
  'cancelOther',
  'terminateOther',
  'allowAll',
] as const;
export type ScheduleOverlap = (typeof SCHEDULE_OVERLAP_POLICIES)[number];

/** A recurring job's timetable and the arguments of each run. Exactly one of `cron` and `every`. */
export interface JobSchedule<Args extends SafeObject = SafeObject> {
  /**
   * Cron expression(s), Temporal's syntax: `minute hour day-of-month month day-of-week` (optionally seconds first and
   * year last), or `@hourly`, `@daily`, …; several run at the union of their times. @default none (give `every`)
   */
  readonly cron?: string | readonly string[];
  /** A fixed interval, e.g. `'30s'`, `'1m'`, `'6h'`: runs at multiples of it since the epoch. At least 1 s. @default none (give `cron`) */
  readonly every?: string;
  /** Arguments of every scheduled run, checked against the job's schema when the job is declared. */
  readonly args: Args;
  /** IANA time zone the cron expressions are read in, e.g. `'Europe/Berlin'`. @default 'UTC' */
  readonly timezone?: string;
  /**
   * What happens when a run is due while the previous scheduled run is still running: `skip` it, buffer one or all,
   * cancel or terminate the running one, or allow them side by side. @default 'skip'
   */
  readonly overlap?: ScheduleOverlap;
  /**
   * After the server was down, runs missed by at most this long are still taken (then `overlap` applies); older ones
   * are dropped. At least 10 s. @default '1m'
   */
  readonly catchupWindow?: string;
  /**
   * Create the Schedule paused (`jobctl schedules unpause <job>` starts it). Only applies when sync creates it: sync
   * never overrides a pause or unpause made since. @default false
   */
  readonly paused?: boolean;
}

/** A declared job, as the registry holds it: the workflow type is derived from the workflow function. */
export interface DeclaredJob<Args extends SafeObject = SafeObject> extends JobDefinition<Args> {
  /** Temporal workflow type: the workflow function's name. */
  readonly workflowType: string;
  /** The activities' retry tables, by activity (from `activities`). */
  readonly retryTables: { readonly [activity: string]: RetryTable };
  /** The activities declared `local` (from `activities`). */
  readonly localActivities: readonly string[];
  /** The activities' rate limits, by activity (from `activities`). */
  readonly rateLimits: { readonly [activity: string]: RateLimit };
}

const JOB = Symbol.for('durable-jobs.job');
const REGISTRY = Symbol.for('durable-jobs.registry');

/**
 * Declares a job; the arguments type comes from the schema, so unsafe argument types fail to compile. Throws a
 * TypeError naming the field for a bad declaration.
 */
export function defineJob<Args extends SafeObject>(definition: JobDefinition<Args>): DeclaredJob<Args> {
  if (!/^[a-z][a-z0-9-]*$/.test(definition.name)) {
    throw new TypeError(`job name must be kebab-case, got "${definition.name}"`);
  }
  if (typeof definition.workflow !== 'function' || definition.workflow.name === '') {
    throw new TypeError(`job "${definition.name}": workflow must be a named workflow function`);
  }
  const rate = definition.alertFailureRate;
  if (rate !== undefined && !(rate >= 0 && rate <= 1)) {
    throw new TypeError(`job "${definition.name}": alertFailureRate must be from 0 to 1, got ${rate}`);
  }
  for (const field of ['retryTables', 'localActivities', 'rateLimits']) {
    // A declared job spread into a new declaration carries them, derived: they are derived again below.
    if (field in definition && !isJobDefinition(definition)) {
      throw new TypeError(
        `job "${definition.name}": ${field} is declared per activity now: activities: { <activity>: { options, ` +
          'retry, rateLimit, local } }',
      );
    }
  }
  if (definition.activities !== undefined) validateActivities(definition);
  if (definition.expiresAfter !== undefined) {
    try {
      parseJobDuration(definition.expiresAfter, 'expiresAfter');
    } catch (err) {
      throw new TypeError(`job "${definition.name}": ${(err as Error).message}`);
    }
  }
  if (definition.schedule !== undefined) validateJobSchedule(definition);
  if (definition.versioning !== undefined && !Object.hasOwn(VERSIONING_BEHAVIOR, definition.versioning)) {
    throw new TypeError(
      `job "${definition.name}": versioning must be 'pinned' or 'auto-upgrade', got ${JSON.stringify(definition.versioning)}`,
    );
  }
  if (definition.fairness !== undefined) validateJobFairness(definition.name, definition.fairness);
  if (definition.debounce !== undefined) validateJobDebounce(definition.name, definition.debounce);
  if (definition.concurrency !== undefined) validateConcurrencyLimit(definition.name, definition.concurrency);
  for (const field of ['tenant', 'summary'] as const) {
    if (definition[field] !== undefined && typeof definition[field] !== 'function') {
      throw new TypeError(`job "${definition.name}": ${field} must be a function of the arguments returning a string`);
    }
  }
  const activities = Object.entries(definition.activities ?? {});
  const declared: DeclaredJob<Args> = Object.freeze({
    ...definition,
    workflowType: definition.workflow.name,
    retryTables: Object.fromEntries(activities.flatMap(([name, a]) => (a.retry ? [[name, a.retry]] : []))),
    localActivities: activities.filter(([, a]) => a.local === true).map(([name]) => name),
    rateLimits: Object.fromEntries(activities.flatMap(([name, a]) => (a.rateLimit ? [[name, a.rateLimit]] : []))),
    [JOB]: true,
  });
  setWorkflowVersioning(
    definition.workflow as (...args: unknown[]) => Promise<unknown>,
    definition.versioning ?? 'pinned',
  );
  registerJob(declared);
  return declared;
}

/**
 * Every job declared in this process (or this workflow sandbox), in declaration order: declaring a job registers it.
 * An application's jobs are the ones its workflows module declares; the worker bundles that same module, so the
 * sandbox knows exactly the jobs the CLI, the client and the HTTP service know. Kept on `globalThis` under a
 * `Symbol.for` key, so two copies of the library in one process (a compiled CLI loading an application that resolved
 * the TypeScript sources) still share one registry.
 */
export const declaredJobs: DeclaredJob<any>[] = ((globalThis as { [REGISTRY]?: DeclaredJob<any>[] })[REGISTRY] ??= []);

/** Removes a job from the registry: for tests that declare throwaway jobs. Not part of the public API. */
export function forgetJob(name: string): void {
  const index = declaredJobs.findIndex((j) => j.name === name);
  if (index !== -1) declaredJobs.splice(index, 1);
}

function registerJob(job: DeclaredJob<any>): void {
  const index = declaredJobs.findIndex((j) => j.name === job.name);
  if (index === -1) {
    declaredJobs.push(job);
    return;
  }
  // The same declaration evaluated again (a module loaded twice, by two paths) replaces itself; two jobs may not share
  // a name.
  if (declaredJobs[index]!.workflowType !== job.workflowType) {
    throw new TypeError(
      `job name "${job.name}" is declared twice (workflows ${declaredJobs[index]!.workflowType} and ${job.workflowType})`,
    );
  }
  declaredJobs[index] = job;
}

const ACTIVITY_FIELDS = new Set(['options', 'retry', 'rateLimit', 'local']);

/** Checks a job's `activities`; throws a TypeError naming the field (`activities.<name>.<field>`). Pure. */
export function validateActivities(job: Pick<JobDefinition<any>, 'name' | 'activities'>): void {
  const fail = (field: string, message: string): never => {
    throw new TypeError(`job "${job.name}": activities${field ? `.${field}` : ''} ${message}`);
  };
  const activities = job.activities as unknown;
  if (activities === null || typeof activities !== 'object' || Array.isArray(activities)) {
    return fail('', 'must be an object: { <activity>: { options, retry?, rateLimit?, local? } }');
  }
  for (const [activity, declaration] of Object.entries(activities as Record<string, unknown>)) {
    if (declaration === null || typeof declaration !== 'object' || Array.isArray(declaration)) {
      fail(activity, 'must be an object: { options, retry?, rateLimit?, local? }');
    }
    const d = declaration as Record<string, unknown>;
    for (const key of Object.keys(d)) {
      if (!ACTIVITY_FIELDS.has(key))
        fail(`${activity}.${key}`, `is not an activity field (${[...ACTIVITY_FIELDS].join(', ')})`);
    }
    if (d.options === null || typeof d.options !== 'object') fail(`${activity}.options`, 'must be activity options');
    const options = d.options as ActivityOptions;
    if (d.local !== undefined && typeof d.local !== 'boolean') fail(`${activity}.local`, 'must be true or false');
    if (d.retry !== undefined) {
      if (d.retry === null || typeof d.retry !== 'object' || typeof (d.retry as RetryTable).rules !== 'object') {
        fail(`${activity}.retry`, 'must be a retry table: { maxAttempts, rules, otherwise, … }');
      }
      if (options.retry !== undefined) {
        fail(`${activity}.retry`, 'and options.retry are both given: the table is compiled into the retry policy');
      }
      if (d.local === true) {
        fail(
          activity,
          'is local and has a retry table; per-error retry delays (nextRetryDelay) are applied and tested for remote ' +
            'activities only, so keep it remote',
        );
      }
    }
    if (d.rateLimit !== undefined) validateRateLimit(job.name, activity, d.rateLimit, d.local === true, options);
  }
}

function validateRateLimit(job: string, activity: string, limit: unknown, local: boolean, options: ActivityOptions) {
  const fail = (field: string, message: string): never => {
    throw new TypeError(`job "${job}": activities.${activity}.rateLimit${field ? `.${field}` : ''} ${message}`);
  };
  if (limit === null || typeof limit !== 'object' || Array.isArray(limit)) fail('', 'must be an object: { perSecond }');
  for (const key of Object.keys(limit as object)) {
    if (key === 'burst') {
      fail(
        'burst',
        "cannot be set: Temporal's task queue rate limit takes a rate only; its burst is about one second's worth " +
          '(README "Rate limits")',
      );
    }
    if (key !== 'perSecond') fail(key, 'is not a rate limit field (perSecond)');
  }
  const perSecond = (limit as { perSecond?: unknown }).perSecond;
  if (typeof perSecond !== 'number' || !Number.isFinite(perSecond) || perSecond <= 0) {
    fail('perSecond', `must be a number above 0, got ${JSON.stringify(perSecond)}`);
  }
  if (local)
    fail('', "is set on a local activity: it runs in the workflow's worker, never through a task queue to limit");
  for (const timeout of ['scheduleToStartTimeout', 'scheduleToCloseTimeout'] as const) {
    if (options?.[timeout] !== undefined) {
      fail('', `and options.${timeout} are both given: a call waiting for its turn would time out`);
    }
  }
}

const SCHEDULE_FIELDS = new Set(['cron', 'every', 'args', 'timezone', 'overlap', 'catchupWindow', 'paused']);

/**
 * Checks a job's `schedule`: exactly one of cron/every, well-formed durations, a known overlap policy and time zone,
 * and arguments the job's schema accepts. Throws a TypeError naming the field; returns the parsed arguments. Pure.
 */
export function validateJobSchedule<Args extends SafeObject>(job: JobDefinition<Args>): Args {
  const schedule = job.schedule;
  const fail = (field: string, message: string): never => {
    throw new TypeError(`job "${job.name}": schedule${field ? `.${field}` : ''} ${message}`);
  };
  if (schedule === null || typeof schedule !== 'object' || Array.isArray(schedule)) {
    return fail('', 'must be an object: { cron | every, args, … }');
  }
  for (const key of Object.keys(schedule)) {
    if (!SCHEDULE_FIELDS.has(key)) fail(key, `is not a schedule field (${[...SCHEDULE_FIELDS].join(', ')})`);
  }
  if ((schedule.cron === undefined) === (schedule.every === undefined)) {
    fail('', 'must give exactly one of cron and every');
  }
  if (schedule.cron !== undefined) {
    const list = typeof schedule.cron === 'string' ? [schedule.cron] : schedule.cron;
    if (!Array.isArray(list) || list.length === 0)
      fail('cron', 'must be a cron expression or a non-empty list of them');
    for (const expression of list) {
      const fields = typeof expression === 'string' ? expression.trim().split(/\s+/) : [];
      if (!(fields[0]?.startsWith('@') || (fields.length >= 5 && fields.length <= 7))) {
        fail(
          'cron',
          `must be a cron expression ("minute hour day month weekday", or @daily…), got ${JSON.stringify(expression)}`,
        );
      }
    }
  }
  if (schedule.every !== undefined) duration(schedule.every, 'every', 1000, fail);
  if (schedule.catchupWindow !== undefined) duration(schedule.catchupWindow, 'catchupWindow', 10_000, fail);
  if (schedule.overlap !== undefined && !SCHEDULE_OVERLAP_POLICIES.includes(schedule.overlap)) {
    fail('overlap', `must be one of ${SCHEDULE_OVERLAP_POLICIES.join(', ')}, got ${JSON.stringify(schedule.overlap)}`);
  }
  if (schedule.timezone !== undefined) {
    if (typeof schedule.timezone !== 'string' || schedule.timezone === '')
      fail('timezone', 'must be an IANA time zone name');
    if (schedule.every !== undefined)
      fail('timezone', 'applies only to cron; an every interval is the same in every zone');
    try {
      new Intl.DateTimeFormat('en', { timeZone: schedule.timezone });
    } catch {
      fail('timezone', `is not a known time zone, got ${JSON.stringify(schedule.timezone)}`);
    }
  }
  if (schedule.paused !== undefined && typeof schedule.paused !== 'boolean') fail('paused', 'must be true or false');
  try {
    return validateJobArguments(job, schedule.args);
  } catch (err) {
    if (!(err instanceof InvalidJobArgumentsError)) throw err;
    return fail('args', `are invalid: ${err.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
}

function duration(value: unknown, field: string, minimumMs: number, fail: (field: string, message: string) => never) {
  let ms = NaN;
  try {
    if (typeof value === 'string') ms = msToNumber(value as `${number}s`);
  } catch {
    // reported below
  }
  if (!(ms >= minimumMs)) {
    fail(
      field,
      `must be a duration of at least ${minimumMs / 1000} s like "30s", "5m", "1h", got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

export function isJobDefinition(value: unknown): value is DeclaredJob<any> {
  return typeof value === 'object' && value !== null && (value as { [JOB]?: boolean })[JOB] === true;
}

/** The arguments type of a job declaration. */
export type JobArgs<J> = J extends JobDefinition<infer A> ? A : never;

export function workflowIdFor<Args extends SafeObject>(job: JobDefinition<Args>, args: Args): string {
  const key = job.idempotencyKey(args);
  if (key === '') throw new TypeError(`idempotency key of job "${job.name}" must not be empty`);
  return `${job.name}/${key}`;
}

/** A database id as users pass it: a positive integer. */
export const recordId = z.number().int().positive();

/**
 * Options of an activity that only touches the database: short attempts, exponential backoff from 1 s capped at
 * 1 min, and no retry of a missing record.
 */
export const databaseActivity: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [ErrorType.RecordNotFound],
  },
};
