import type { ActivityOptions } from '@temporalio/common';
import { z } from 'zod';
import { defineJob } from '../job-definition';
import { databaseActivityOptions, recordId } from './common';

/**
 * The batch pattern. The parent pages through the export's users and runs one `exportSliceWorkflow` child per slice
 * (100 users by default, per export), at most `SLICES_IN_FLIGHT` at once; children write their part to shared
 * storage; the parent continues-as-new before its history grows large and finalizes once every slice is done.
 */
export const largeDataExport = defineJob({
  name: 'large-data-export',
  description: 'Export the users created in a date range, in parallel slices, with progress; any size.',
  workflowType: 'largeDataExportWorkflow',
  queue: 'low',
  args: z.strictObject({ exportId: recordId }),
  idempotencyKey: ({ exportId }) => String(exportId),
  // Finalizing reads every slice back: long, so it heartbeats.
  activities: { ...databaseActivityOptions, startToCloseTimeout: '10m', heartbeatTimeout: '30s' },
});

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
 * A slice's activity: retried a few times with short backoff, then the slice is recorded as failed. A slice takes
 * milliseconds, so a 15 s attempt timeout is generous and lets a slice whose worker died run elsewhere within seconds.
 */
export const exportSliceActivities: ActivityOptions = {
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 3 },
};

export const childWorkflowId = (exportId: number, sliceNo: number) => `large-data-export/${exportId}/slice/${sliceNo}`;
