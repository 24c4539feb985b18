import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobClient } from '../src/client/client';
import { SEMAPHORE_STATE_QUERY, semaphoreWorkflowId, type SemaphoreState } from '../src/sandbox/concurrency';
import { defineJob } from '../src/sandbox/job-definition';
import { taskQueueName } from '../src/sandbox/queues';
import { concurrencyProbe, concurrencyProbeThree, generateReport } from './jobs';
import { createHarness, eventually, type Harness } from './harness';
import { startJobctlWorker, type JobctlProcess } from './jobctl';

const { PENDING_ACTIVITY_STATE_STARTED } = temporal.api.enums.v1.PendingActivityState;

/** When a run's activity was running, from its history: scheduled (after the grant) to completed (before the release). */
interface Interval {
  workflowId: string;
  start: number;
  end: number;
  /** Attempt of the activity that completed. */
  attempt: number;
  /** Completed activities in the run: 1 when the work was done once. */
  completions: number;
}

async function intervalOf(handle: WorkflowHandle): Promise<Interval> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes);
  const started = events.find((e) => e.activityTaskStartedEventAttributes);
  const completed = events.filter((e) => e.activityTaskCompletedEventAttributes);
  if (!scheduled || completed.length === 0) throw new Error(`${handle.workflowId}: no completed activity in history`);
  return {
    workflowId: handle.workflowId,
    start: tsToMs(scheduled.eventTime),
    end: tsToMs(completed[0]!.eventTime),
    attempt: started?.activityTaskStartedEventAttributes?.attempt ?? 0,
    completions: completed.length,
  };
}

/** The most intervals open at one instant (an interval ending when another starts does not overlap it). */
function maxOverlap(intervals: Interval[]): number {
  const points = intervals.flatMap((i) => [
    { at: i.start, delta: 1 },
    { at: i.end, delta: -1 },
  ]);
  points.sort((a, b) => a.at - b.at || a.delta - b.delta); // ends before starts at the same instant
  let open = 0;
  let max = 0;
  for (const p of points) max = Math.max(max, (open += p.delta));
  return max;
}

const queue = (prefix: string) => taskQueueName(prefix, 'default');

describe('per-key concurrency: the declaration', () => {
  const base = {
    name: 'limited',
    description: 'x',
    workflow: async function limitedWorkflow() {},
    queue: 'default' as const,
    args: concurrencyProbe.args,
    idempotencyKey: ({ id }: { id: string }) => id,
  };

  it('refuses a bad concurrency declaration, naming the field', () => {
    const bad = (concurrency: unknown) => () => defineJob({ ...base, concurrency: concurrency as never });
    expect(bad({ key: () => 'k', limit: 0 })).toThrow('job "limited": concurrency.limit must be a positive integer');
    expect(bad({ key: () => 'k', limit: 1.5 })).toThrow('concurrency.limit must be a positive integer');
    expect(bad({ key: 'k', limit: 1 })).toThrow('concurrency.key must be a function');
    expect(bad({ key: () => 'k', limit: 1, lease: '100ms' })).toThrow('concurrency.lease must be at least 1 s');
    expect(bad({ key: () => 'k', limit: 1, lease: 'soon' })).toThrow('concurrency.lease must be a duration');
    expect(bad({ key: () => 'k', limit: 1, limt: 2 })).toThrow('concurrency.limt is not a concurrency field');
    expect(bad({ key: () => 'k', limit: 2, lease: '30s' })()).toMatchObject({ concurrency: { limit: 2 } });
  });
});

