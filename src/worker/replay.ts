import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import pino from 'pino';
import { bundleHasTracing, workflowTracingSinks } from '../instrumentation/tracing';
import { jobEventSinks } from './worker-instrumentation';

/**
 * Replay before deploy (README "Shipping changed job code"): the histories of runs — open ones on a server, recently
 * closed ones, or files — are replayed against a workflow bundle, the code about to be deployed. A change that would
 * break a run when its next workflow task reaches the new code shows here as a nondeterminism, with the run and the
 * event, before any worker runs it.
 */

/** One history to replay, with where it came from. */
export interface HistorySource {
  workflowId: string;
  runId?: string;
  workflowType: string;
  /** Open on the server when read (a history file: unknown). */
  open?: boolean;
  history: temporal.api.history.v1.IHistory;
}

export interface ReplayFailure {
  workflowId: string;
  runId?: string;
  workflowType: string;
  /**
   * For a nondeterminism: the WorkflowTaskCompleted event of the first workflow task whose commands the code no longer
   * makes, and the event after it (what the code disagrees with).
   */
  eventId?: number;
  eventType?: string;
  /** `nondeterminism` for a DeterminismViolationError; `error` for anything else replay hit. */
  kind: 'nondeterminism' | 'error';
  message: string;
}

export interface ReplayReport {
  /** Histories replayed, by workflow type. */
  replayed: Record<string, number>;
  failures: ReplayFailure[];
}

/** Replays each history against the bundle; resolves with every failure (none: the bundle can take these runs over). */
export async function replayHistories(
  workflowBundle: WorkflowBundle,
  histories: AsyncIterable<HistorySource> | Iterable<HistorySource>,
  onResult?: (source: HistorySource, failure?: ReplayFailure) => void,
): Promise<ReplayReport> {
  const byKey = new Map<string, HistorySource>();
  const report: ReplayReport = { replayed: {}, failures: [] };
  const traced = bundleHasTracing(workflowBundle);
  async function* feed() {
    for await (const source of histories) {
      // The replayer reports by workflow ID: make it unique per run.
      const key = `${source.workflowId}\u0000${source.runId ?? byKey.size}`;
      byKey.set(key, source);
      yield { workflowId: key, history: source.history };
    }
  }
  const results = Worker.runReplayHistories(
    {
      workflowBundle,
      // Replay never calls the sinks; registered, so the SDK does not log one error per unregistered sink.
      sinks: { ...jobEventSinks(pino({ level: 'silent' })), ...(traced ? workflowTracingSinks() : {}) },
    },
    feed(),
  );
  const failed: Array<{ source: HistorySource; error: Error }> = [];
  for await (const result of results) {
    const source = byKey.get(result.workflowId)!;
    report.replayed[source.workflowType] = (report.replayed[source.workflowType] ?? 0) + 1;
    if (result.error) failed.push({ source, error: result.error });
    else onResult?.(source);
  }
  // Located after the batch: each takes a few replays of the run's history.
  for (const [index, { source, error }] of failed.entries()) {
    const kind = error.name === 'DeterminismViolationError' ? 'nondeterminism' : 'error';
    const located = kind === 'nondeterminism' && index < LOCATE_AT_MOST ? await locate(workflowBundle, source) : {};
    const failure: ReplayFailure = {
      workflowId: source.workflowId,
      runId: source.runId,
      workflowType: source.workflowType,
      ...located,
      kind,
      message: coreMessage(error.message),
    };
    report.failures.push(failure);
    onResult?.(source, failure);
  }
  return report;
}

/** Failures located to their event, at most (each costs about log2(workflow tasks) replays). */
const LOCATE_AT_MOST = 10;

/** The nondeterminism's own sentence, without the SDK's wrapping (`Failure { failure: Some(Failure { message: "…" …`). */
function coreMessage(message: string): string {
  const inner = /message: "((?:[^"\\]|\\.)*)"/.exec(message);
  return inner ? inner[1]!.replace(/\\"/g, '"') : message;
}

type IEvent = temporal.api.history.v1.IHistoryEvent;
const { EventType } = temporal.api.enums.v1;

/**
 * The first workflow task whose commands the bundle's code no longer makes: the history is replayed cut after the
 * k-th WorkflowTaskStarted event (the tasks before the k-th are then checked against what followed them, the k-th is
 * not), and the smallest failing k found by bisection. Returns that task's WorkflowTaskCompleted event and the event
 * after it (the first command the code disagrees with, or the marker it does not make).
 */
