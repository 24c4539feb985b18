import type { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { largeDataExport, SLICES_IN_FLIGHT } from './jobs';
import type { JobProgress } from '../src/sandbox/progress';
import { capturedLogLines, createHarness, type Harness } from './harness';

type Event = temporal.api.history.v1.IHistoryEvent;

/**
 * A continue-as-new chain is one job to its user: one start line and one end line (with the whole chain's duration),
 * and one progress query that keeps counting across runs. 2,500 users in slices of 5 are 500 child workflows: the
 * parent continues-as-new once (about 400 slices per run). The same histories show the fan-out bound.
 */
describe('large-data-export across a continue-as-new chain', () => {
  let h: Harness;
  const { logger, lines } = capturedLogLines();
  let workflowId: string;
  let runs: Array<{ runId: string; events: Event[] }>;
  const snapshots: Array<{ runId: string; progress: JobProgress }> = [];

  beforeAll(async () => {
    h = await createHarness({ logger });
    await h.createUsers(2_500, '2026-06-15');
    await h.startWorkers(['low']);
    const exportId = await h.createExport({ startDate: '2026-06-15', endDate: '2026-06-15', sliceSize: 5 });
    ({ workflowId } = await h.client.enqueue(largeDataExport, { exportId }));

    // Ask for progress the way jobctl does (by workflow ID: the latest run answers) until the chain completes. A
    // snapshot is attributed to a run only when that run was the latest both before and after the query.
    const handle = h.env.client.workflow.getHandle(workflowId);
    let finished = false;
    const result = handle.result().finally(() => (finished = true));
    while (!finished) {
      const before = (await handle.describe()).runId;
      const progress = await h.client.progress(workflowId).catch(() => undefined);
      const after = (await handle.describe()).runId;
      if (progress && before === after) snapshots.push({ runId: before, progress });
      await new Promise((r) => setTimeout(r, 100));
    }
    await result;
    // And once closed: the last run still answers (a worker replays it), so the chain's last run is always heard from,
    // however short it was next to the polling above on a busy machine.
    const last = (await handle.describe()).runId;
    const final = await h.client.progress(workflowId);
    if (final) snapshots.push({ runId: last, progress: final });
    runs = await chain(workflowId);
  }, 240_000);
  afterAll(() => h?.close());

  it('continued-as-new at least once (the premise of the tests below)', () => {
    expect(runs.length).toBeGreaterThanOrEqual(2);
  });

  it('logs one job_started (first run) and one job_succeeded (last run, the whole chain’s duration)', () => {
    const jobLines = lines.filter((l) => l.workflowId === workflowId && String(l.event).startsWith('job_'));
    expect(jobLines.map((l) => l.event)).toEqual(['job_started', 'job_succeeded']);
    expect(jobLines[0]!.runId).toBe(runs[0]!.runId);
    expect(jobLines[1]!.runId).toBe(runs[runs.length - 1]!.runId);

    const time = (e: Event) => Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);
    const chainStart = time(runs[0]!.events[0]!);
    const lastRun = runs[runs.length - 1]!.events;
    // From the chain's start: at least up to the last run's start, at most to its close. The last run alone is
    // shorter than the first (about 50 slices against 450), so a per-run duration fails the lower bound.
    expect(jobLines[1]!.duration_ms as number).toBeGreaterThanOrEqual(time(lastRun[0]!) - chainStart);
    expect(jobLines[1]!.duration_ms as number).toBeLessThanOrEqual(time(lastRun[lastRun.length - 1]!) - chainStart);
  });

  it('the progress query answers across the chain: the total stays, the count never goes back', () => {
    const runIds = runs.map((r) => r.runId);
    const seen = new Set(snapshots.map((s) => s.runId));
    expect(seen.has(runIds[0]!)).toBe(true);
    expect(runIds.slice(1).some((id) => seen.has(id))).toBe(true);
    expect(snapshots.every((s) => s.progress.total === 500 && s.progress.unit === 'slices')).toBe(true);
    const done = snapshots.map((s) => s.progress.done);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    // A later run took up the count where the first left it: at least the slices the first run saw completed (about
    // 400; how many fit in a run depends on how the server batches completions into workflow tasks).
    const firstRunDone = runs[0]!.events.filter((e) => e.childWorkflowExecutionCompletedEventAttributes).length;
    expect(firstRunDone).toBeGreaterThan(300);
    const laterRun = snapshots.find((s) => s.runId !== runIds[0]);
    expect(laterRun!.progress.done).toBeGreaterThanOrEqual(firstRunDone);
  });

  it(`runs at most ${SLICES_IN_FLIGHT} slices at once, and does reach ${SLICES_IN_FLIGHT}`, () => {
    let most = 0;
    for (const { events } of runs) {
      let inFlight = 0;
      for (const e of events) {
        if (e.startChildWorkflowExecutionInitiatedEventAttributes) inFlight++;
        if (
          e.childWorkflowExecutionCompletedEventAttributes ||
          e.childWorkflowExecutionFailedEventAttributes ||
          e.childWorkflowExecutionTimedOutEventAttributes ||
          e.childWorkflowExecutionCanceledEventAttributes ||
          e.childWorkflowExecutionTerminatedEventAttributes ||
          e.startChildWorkflowExecutionFailedEventAttributes
        )
          inFlight--;
        most = Math.max(most, inFlight);
      }
    }
    expect(most).toBe(SLICES_IN_FLIGHT);
  });

  /** The runs of `workflowId`, first to last, from each run's own history (visibility may lag behind `result()`). */
  async function chain(id: string): Promise<Array<{ runId: string; events: Event[] }>> {
    const out = [];
    let runId = (await h.env.client.workflow.getHandle(id).describe()).runId;
    for (;;) {
      const { events } = await h.env.client.workflow.getHandle(id, runId).fetchHistory();
      out.unshift({ runId, events: events ?? [] });
      const previous = events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
      if (!previous) return out;
      runId = previous;
    }
  }
});