describe('per-key concurrency against the dev server', () => {
  let h: Harness;
  /** Gates of probe activities by id: a probe whose id is here holds its permit until the test resolves it. */
  const gates = new Map<
    string,
    { reached: () => void; reachedP: Promise<void>; open: () => void; openP: Promise<void> }
  >();
  const gate = (id: string) => {
    let reached!: () => void;
    let open!: () => void;
    const reachedP = new Promise<void>((r) => (reached = r));
    const openP = new Promise<void>((r) => (open = r));
    const g = { reached, reachedP, open, openP };
    gates.set(id, g);
    return g;
  };

  beforeAll(async () => {
    h = await createHarness({
      deps: {
        onConcurrencyProbe: async (id) => {
          const g = gates.get(id);
          if (!g) return;
          g.reached();
          await g.openP;
        },
      },
    });
    await h.startWorkers([{ queue: 'default', concurrency: 30 }]);
  }, 60_000);
  afterAll(async () => {
    for (const g of gates.values()) g.open();
    await h?.close();
  });

  const semaphoreState = (job: string, key: string) =>
    h.env.client.workflow
      .getHandle(semaphoreWorkflowId(queue(h.taskQueuePrefix), job, key))
      .query<SemaphoreState>(SEMAPHORE_STATE_QUERY);

  it('limit 1: 20 runs of one key never overlap and start in enqueue order, while 20 of another key run beside them', async () => {
    const run = randomUUID().slice(0, 8);
    const [keyA, keyB] = [`a-${run}`, `b-${run}`];
    const first = gate(`${keyA}-0`);
    const handles = new Map<string, WorkflowHandle[]>([
      [keyA, []],
      [keyB, []],
    ]);
    const enqueue = async (key: string, i: number) => {
      const { workflowId } = await h.client.enqueue(concurrencyProbe, { id: `${key}-${i}`, key, holdMs: 100 });
      handles.get(key)!.push(h.env.client.workflow.getHandle(workflowId));
      await new Promise((r) => setTimeout(r, 2)); // distinct enqueue times
    };
    // The first run of key A holds its permit until every other run of A is waiting: then the order is the line's.
    await enqueue(keyA, 0);
    await first.reachedP;
    for (let i = 1; i < 20; i++) {
      await enqueue(keyA, i);
      await enqueue(keyB, i - 1);
    }
    await enqueue(keyB, 19);
    await eventually(
      async () => ((await semaphoreState(concurrencyProbe.name, keyA)).waiters.length === 19 ? true : undefined),
      30_000,
      'the other 19 runs of key A to wait in line',
    );
    first.open();

    const a = await Promise.all(handles.get(keyA)!.map(async (w) => (await w.result(), intervalOf(w))));
    const b = await Promise.all(handles.get(keyB)!.map(async (w) => (await w.result(), intervalOf(w))));
    expect(maxOverlap(a), 'runs of key A at once').toBe(1);
    expect(maxOverlap(b), 'runs of key B at once').toBe(1);
    expect(maxOverlap([...a, ...b]), 'runs of keys A and B at once').toBe(2);
    const byStart = [...a].sort((x, y) => x.start - y.start).map((i) => i.workflowId);
    expect(byStart, 'key A ran in enqueue order').toEqual(a.map((i) => i.workflowId));
    expect([...a, ...b].every((i) => i.completions === 1)).toBe(true);
  }, 120_000);

  it('limit 3: at most 3 runs of one key overlap, and more than one does', async () => {
    const key = `three-${randomUUID().slice(0, 8)}`;
    const handles: WorkflowHandle[] = [];
    for (let i = 0; i < 20; i++) {
      const { workflowId } = await h.client.enqueue(concurrencyProbeThree, { id: `${key}-${i}`, key, holdMs: 400 });
      handles.push(h.env.client.workflow.getHandle(workflowId));
    }
    const intervals = await Promise.all(handles.map(async (w) => (await w.result(), intervalOf(w))));
    const overlap = maxOverlap(intervals);
    expect(overlap).toBeLessThanOrEqual(3);
    expect(overlap).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('a holder terminated without releasing: the semaphore takes its permit back at its lease check, the next runs', async () => {
    const key = `lost-${randomUUID().slice(0, 8)}`;
    const holder = gate(`${key}-0`);
    const { workflowId: first } = await h.client.enqueue(concurrencyProbe, { id: `${key}-0`, key, holdMs: 0 });
    await holder.reachedP;
    const { workflowId: second } = await h.client.enqueue(concurrencyProbe, { id: `${key}-1`, key, holdMs: 0 });
    await eventually(
      async () => ((await semaphoreState(concurrencyProbe.name, key)).waiters.length === 1 ? true : undefined),
      30_000,
      'the second run to wait',
    );
    await h.env.client.workflow.getHandle(first).terminate('test: a holder that never releases');
    await h.env.client.workflow.getHandle(second).result();
    const state = await semaphoreState(concurrencyProbe.name, key).catch(() => undefined);
    const history = await h.env.client.workflow
      .getHandle(semaphoreWorkflowId(queue(h.taskQueuePrefix), concurrencyProbe.name, key))
      .fetchHistory();
    // The permit came back through the lease check (a local activity's marker), not through a release signal.
    const releases = (history.events ?? []).filter(
      (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'durable-jobs.concurrency.release',
    );
    expect(releases.map((e) => e.workflowExecutionSignaledEventAttributes?.input)).toHaveLength(1); // the second's
    expect(state === undefined || state.reclaimed === 1).toBe(true);
    holder.open();
  }, 60_000);

  it('a run cancelled while waiting leaves the line; the others still run', async () => {
    const key = `cancel-${randomUUID().slice(0, 8)}`;
    const holder = gate(`${key}-0`);
    const ids = [0, 1, 2].map((i) => `${key}-${i}`);
    const runs: string[] = [];
    runs.push((await h.client.enqueue(concurrencyProbe, { id: ids[0]!, key, holdMs: 0 })).workflowId);
    await holder.reachedP;
    runs.push((await h.client.enqueue(concurrencyProbe, { id: ids[1]!, key, holdMs: 0 })).workflowId);
    runs.push((await h.client.enqueue(concurrencyProbe, { id: ids[2]!, key, holdMs: 0 })).workflowId);
    await eventually(
      async () => ((await semaphoreState(concurrencyProbe.name, key)).waiters.length === 2 ? true : undefined),
      30_000,
      'two runs to wait',
    );
    await h.client.cancel(runs[1]!);
    await eventually(
      async () => ((await semaphoreState(concurrencyProbe.name, key)).waiters.length === 1 ? true : undefined),
      30_000,
      'the cancelled run to leave the line',
    );
    holder.open();
    await h.env.client.workflow.getHandle(runs[0]!).result();
    await h.env.client.workflow.getHandle(runs[2]!).result();
    expect((await h.client.status(runs[1]!)).status).toBe('Canceled');
  }, 60_000);

  it('a real job declares it: generate-report runs at most two reports of one user at once', async () => {
    expect(generateReport.concurrency?.limit).toBe(2);
    expect(generateReport.concurrency?.key({ userId: 7 } as never)).toBe('7');
  });
});

/**
 * Worker processes sharing one server, as in production: SIGKILL of the process running the permit holder's activity
 * mid-job. The holder's run is not dead: its activity attempt times out (heartbeat) and runs again on the survivor, and
 * the run gives its permit back when it closes. Nothing overlaps, every job completes once, none waits forever.
 */
describe('per-key concurrency with worker processes', () => {
  let dir: string;
  let env: TestWorkflowEnvironment;
  let client: JobClient;
  const workers: JobctlProcess[] = [];
  const prefix = `test-${randomUUID()}`;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-concurrency-'));
    env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
    client = new JobClient({ client: env.client, taskQueuePrefix: prefix });
    const workerEnv = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: prefix,
      JOBS_SQLITE_PATH: path.join(dir, 'app.sqlite'),
    };
    workers.push(...(await Promise.all([1, 2].map(() => startJobctlWorker('default:5', workerEnv)))));
  }, 90_000);
  afterAll(async () => {
    for (const w of workers) void w.stop('SIGKILL');
    await env?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('kill -9 of the worker running the permit holder: every job completes once, in turn, none waits forever', async () => {
    const key = `kill-${randomUUID().slice(0, 8)}`;
    const handles: WorkflowHandle[] = [];
    for (let i = 0; i < 6; i++) {
      const { workflowId } = await client.enqueue(concurrencyProbe, { id: `${key}-${i}`, key, holdMs: 1500 });
      handles.push(env.client.workflow.getHandle(workflowId));
    }
    // The run whose activity is running now holds the key's only permit; find the process running it.
    const { victim, holder } = await eventually(
      async () => {
        for (const handle of handles) {
          const { raw } = await handle.describe();
          const activity = raw.pendingActivities?.find((a) => a.state === PENDING_ACTIVITY_STATE_STARTED);
          const victim = workers.find((w) => `${w.child.pid}@${os.hostname()}` === activity?.lastWorkerIdentity);
          if (victim) return { victim, holder: handle.workflowId };
        }
        return undefined;
      },
      60_000,
      'a worker to run the permit holder',
    );
    victim.child.kill('SIGKILL');
    await victim.exited;

    const intervals = await Promise.all(handles.map(async (w) => (await w.result(), intervalOf(w))));
    expect(maxOverlap(intervals), 'runs of the key at once').toBe(1);
    expect(intervals.every((i) => i.completions === 1)).toBe(true);
    const killed = intervals.find((i) => i.workflowId === holder)!;
    expect(killed.attempt, `${holder}'s activity ran again after the kill`).toBeGreaterThan(1);
    const state = await env.client.workflow
      .getHandle(semaphoreWorkflowId(queue(prefix), concurrencyProbe.name, key))
      .query<SemaphoreState>(SEMAPHORE_STATE_QUERY)
      .catch(() => undefined);
    expect(state === undefined || (state.holders.length === 0 && state.waiters.length === 0)).toBe(true);
  }, 180_000);
});
