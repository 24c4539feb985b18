import { randomUUID } from 'node:crypto';
import type { WorkflowClient } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEBOUNCE_SIGNAL, type DebounceState } from '../src/sandbox/debounce';
import { defineJob } from '../src/sandbox/job-definition';
import { noop, noopWorkflow } from './jobs';
import { createHarness, eventually, type Harness } from './harness';
import { eventMs } from './history-timing';

/**
 * Debounced jobs, declared here only: noop's workflow and arguments (ids `<debounce key>:<n>`), so no job of the
 * registry changes. The debounce workflow starts each run as noop (same workflow type), which reports its id.
 */
const debouncedNoop = defineJob({
  name: 'debounced-noop',
  description: 'noop, debounced by the key before the colon of its id',
  workflow: noopWorkflow,
  queue: 'default',
  args: noop.args,
  idempotencyKey: ({ id }) => id,
  enqueueOverHttp: false,
  // maxWait far beyond the burst: the burst below is one window however slowly this machine enqueues.
  debounce: { key: ({ id }) => id.slice(0, id.indexOf(':')), period: '1s', maxWait: '60s' },
});
const STREAMED_MAX_WAIT_MS = 2000;
const streamedNoop = defineJob({
  ...debouncedNoop,
  name: 'streamed-noop',
  debounce: { ...debouncedNoop.debounce!, maxWait: STREAMED_MAX_WAIT_MS },
});
/**
 * How much later than maxWait after a window's first enqueue (as the server recorded the signal) its run may start:
 * the debounce workflow opens the window in the workflow task that handles that signal, and starts the run in the
 * workflow task after its timer fires; the server records the child's start after that. Three dispatches on a busy
 * machine, well under half a maxWait: a maxWait twice the declared one still fails.
 */
const WINDOW_SLACK_MS = 1000;

/** A debounce window as the debounce workflow's histories show it: its enqueues' times and its run's start. */
interface DebounceWindow {
  enqueues: number[];
  /** From the window's first enqueue to its run's start (ChildWorkflowExecutionStarted). */
  ranAfterMs: number;
}

/**
 * The windows of debounce workflow `workflowId`, from the histories of all its runs (it completes between windows when
 * no enqueue is waiting; the next enqueue starts a new run), once the `enqueues` signals sent to it are all there and
 * every window has run. An enqueue signal recorded after the event starting a window's run opens the next window.
 */
