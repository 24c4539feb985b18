import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  continueAsNew,
  defineQuery,
  executeChild,
  isCancellation,
  patched,
  setHandler,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError, type ActivityOptions } from '@temporalio/common';
import { z } from 'zod';
import type { createLargeDataExportActivities, ExportResult, SliceRange } from '../activities/large-data-export';
import {
  ErrorType,
  databaseActivity,
  defineJob,
  recordId,
  computeProgress,
  PROGRESS_QUERY,
  type JobProgress,
  proxyJobActivities,
  setWorkflowVersioning,
} from 'durable-jobs/workflow';
type ExportActivities = ReturnType<typeof createLargeDataExportActivities>;

const args = z.strictObject({ exportId: recordId });

/**
 * The batch pattern. The parent pages through the export's users and runs one `exportSliceWorkflow` child per slice
 * (1,000 users by default, `exports.slice_size`), at most `SLICES_IN_FLIGHT` at once; children write their part to
 * shared storage; the parent continues-as-new before its history grows large and finalizes once every slice is done.
 */
export const largeDataExport = defineJob({
  name: 'large-data-export',
  description: 'Export the users created in a date range, in parallel slices, with progress; any size.',
  workflow: largeDataExportWorkflow,
  queue: 'low',
  // Runs for as long as its users take: it moves to each new version (README "Shipping changed job code"), so every
  // change to this workflow is patched().
  versioning: 'auto-upgrade',
  args,
  idempotencyKey: ({ exportId }) => String(exportId),
  activities: {
    // Planning, bookkeeping and finalizing: database work. Finalizing reads every slice back, so it is long and
    // heartbeats.
    prepareExport: { options: exportDatabaseActivity() },
    planSlices: { options: exportDatabaseActivity() },
    recordSliceFailure: { options: exportDatabaseActivity() },
    verifyExport: { options: exportDatabaseActivity() },
    finalizeExport: { options: exportDatabaseActivity() },
    markExportFailed: { options: exportDatabaseActivity() },
    markExportCancelled: { options: exportDatabaseActivity() },
    // A slice's activity (called by the slice child workflow): retried a few times with short backoff, then the slice
    // is recorded as failed. A slice takes milliseconds, so a 15 s attempt timeout is generous and lets a slice whose
    // worker died run elsewhere within seconds.
    exportSlice: {
      options: {
        startToCloseTimeout: '15s',
        retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 3 },
      },
    },
  },
});

/** The options of the export's database activities (hoisted: the declaration above reads them). */
function exportDatabaseActivity(): ActivityOptions {
  return { ...databaseActivity, startToCloseTimeout: '10m', heartbeatTimeout: '30s' };
}

/** Children running at once: bounds load on the database and the worker, however large the export. */
export const SLICES_IN_FLIGHT = 20;

/** Slices planned per planning activity: keeps each payload small (ids only, never the users). */
export const SLICES_PER_PLAN = 50;

/**
 * Continue-as-new past this many history events (about 450 slices). Temporal's hard limit is 51,200, but a worker that
 * picks the parent up after a cache eviction or a crash replays the whole current run: keep that cheap. In-flight
 * children are drained first, since a new run cannot wait on the old run's children.
 */
export const HISTORY_EVENTS_BEFORE_CONTINUE = 2000;

/**
 * Runs that handle their cancellation: they stop starting slices, wait for the slices in flight to be cancelled, and
 * mark the export `cancelled` before closing as Canceled. Runs recorded before this (none cancelled) replay as they
 * ran; the marker is only written by a run that is cancelled.
 */
export const EXPORT_CANCELLATION_PATCH = 'large-data-export-cancellation';

/**
 * Runs that verify every slice has its part before finalizing (`verifyExport`). Runs that reached the end before this
 * replay as they ran; an export that auto-upgraded to this code mid-way verifies when it gets there.
 */
export const EXPORT_VERIFICATION_PATCH = 'large-data-export-verification';

/**
 * Whether this run's cancellation was requested (by `JobClient.cancel`), `err` (if given) comes from it, and this run
 * handles it. `patched` is asked only then, so runs that are not cancelled record no marker.
 */
function cancelRequested(err?: unknown): boolean {
  return (
    CancellationScope.current().consideredCancelled &&
    (err === undefined || isCancellation(err)) &&
    patched(EXPORT_CANCELLATION_PATCH)
  );
}

/** Deterministic per export and slice, so a continued or re-run parent never starts a slice twice. */
const sliceWorkflowId = (exportId: number, sliceNo: number) => `large-data-export/${exportId}/slice/${sliceNo}`;

/** What one run hands the next through continue-as-new: counters and a cursor, never the users. */
export interface ExportState {
  phase: 'running' | 'finalizing' | 'done';
  totalSlices: number;
  sliceSize: number;
  onSliceFailure: 'fail' | 'complete';
  /** Users with ids up to this one are planned into slices. */
  afterUserId: number;
  nextSliceNo: number;
  /** Planned slices not started yet. */
  planned: SliceRange[];
  allPlanned: boolean;
  done: number;
  failed: number;
  startedAt: number;
}

export const progressQuery = defineQuery<JobProgress>(PROGRESS_QUERY);

const activities: ExportActivities = proxyJobActivities(largeDataExport);
const { exportSlice } = activities;

/**
 * Fans out over the export's users in slices (children with deterministic IDs, so a continued or re-run parent never
 * duplicates one), keeps at most SLICES_IN_FLIGHT running, continues-as-new before its history grows large, and
 * finalizes when every slice is done. Failed slices are recorded; the export's policy decides fail or complete.
 */
