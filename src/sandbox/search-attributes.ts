/**
 * Runs the Temporal Web UI (and `temporal workflow list --query`) can find: the custom search attributes every job run
 * carries from its start, and the one-line summary it shows. README "Finding runs".
 *
 * Pure (no Node built-ins): job declarations and the debounce workflow import it.
 */
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import type { SafeObject } from './safe-arguments';

/** The job's name (`invoice-generation`) on every run of it, however it was started. */
export const JOB_NAME = defineSearchAttributeKey('JobName', SearchAttributeType.KEYWORD);
/** The run's idempotency key (`42` for `invoice-generation/42`): the job's `idempotencyKey` of its arguments. */
export const JOB_KEY = defineSearchAttributeKey('JobKey', SearchAttributeType.KEYWORD);
/** The tenant the run belongs to, for a job that declares `tenant`; absent on other jobs' runs. */
export const TENANT_ID = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);

/**
 * Every custom search attribute the project sets, as each Temporal server must have it registered: the dev server
 * (`--search-attribute`, src/dev-server.ts) and compose's one-shot `search-attributes` service register exactly these
 * (test/compose.test.ts checks compose against this list).
 */
export const SEARCH_ATTRIBUTES = [JOB_NAME, JOB_KEY, TENANT_ID] as const;

/** A search attribute type as the Temporal CLI spells it (`--type Keyword`, `--search-attribute JobName=Keyword`). */
export function cliTypeName(type: SearchAttributeType): string {
  const names: Record<SearchAttributeType, string> = {
    TEXT: 'Text',
    KEYWORD: 'Keyword',
    INT: 'Int',
    DOUBLE: 'Double',
    BOOL: 'Bool',
    DATETIME: 'Datetime',
    KEYWORD_LIST: 'KeywordList',
  };
  return names[type];
}

/** `temporal server start-dev` arguments that register every attribute: `--search-attribute JobName=Keyword` … */
export function devServerSearchAttributeArgs(): string[] {
  return SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${cliTypeName(key.type)}`]);
}

/** Longest static summary set on a run; a longer one is cut with "…" (the Web UI shows it on one line). */
export const MAX_SUMMARY_LENGTH = 200;

/** What a job declares that the labels of its runs come from (a `JobDefinition`'s fields). */
export interface LabelledJob<Args extends SafeObject = SafeObject> {
  readonly name: string;
  readonly idempotencyKey: (args: Args) => string;
  readonly tenant?: (args: Args) => string;
  readonly summary?: (args: Args) => string;
}

/** The search attributes and summary of one run, as plain data (the debounce workflow carries them in a signal). */
export interface RunLabels {
  jobName: string;
  jobKey: string;
  tenantId?: string;
  /** `<job> · <summary(args) or the key>`, e.g. `invoice-generation · invoice 42`. */
  summary: string;
}

/**
 * The labels of a run of `job` with these arguments. A `tenant` or `summary` function that throws or returns no
 * non-empty string is a TypeError naming the field (before any RPC).
 */
export function runLabels<Args extends SafeObject>(job: LabelledJob<Args>, args: Args): RunLabels {
  const call = (field: 'tenant' | 'summary', fn: (args: Args) => string): string => {
    let value: unknown;
    try {
      value = fn(args);
    } catch (err) {
      throw new TypeError(`job "${job.name}": ${field} threw: ${(err as Error).message}`);
    }
    if (typeof value !== 'string' || value.trim() === '') {
      throw new TypeError(`job "${job.name}": ${field} must return a non-empty string, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  const jobKey = job.idempotencyKey(args);
  const tenantId = job.tenant ? call('tenant', job.tenant) : undefined;
  const what = job.summary ? call('summary', job.summary) : jobKey;
  let summary = `${job.name} · ${what}`.replace(/\s+/g, ' ');
  if (summary.length > MAX_SUMMARY_LENGTH) summary = `${summary.slice(0, MAX_SUMMARY_LENGTH - 1)}…`;
  return { jobName: job.name, jobKey, ...(tenantId === undefined ? {} : { tenantId }), summary };
}

/** The labels as typed search attributes, for a start (client, Schedule action, child workflow). */
export function searchAttributePairs(labels: RunLabels): SearchAttributePair[] {
  const pairs: SearchAttributePair[] = [
    { key: JOB_NAME, value: labels.jobName },
    { key: JOB_KEY, value: labels.jobKey },
  ];
  if (labels.tenantId !== undefined) pairs.push({ key: TENANT_ID, value: labels.tenantId });
  return pairs;
}

/**
 * The visibility clause that selects the runs of these jobs: by `JobName`, or by workflow type for runs started
 * before runs carried it (they have no `JobName`, and must still be listed, counted and retried).
 */
export function jobsClause(jobs: readonly { name: string; workflowType: string }[]): string {
  const names = jobs.map((j) => quoteQueryString(j.name)).join(', ');
  const types = jobs.map((j) => quoteQueryString(j.workflowType)).join(', ');
  return `(${JOB_NAME.name} IN (${names}) OR WorkflowType IN (${types}))`;
}

/** A string literal of a visibility query. */
export function quoteQueryString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
