import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { temporal } from '@temporalio/proto';
import { WorkflowIdReusePolicy } from '@temporalio/client';
import { exportSliceWorkflow, HISTORY_EVENTS_BEFORE_CONTINUE, largeDataExport, SLICES_IN_FLIGHT } from './jobs';
import type { JobProgress } from '../src/sandbox/progress';
import { createHarness, type Harness } from './harness';

/**
 * The most events one run of the export can have. A run checks its history length whenever a child completes; past
 * HISTORY_EVENTS_BEFORE_CONTINUE it drains the children in flight and continues-as-new. After its last check under the
 * limit, events come only from: the children then in flight (at most SLICES_IN_FLIGHT) and those started to refill
 * behind a planning activity before the next check (at most SLICES_IN_FLIGHT more), each at most 9 events (start
 * initiated, started, completed, and a 3-event workflow task for each of the last two); at most three activities (two
 * planning, one finalizing), each 3 events and a 3-event workflow task; and that check's WorkflowTaskCompleted and the
 * run's closing event. No slice fails in that test, so no recordSliceFailure activity adds to it.
 */
const MAX_RUN_HISTORY = HISTORY_EVENTS_BEFORE_CONTINUE + 2 * SLICES_IN_FLIGHT * 9 + 3 * 6 + 2;

/**
 * The batch pattern on the real dev server: 10,000 users exported in slices of 100 by child workflows, one slice
 * failing once (retried, then fine) and one failing every attempt, handled per the export's failure policy.
 */
