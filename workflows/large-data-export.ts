import {
  ApplicationFailure,
  continueAsNew,
  defineQuery,
  executeChild,
  proxyActivities,
  setHandler,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';
import type { ExportResult, SliceRange } from '../activities/export-storage';
import type { JobArgs } from '../src/job-definition';
import {
  childWorkflowId,
  HISTORY_EVENTS_BEFORE_CONTINUE,
  largeDataExport,
  SLICES_IN_FLIGHT,
  SLICES_PER_PLAN,
} from '../src/jobs/large-data-export';
import { computeProgress, PROGRESS_QUERY, type JobProgress } from '../src/progress';
import { exportSliceWorkflow } from './export-slice';

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

const activities = proxyActivities<Activities>(largeDataExport.activities);

/**
 * Fans out over the export's users in slices (children with deterministic IDs, so a continued or re-run parent never
 * duplicates one), keeps at most SLICES_IN_FLIGHT running, continues-as-new before its history grows large, and
 * finalizes when every slice is done. Failed slices are recorded; the export's policy decides fail or complete.
 */
export async function largeDataExportWorkflow(args: JobArgs<typeof largeDataExport>, carried?: ExportState): Promise<ExportResult> {
  const { exportId } = args;
  const state = carried ?? (await prepare(exportId));
  setHandler(progressQuery, () =>
    computeProgress(state.phase, 'slices', state.totalSlices, state.done, state.failed, Date.now() - state.startedAt),
  );

  const inFlight = new Map<number, Promise<void>>();
  for (;;) {
    while (inFlight.size < SLICES_IN_FLIGHT && !(state.allPlanned && state.planned.length === 0)) {
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
      inFlight.set(slice.sliceNo, runSlice(exportId, slice, state).finally(() => inFlight.delete(slice.sliceNo)));
    }
    if (inFlight.size === 0) break;
    await Promise.race(inFlight.values());
    if (workflowInfo().historyLength > HISTORY_EVENTS_BEFORE_CONTINUE || workflowInfo().continueAsNewSuggested) {
      await Promise.all(inFlight.values());
      await continueAsNew<typeof largeDataExportWorkflow>(args, state);
    }
  }

  if (state.failed > 0 && state.onSliceFailure === 'fail') {
    const message = `export ${exportId} failed: ${state.failed} of ${state.totalSlices} slices failed`;
    await activities.markExportFailed(exportId, message);
    throw ApplicationFailure.nonRetryable(message, 'ExportSlicesFailed');
  }
  state.phase = 'finalizing';
  const result = await activities.finalizeExport(exportId);
  state.phase = 'done';
  return result;
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
      workflowId: childWorkflowId(exportId, slice.sliceNo),
      args: [exportId, slice],
      // A slice that completed in an earlier run is not run again; one that failed may be.
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    });
    state.done++;
  } catch (err) {
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