async function locate(
  workflowBundle: WorkflowBundle,
  source: HistorySource,
): Promise<{ eventId?: number; eventType?: string }> {
  const events = source.history.events ?? [];
  const starts = events.flatMap((e, i) => (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED ? [i] : []));
  const fails = async (k: number): Promise<boolean> => {
    const prefix = temporal.api.history.v1.History.create({ events: events.slice(0, starts[k]! + 1) });
    try {
      await Worker.runReplayHistory({ workflowBundle, sinks: silentSinks(workflowBundle) }, prefix, source.workflowId);
      return false;
    } catch (err) {
      return (err as Error).name === 'DeterminismViolationError';
    }
  };
  // Cut after the last task start: every task but the last is checked. Failing already: search the earlier cuts.
  let lo = 1;
  let hi = starts.length - 1;
  if (starts.length < 2 || !(await fails(hi))) return lastTask(events, starts);
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (await fails(mid)) hi = mid;
    else lo = mid + 1;
  }
  // Cut `lo` is the first that fails: the task that started at starts[lo - 1] is the first that disagrees.
  return taskAt(events, starts[lo - 1]!);
}

/** The last workflow task: when the cuts all pass, the disagreement is in the task the history ends with. */
function lastTask(events: IEvent[], starts: number[]) {
  return starts.length === 0 ? {} : taskAt(events, starts[starts.length - 1]!);
}

function taskAt(events: IEvent[], startIndex: number): { eventId?: number; eventType?: string } {
  const completed = events.findIndex(
    (e, i) => i > startIndex && e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
  );
  if (completed === -1) return {};
  const next = events[completed + 1];
  return {
    eventId: Number(events[completed]!.eventId),
    ...(next ? { eventType: describeEvent(next) } : {}),
  };
}

/** `ActivityTaskScheduled finalizeExport (event 1234)`, `MarkerRecorded (event 12)`. */
function describeEvent(event: IEvent): string {
  const name = (EventType[event.eventType ?? 0] ?? 'UNKNOWN')
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());
  const detail =
    event.activityTaskScheduledEventAttributes?.activityType?.name ??
    event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name ??
    event.markerRecordedEventAttributes?.markerName ??
    '';
  return `${name}${detail ? ` ${detail}` : ''} (event ${Number(event.eventId)})`;
}

function silentSinks(workflowBundle: WorkflowBundle) {
  return {
    ...jobEventSinks(pino({ level: 'silent' })),
    ...(bundleHasTracing(workflowBundle) ? workflowTracingSinks() : {}),
  };
}

/** The histories recorded as JSON files in `dir` (`temporal workflow show --output json`, or `History.toJSON`). */
export function* fileHistories(dir: string): Generator<HistorySource> {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`${dir}: no .json history files`);
  for (const file of files) {
    const json = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as {
      events?: Array<{ workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }>;
    };
    const workflowType = json.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
    if (!workflowType)
      throw new Error(`${path.join(dir, file)}: not a history (its first event is not WorkflowExecutionStarted)`);
    // fromObject, not the SDK's historyFromJSON: two copies of protobufjs in the SDK's packages make its instanceof
    // check refuse proto's own types in some installs.
    yield { workflowId: file, workflowType, history: temporal.api.history.v1.History.fromObject(json) };
  }
}

export interface ServerHistoryOptions {
  /** Only these workflow types (a job's workflow type, a child workflow's). @default every type */
  workflowTypes?: readonly string[];
  /** At most this many runs per workflow type, open ones first. @default 20 */
  sample?: number;
  /** Closed runs count if they closed after this instant; open runs always count. @default 24 hours ago */
  since?: Date;
  /** Stop listing after this many runs seen (a busy namespace lists millions). @default 5000 */
  maxScanned?: number;
}

const quote = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * Histories of runs on the server: up to `sample` per workflow type, open runs first, then runs closed since `since`.
 * Visibility lists newest first.
 */
export async function* serverHistories(
  client: Client,
  options: ServerHistoryOptions = {},
): AsyncGenerator<HistorySource> {
  const sample = options.sample ?? 20;
  const since = options.since ?? new Date(Date.now() - 24 * 3600_000);
  const maxScanned = options.maxScanned ?? 5000;
  const types =
    options.workflowTypes && options.workflowTypes.length > 0
      ? ` AND WorkflowType IN (${options.workflowTypes.map(quote).join(', ')})`
      : '';
  const taken = new Map<string, number>();
  let scanned = 0;
  for (const [open, filter] of [
    [true, `ExecutionStatus = 'Running'`],
    [false, `ExecutionStatus != 'Running' AND CloseTime >= ${quote(since.toISOString())}`],
  ] as const) {
    for await (const run of client.workflow.list({ query: `${filter}${types}` })) {
      if (++scanned > maxScanned) return;
      const count = taken.get(run.type) ?? 0;
      if (count >= sample) continue;
      let history: temporal.api.history.v1.IHistory;
      try {
        history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      } catch {
        continue; // deleted by retention between the list and the read
      }
      taken.set(run.type, count + 1);
      yield { workflowId: run.workflowId, runId: run.runId, workflowType: run.type, open, history };
    }
  }
}