describe('large-data-export', () => {
  let h: Harness;
  let userIds: number[];
  const failOnce = new Set<string>();
  const failAlways = new Set<string>();
  const attempts = new Map<string, number>();
  /** The attempt numbers of every exportSlice run that wrote its part, by `<exportId>/<sliceNo>`. */
  const completions = new Map<string, number[]>();
  let lateUserIds: number[];

  beforeAll(async () => {
    h = await createHarness({
      deps: {
        beforeExportSlice: (exportId, sliceNo, attempt) => {
          attempts.set(`${exportId}/${sliceNo}`, attempt);
          if (failAlways.has(`${exportId}/${sliceNo}`)) throw new Error(`slice ${sliceNo}: storage rejected the write`);
          if (attempt === 1 && failOnce.has(`${exportId}/${sliceNo}`))
            throw new Error(`slice ${sliceNo}: connection reset, once`);
        },
        afterExportSlice: (exportId, sliceNo, attempt) => {
          const key = `${exportId}/${sliceNo}`;
          completions.set(key, [...(completions.get(key) ?? []), attempt]);
        },
      },
    });
    userIds = await h.createUsers(10_000, '2026-03-10');
    lateUserIds = await h.createUsers(2_500, '2026-06-15'); // outside the first export's range
    await h.startWorkers(['low']);
  }, 120_000);
  afterAll(() => h?.close());

  /** Every exported CSV line's user id, across all slice parts. */
  async function exportedIds(exportId: number): Promise<number[]> {
    const parts = await h.database.db
      .selectFrom('export_slices')
      .select('content')
      .where('export_id', '=', exportId)
      .execute();
    return parts.flatMap((p) =>
      p.content
        .split('\n')
        .filter(Boolean)
        .map((line: string) => Number(line.split(',')[0])),
    );
  }

  /**
   * Exactly once, as the slices ran, not as the upserted parts show: each of `slices` wrote its part in one exportSlice
   * run (a failed attempt that was retried counts once, since it never wrote), and no other slice of the export did.
   */
  function expectEachSliceCompletedOnce(exportId: number, slices: number[]): void {
    const ran = [...completions]
      .filter(([key]) => key.startsWith(`${exportId}/`))
      .map(([key, runs]) => [Number(key.split('/')[1]), runs.length] as const)
      .sort(([a], [b]) => a - b);
    expect(Object.fromEntries(ran), 'completed exportSlice runs per slice').toEqual(
      Object.fromEntries(slices.map((s) => [s, 1])),
    );
  }

  /** Slice numbers from..to, inclusive, except those in `except`. */
  const sliceNos = (from: number, to: number, except: number[] = []) =>
    Array.from({ length: to - from + 1 }, (_, i) => from + i).filter((s) => !except.includes(s));

  it('exports 10,000 users exactly once, retries a transient slice failure, lists the permanent one, and shows progress moving', async () => {
    const exportId = await h.createExport({
      startDate: '2026-03-01',
      endDate: '2026-03-31',
      onSliceFailure: 'complete',
    });
    failOnce.add(`${exportId}/7`);
    failAlways.add(`${exportId}/42`);

    const { workflowId } = await h.client.enqueue(largeDataExport, { exportId });
    const snapshots: JobProgress[] = [];
    const handle = h.env.client.workflow.getHandle(workflowId);
    const result = handle.result();
    let finished = false;
    void result.finally(() => (finished = true)).catch(() => undefined);
    while (!finished) {
      const p = await h.client.progress(workflowId).catch(() => undefined);
      if (p) snapshots.push(p);
      await new Promise((r) => setTimeout(r, 250));
    }
    const outcome = await result;

    // Exactly once: slice 42's 100 users are missing (it failed for good); every other user appears once.
    const lost = new Set(userIds.slice(4200, 4300));
    const ids = await exportedIds(exportId);
    expect(ids.length).toBe(new Set(ids).size);
    expect(new Set(ids)).toEqual(new Set(userIds.filter((id) => !lost.has(id))));
    expect(outcome).toMatchObject({ exportId, exportedUsers: 9_900, failedSlices: [42] });

    const row = await h.database.db
      .selectFrom('exports')
      .selectAll()
      .where('id', '=', exportId)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'done', total_users: 10_000, exported_users: 9_900, failed_slices: '[42]' });
    const failedSlice = await h.database.db
      .selectFrom('export_slices')
      .select(['status', 'error'])
      .where('export_id', '=', exportId)
      .where('slice_no', '=', 42)
      .executeTakeFirstOrThrow();
    expect(failedSlice).toEqual({ status: 'failed', error: expect.stringContaining('storage rejected the write') });
    expect(attempts.get(`${exportId}/7`)).toBe(2); // failed once, retried, exported (its users are in `ids`)
    expect(attempts.get(`${exportId}/42`)).toBe(3); // every attempt failed
    expectEachSliceCompletedOnce(exportId, sliceNos(0, 99, [42]));
    expect(completions.get(`${exportId}/7`)).toEqual([2]);

    // Progress moved: several distinct counts, never backwards, ending at 100 slices.
    const counts = snapshots.map((s) => s.done + s.failed);
    expect(new Set(counts).size).toBeGreaterThan(3);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(snapshots.every((s) => s.total === 100 && s.unit === 'slices')).toBe(true);
    expect(snapshots.some((s) => s.percent > 0 && s.percent < 100 && s.etaSeconds !== undefined)).toBe(true);
  });

  it('continues-as-new when its history grows, without duplicating or skipping a slice', async () => {
    const exportId = await h.createExport({ startDate: '2026-06-15', endDate: '2026-06-15', sliceSize: 5 });

    const { workflowId, runId: firstRunId } = await h.client.enqueue(largeDataExport, { exportId });
    const outcome = await h.env.client.workflow.getHandle(workflowId).result();

    const ids = await exportedIds(exportId);
    expect(ids.length).toBe(new Set(ids).size);
    expect(new Set(ids)).toEqual(new Set(lateUserIds));
    expect(outcome).toMatchObject({ exportedUsers: 2_500, failedSlices: [] });
    expectEachSliceCompletedOnce(exportId, sliceNos(0, 499));

    // The chain of runs, read from the histories (strongly consistent; visibility may lag behind `result()`).
    const runs = await continueAsNewChain(workflowId);
    expect(runs[0]!.runId).toBe(firstRunId);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    for (const [i, run] of runs.entries()) {
      const last = run.events[run.events.length - 1]!;
      expect(run.events.length, `run ${i + 1} of ${runs.length}`).toBeLessThanOrEqual(MAX_RUN_HISTORY);
      if (i === runs.length - 1) {
        expect(last.workflowExecutionCompletedEventAttributes, `last run ${run.runId}`).toBeTruthy();
      } else {
        // It continued because its history passed the limit, and handed over to the next run of the chain.
        expect(run.events.length).toBeGreaterThan(HISTORY_EVENTS_BEFORE_CONTINUE);
        expect(last.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId, `run ${run.runId}`).toBe(
          runs[i + 1]!.runId,
        );
      }
    }
  }, 180_000);

  /** The runs of `workflowId`, first to last, following each run's `continuedExecutionRunId` back from the latest. */
  async function continueAsNewChain(
    workflowId: string,
  ): Promise<Array<{ runId: string; events: temporal.api.history.v1.IHistoryEvent[] }>> {
    const runs = [];
    let runId = (await h.env.client.workflow.getHandle(workflowId).describe()).runId;
    for (;;) {
      const { events } = await h.env.client.workflow.getHandle(workflowId, runId).fetchHistory();
      runs.unshift({ runId, events: events ?? [] });
      const previous = events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
      if (!previous) return runs;
      runId = previous;
    }
  }

  it("with on_slice_failure = 'fail', a slice that exhausts its retries fails the export", async () => {
    const exportId = await h.createExport({
      startDate: '2026-03-10',
      endDate: '2026-03-10',
      sliceSize: 2_000,
      onSliceFailure: 'fail',
    });
    failAlways.add(`${exportId}/1`);

    const { workflowId } = await h.client.enqueue(largeDataExport, { exportId });

    await expect(h.env.client.workflow.getHandle(workflowId).result()).rejects.toThrow();
    expect(await h.client.status(workflowId)).toMatchObject({
      status: 'Failed',
      failure: { type: 'ExportSlicesFailed', message: expect.stringMatching(/1 of 5 slices failed/) },
    });
    const row = await h.database.db
      .selectFrom('exports')
      .select(['status', 'error'])
      .where('id', '=', exportId)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'failed', error: expect.stringMatching(/1 of 5 slices failed/) });
  });

  it('re-enqueued after a failed run, it runs only the slice that failed, never a completed one again', async () => {
    const exportId = await h.createExport({
      startDate: '2026-03-10',
      endDate: '2026-03-10',
      sliceSize: 2_000,
      onSliceFailure: 'fail',
    });
    failAlways.add(`${exportId}/3`);
    const first = await h.client.enqueue(largeDataExport, { exportId });
    await expect(h.env.client.workflow.getHandle(first.workflowId, first.runId).result()).rejects.toThrow();
    expectEachSliceCompletedOnce(exportId, [0, 1, 2, 4]);

    // The storage recovers; the export is enqueued again: a new run of the same job.
    failAlways.delete(`${exportId}/3`);
    const second = await h.client.enqueue(largeDataExport, { exportId });
    expect(second).toMatchObject({ workflowId: first.workflowId, duplicate: false });
    expect(second.runId).not.toBe(first.runId);
    const outcome = await h.env.client.workflow.getHandle(second.workflowId, second.runId).result();

    expect(outcome).toMatchObject({ exportedUsers: 10_000, failedSlices: [] });
    expectEachSliceCompletedOnce(exportId, [0, 1, 2, 3, 4]);
    expect(completions.get(`${exportId}/3`)).toEqual([1]); // its first attempt in the second run
    const ids = await exportedIds(exportId);
    expect(ids.length).toBe(new Set(ids).size);
    expect(new Set(ids)).toEqual(new Set(userIds));
  });

  it('negative control: a completed slice run again fails the exactly-once check, though the parts still look right', async () => {
    const exportId = await h.createExport({ startDate: '2026-03-10', endDate: '2026-03-10', sliceSize: 2_000 });
    const { workflowId } = await h.client.enqueue(largeDataExport, { exportId });
    await h.env.client.workflow.getHandle(workflowId).result();
    expectEachSliceCompletedOnce(exportId, [0, 1, 2, 3, 4]);

    // What a parent starting its children with ALLOW_DUPLICATE would do: slice 2 again, under its own workflow ID.
    const slice = h.env.client.workflow.getHandle(`large-data-export/${exportId}/slice/2`);
    const { taskQueue } = await slice.describe();
    const [, range] = (
      await slice.fetchHistory()
    ).events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads!.map(
      (p) => JSON.parse(Buffer.from(p.data!).toString()) as unknown,
    );
    await h.env.client.workflow.execute(exportSliceWorkflow, {
      workflowId: slice.workflowId,
      taskQueue,
      args: [exportId, range as Parameters<typeof exportSliceWorkflow>[1]],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    });

    // The upserted parts cannot tell: every user once. Counting the slice runs can.
    const ids = await exportedIds(exportId);
    expect(ids.length).toBe(new Set(ids).size);
    expect(new Set(ids)).toEqual(new Set(userIds));
    expect(() => expectEachSliceCompletedOnce(exportId, [0, 1, 2, 3, 4])).toThrow(
      /completed exportSlice runs per slice/,
    );
  });
});
