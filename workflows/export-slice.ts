import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { SliceRange } from '../activities/export-storage';
import { exportSliceActivities } from '../src/jobs/large-data-export';

const { exportSlice } = proxyActivities<Activities>(exportSliceActivities);

/**
 * One slice of a large export, as its own child workflow: its retries, failure and timing are visible on their own
 * in the Web UI, and a slice that fails costs only itself.
 */
export async function exportSliceWorkflow(exportId: number, slice: SliceRange): Promise<{ users: number }> {
  return await exportSlice(exportId, slice);
}
