import { Context } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { largeDataExport } from './jobs';
import { createHarness, type Harness } from './harness';

/**
 * A job's priority key reaches the work it causes: the workflow sets none on its activities or children, so Temporal
 * gives them the job's. Seen from inside the export's slice activity (job → slice child workflow → activity), as the
 * activity task the worker polled carries it.
 */
describe('priority key inheritance', () => {
  let h: Harness;
  const sliceKeys = new Map<number, Array<number | undefined>>();

  beforeAll(async () => {
    h = await createHarness({
      deps: {
        beforeExportSlice: (exportId) => {
          const keys = sliceKeys.get(exportId) ?? [];
          keys.push(Context.current().info.priority?.priorityKey);
          sliceKeys.set(exportId, keys);
        },
      },
    });
    await h.createUsers(10, '2026-06-15');
    await h.startWorkers(['low']);
  });
  afterAll(() => h?.close());

  it('the slice activities of an export enqueued with key 1 run with key 1, and with key 5 under key 5', async () => {
    const exports = [];
    for (const priorityKey of [1, 5] as const) {
      const exportId = await h.createExport({ startDate: '2026-06-15', endDate: '2026-06-15', sliceSize: 5 });
      const { workflowId } = await h.client.enqueue(largeDataExport, { exportId }, { priorityKey });
      await h.env.client.workflow.getHandle(workflowId).result();
      exports.push({ exportId, priorityKey });
    }
    for (const { exportId, priorityKey } of exports)
      expect(sliceKeys.get(exportId)).toEqual([priorityKey, priorityKey]);
  });
});