export async function largeDataExportWorkflow(
  exportArgs: z.infer<typeof args>,
  carried?: ExportState,
): Promise<ExportResult> {
  const { exportId } = exportArgs;
  try {
    return await runExport(exportArgs, carried);
  } catch (err) {
    if (!cancelRequested(err)) throw err;
    // Cancelled: the slices done are kept and the row says `cancelled`. Not cancellable itself, so it runs although
    // the run's scope is cancelled; then the run closes as Canceled.
    await CancellationScope.nonCancellable(() => activities.markExportCancelled(exportId));
    throw err;
  }
}

async function runExport(exportArgs: z.infer<typeof args>, carried?: ExportState): Promise<ExportResult> {
  const { exportId } = exportArgs;
  const state = carried ?? (await prepare(exportId));
  setHandler(progressQuery, () =>
    computeProgress(state.phase, 'slices', state.totalSlices, state.done, state.failed, Date.now() - state.startedAt),
  );

  const inFlight = new Map<number, Promise<void>>();
  try {
    await fanOut(exportArgs, state, inFlight);
  } catch (err) {
    // Cancelled: each slice in flight is being cancelled too (its child workflow got the request); wait until every
    // one has closed, so none runs on behind the cancelled export.
    if (cancelRequested(err)) await Promise.allSettled(inFlight.values());
    throw err;
  }

  if (state.failed > 0 && state.onSliceFailure === 'fail') {
    const message = `export ${exportId} failed: ${state.failed} of ${state.totalSlices} slices failed`;
    await activities.markExportFailed(exportId, message);
    throw ApplicationFailure.nonRetryable(message, ErrorType.ExportSlicesFailed);
  }
  state.phase = 'finalizing';
  const verified = patched(EXPORT_VERIFICATION_PATCH)
    ? await activities.verifyExport(exportId, state.totalSlices)
    : undefined;
  const result = await activities.finalizeExport(exportId);
  state.phase = 'done';
  return verified ? { ...result, verifiedSlices: verified.slices } : result;
}

/** Starts slices, at most SLICES_IN_FLIGHT at once, until all are done; continues-as-new on the way when due. */
async function fanOut(
  exportArgs: z.infer<typeof args>,
  state: ExportState,
  inFlight: Map<number, Promise<void>>,
): Promise<void> {
  const { exportId } = exportArgs;
  for (;;) {
    while (inFlight.size < SLICES_IN_FLIGHT && !(state.allPlanned && state.planned.length === 0)) {
      // Once cancelled, no slice starts (executeChild would refuse anyway: the run's scope is cancelled).
      if (cancelRequested()) throw new CancelledFailure('export cancelled: no further slices start');
      if (state.planned.length === 0) {
        state.planned = await activities.planSlices(exportId, state.afterUserId, state.nextSliceNo, SLICES_PER_PLAN);
        if (state.planned.length === 0) {
          state.allPlanned = true;
          break;
        }
        state.afterUserId = state.planned[state.planned.length - 1]!.toUserId;
        state.nextSliceNo += state.planned.length;
      }
      const slice = state.planned.shift()!;
      inFlight.set(
        slice.sliceNo,
        runSlice(exportId, slice, state).finally(() => inFlight.delete(slice.sliceNo)),
      );
    }
    if (inFlight.size === 0) break;
    await Promise.race(inFlight.values());
    if (workflowInfo().historyLength > HISTORY_EVENTS_BEFORE_CONTINUE || workflowInfo().continueAsNewSuggested) {
      await Promise.all(inFlight.values());
      // A cancellation that came with the last slices' completions is this run's to handle, not lost in a new run.
      if (cancelRequested()) throw new CancelledFailure('export cancelled before continuing as new');
      await continueAsNew<typeof largeDataExportWorkflow>(exportArgs, state);
    }
  }
}

async function prepare(exportId: number): Promise<ExportState> {
  const plan = await activities.prepareExport(exportId);
  return {
    phase: 'running',
    totalSlices: Math.ceil(plan.totalUsers / plan.sliceSize),
    sliceSize: plan.sliceSize,
    onSliceFailure: plan.onSliceFailure,
    afterUserId: 0,
    nextSliceNo: 0,
    planned: [],
    allPlanned: false,
    done: 0,
    failed: 0,
    startedAt: Date.now(),
  };
}

async function runSlice(exportId: number, slice: SliceRange, state: ExportState): Promise<void> {
  try {
    await executeChild(exportSliceWorkflow, {
      workflowId: sliceWorkflowId(exportId, slice.sliceNo),
      args: [exportId, slice],
      // A slice that completed in an earlier run is not run again; one that failed may be.
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    });
    state.done++;
  } catch (err) {
    // Cancelled with the export: neither done nor failed, and recorded by nothing (the export is marked cancelled).
    if (cancelRequested(err)) throw err;
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      state.done++; // completed in an earlier run of this export: its part is stored
      return;
    }
    state.failed++;
    await activities.recordSliceFailure(exportId, slice.sliceNo, rootMessage(err));
  }
}

function rootMessage(err: unknown): string {
  let current = err as Error;
  while (current.cause instanceof Error) current = current.cause;
  return `${current.name}: ${current.message}`;
}

/**
 * One slice of a large export, as its own child workflow: its retries, failure and timing are visible on their own
 * in the Web UI, and a slice that fails costs only itself.
 */
export async function exportSliceWorkflow(exportId: number, slice: SliceRange): Promise<{ users: number }> {
  return await exportSlice(exportId, slice);
}

// A slice takes seconds: it finishes on the version it started on, like the parent's short jobs.
setWorkflowVersioning(exportSliceWorkflow, 'pinned');