async function debounceWindows(
  workflows: WorkflowClient,
  workflowId: string,
  enqueues: number,
): Promise<{ windows: DebounceWindow[]; enqueues: number[] }> {
  return eventually(
    async () => {
      const runs = [];
      for await (const run of workflows.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(run);
      runs.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
      const windows: DebounceWindow[] = [];
      let open: number[] = [];
      for (const run of runs) {
        const events = (await workflows.getHandle(workflowId, run.runId).fetchHistory()).events ?? [];
        let starting: number[] | undefined;
        for (const event of events) {
          if (event.workflowExecutionSignaledEventAttributes?.signalName === DEBOUNCE_SIGNAL) open.push(eventMs(event));
          if (event.startChildWorkflowExecutionInitiatedEventAttributes) [starting, open] = [open, []];
          if (event.childWorkflowExecutionStartedEventAttributes && starting) {
            windows.push({ enqueues: starting, ranAfterMs: eventMs(event) - starting[0]! });
            starting = undefined;
          }
        }
      }
      const all = windows.flatMap((w) => w.enqueues);
      return all.length === enqueues && open.length === 0 ? { windows, enqueues: all } : undefined;
    },
    30_000,
    `the ${enqueues} enqueues of ${workflowId} in its histories, each window run`,
  );
}

/** A quiet period long enough to look at the open window however loaded this machine is. */
const slowNoop = defineJob({
  ...debouncedNoop,
  name: 'slow-noop',
  debounce: { ...debouncedNoop.debounce!, period: '5s' },
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('debounce', () => {
  let h: Harness;
  /** Ids of the noop runs, in the order they started. */
  const started: string[] = [];
  const runsOf = (key: string) => started.filter((id) => id.startsWith(`${key}:`));

  beforeAll(async () => {
    h = await createHarness({ deps: { onNoopStarted: (id) => started.push(id) } });
    await h.startWorkers(['default']);
  });
  afterAll(() => h?.close());

  it('50 enqueues of one key within 2 s give one run, with the last arguments', async () => {
    const key = randomUUID();
    const results = [];
    for (let i = 0; i < 50; i++) {
      results.push(await h.client.enqueue(debouncedNoop, { id: `${key}:${i}` }));
      await sleep(30);
    }
    const workflowId = `debounced-noop/debounce/${key}`;
    for (const r of results) expect(r).toMatchObject({ workflowId, debounced: true, duplicate: false });

    const state = await h.env.client.workflow.getHandle<() => Promise<DebounceState>>(workflowId).result();
    expect(state.runs).toHaveLength(1);
    expect(state.runs[0]).toMatchObject({
      enqueues: 50,
      workflowId: expect.stringMatching(new RegExp(`^debounced-noop/${key}:49/debounced/\\d{4}-`)),
    });
    await h.env.client.workflow.getHandle(state.runs[0]!.workflowId).result();
    expect(runsOf(key)).toEqual([`${key}:49`]);
    // The run is the job's own: its workflow type, its status under its workflow ID.
    expect(await h.client.status(state.runs[0]!.workflowId)).toMatchObject({ job: 'noop', status: 'Completed' });
  });

  it('a steady stream past the maximum wait runs at least every maxWait, in order, and its last enqueue is not lost', async () => {
    const key = randomUUID();
    // One enqueue every ~100 ms for ~10 s: never quiet for the 1 s period, five times the 2 s maximum wait.
    let count = 0;
    for (const until = Date.now() + 10_000; Date.now() < until; count++) {
      await h.client.enqueue(streamedNoop, { id: `${key}:${count}` });
      await sleep(100);
    }

    // After the stream, the last window runs with the last arguments.
    await eventually(
      async () => (runsOf(key).includes(`${key}:${count - 1}`) ? true : undefined),
      30_000,
      'the run of the last enqueue',
    );
    const order = runsOf(key).map((id) => Number(id.slice(id.indexOf(':') + 1)));
    expect(order.length).toBeLessThan(count / 2); // collapsed: windows, not enqueues
    expect(order).toEqual([...order].sort((a, b) => a - b)); // each run has a later enqueue's arguments
    expect(new Set(order).size).toBe(order.length);

    // The maximum wait, from the debounce workflow's histories: each window ran at most maxWait after its first enqueue.
    const { windows, enqueues } = await debounceWindows(
      h.env.client.workflow,
      `${streamedNoop.name}/debounce/${key}`,
      count,
    );
    const report = windows.map((w) => `${w.ranAfterMs} ms`).join(', ');
    for (const w of windows) {
      expect(w.ranAfterMs, `window's first enqueue to its run (windows: ${report})`).toBeLessThanOrEqual(
        STREAMED_MAX_WAIT_MS + WINDOW_SLACK_MS,
      );
    }
    // And that is not vacuous: the stream, as the server recorded it, lasted several maxWait, so it took at least this
    // many windows. A window opens at the first enqueue after the previous run started (at most the stream's largest
    // gap later) and runs at most maxWait + slack after it opened; the last enqueue is in a window that ran after it.
    const streamMs = enqueues.at(-1)! - enqueues[0]!;
    const largestGapMs = Math.max(...enqueues.slice(1).map((t, i) => t - enqueues[i]!));
    expect(streamMs, 'the stream, from its first enqueue to its last').toBeGreaterThanOrEqual(4 * STREAMED_MAX_WAIT_MS);
    const step = STREAMED_MAX_WAIT_MS + WINDOW_SLACK_MS + largestGapMs;
    const atLeast = Math.floor((streamMs - STREAMED_MAX_WAIT_MS - WINDOW_SLACK_MS) / step) + 1;
    expect(windows.length, `runs of a ${streamMs} ms stream (windows: ${report})`).toBeGreaterThanOrEqual(atLeast);
    expect(windows.length, 'runs in the histories and runs of the job').toBe(order.length);
  });

  it('the debounce workflow tells its open window; an enqueue after its run started opens the next one', async () => {
    const key = randomUUID();
    const workflowId = `slow-noop/debounce/${key}`;
    await h.client.enqueue(slowNoop, { id: `${key}:1` });
    await h.client.enqueue(slowNoop, { id: `${key}:2` });
    const open = await h.env.client.workflow.getHandle(workflowId).query<DebounceState>('debounce.state');
    expect(open.open).toMatchObject({ enqueues: 2 });
    expect(open.runs).toEqual([]);
    await eventually(async () => (runsOf(key).length === 1 ? true : undefined), 30_000, 'the first run');

    await h.client.enqueue(slowNoop, { id: `${key}:3` });
    await eventually(async () => (runsOf(key).length === 2 ? true : undefined), 30_000, 'the second run');
    expect(runsOf(key)).toEqual([`${key}:2`, `${key}:3`]);
  });

  it('refuses bad declarations and start delays, naming the field', async () => {
    const base = { ...debouncedNoop, name: 'bad-debounce' };
    const key = ({ id }: { id: string }) => id;
    expect(() => defineJob({ ...base, debounce: { key, period: '5ms' } })).toThrow(
      'job "bad-debounce": debounce.period must be at least 10 ms, got 5',
    );
    expect(() => defineJob({ ...base, debounce: { key, period: '10s', maxWait: '5s' } })).toThrow(
      'job "bad-debounce": debounce.maxWait must be at least the period (10000 ms), got 5000 ms',
    );
    expect(() => defineJob({ ...base, debounce: { key, period: 'soon' } })).toThrow(
      /^job "bad-debounce": debounce\.period must be a duration like/,
    );
    expect(() => defineJob({ ...base, debounce: { key: 'id' as never, period: '1s' } })).toThrow(
      'job "bad-debounce": debounce.key must be a function of the arguments returning the key',
    );
    await expect(h.client.enqueue(debouncedNoop, { id: 'k:1' }, { delay: '1m' })).rejects.toThrow(
      /^delay does not apply to job "debounced-noop": it is debounced/,
    );
    await expect(h.client.enqueue(debouncedNoop, { id: ':1' })).rejects.toThrow(
      /debounce key of job "debounced-noop" must be a non-empty string/,
    );
  });
});
