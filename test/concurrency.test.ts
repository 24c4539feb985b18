import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Context } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobClient } from '../src/client/client';
import { SEMAPHORE_STATE_QUERY, semaphoreWorkflowId, type SemaphoreState } from '../src/sandbox/concurrency';
import { defineJob } from '../src/sandbox/job-definition';
import { taskQueueName, type Priority } from '../src/sandbox/queues';
import { concurrencyProbe, concurrencyProbeThree, generateReport } from './jobs';
import { createHarness, eventually, type Harness } from './harness';
import { activitySpans, maxOverlap, type ActivitySpan } from './history-timing';
import { startJobctlWorker, type JobctlProcess } from './jobctl';

const { PENDING_ACTIVITY_STATE_STARTED } = temporal.api.enums.v1.PendingActivityState;

/**
 * When a run's activity ran, from its history (the server's clock). `held` is scheduled (after the grant) to closed
 * (before the release): the permit covers at least that, so "at most n at once" is checked on it. `ran` is the last
 * attempt's start to the close: the work itself, so "n did run at once" is checked on it.
 */
interface Interval {
  workflowId: string;
  held: { start: number; end: number };
  ran: { start: number; end: number };
  /** Attempt of the activity that completed. */
  attempt: number;
  /** Completed activities in the run: 1 when the work was done once. */
  completions: number;
}

async function intervalOf(handle: WorkflowHandle): Promise<Interval> {
  const spans = await activitySpans(handle);
  const completed = spans.length; // the jobs here run one activity; a retried run's attempts share it
  if (completed === 0) throw new Error(`${handle.workflowId}: no closed activity in history`);
  const [first] = spans as [ActivitySpan];
  return {
    workflowId: handle.workflowId,
    held: { start: first.scheduled, end: first.closed },
    ran: { start: first.started, end: first.closed },
    attempt: first.attempt,
    completions: completed,
  };
}

/** The most runs holding a permit at one instant, and the most running their work at one instant. */
const heldAtOnce = (intervals: Interval[]) => maxOverlap(intervals.map((i) => i.held));
const ranAtOnce = (intervals: Interval[]) => maxOverlap(intervals.map((i) => i.ran));

/**
 * Waits for `done`, heartbeating: a probe held by the test longer than its 2 s heartbeat timeout (a busy production
 * stack takes longer to line the others up) must not time out and run again.
 */
async function heartbeatUntil(done: Promise<void>): Promise<void> {
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished) {
    Context.current().heartbeat();
    await Promise.race([done, new Promise((r) => setTimeout(r, 500))]);
  }
}

/** The current activity's context, or undefined outside an activity. */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/**
 * `target()` (read when used: a dependency made later), whose query builders await `before()` when they execute, before
 * they take a connection (a held query must not hold the only SQLite connection).
 */
function queriesAwaiting<T extends object>(target: () => T, before: () => Promise<void>): T {
  const wrap = (object: object): object =>
    new Proxy(object, {
      get: (o, property) => {
        const value = Reflect.get(o, property) as unknown;
        if (typeof value !== 'function') return value;
        if (String(property).startsWith('execute')) {
          return async (...args: unknown[]) => (await before(), value.apply(o, args) as unknown);
        }
        return (...args: unknown[]) => {
          const result = value.apply(o, args) as unknown;
          return result !== null && typeof result === 'object' && !(result instanceof Promise) ? wrap(result) : result;
        };
      },
    });
  return new Proxy({} as T, { get: (_, property) => Reflect.get(wrap(target()), property) as unknown });
}

const queue = (prefix: string, priority: Priority = 'default') => taskQueueName(prefix, priority);

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

describe("per-key concurrency on the test run's server", () => {
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

  /** generate-report runs whose activity is held (until the test releases it), by workflow ID. */
  const heldReports = new Map<string, () => void>();
  /** The user whose generate-report runs to hold (the rest run through), and the runs already held once. */
  let holdReportsOf: number | undefined;
  const reportsHeld = new Set<string>();
  /**
   * The example's generate-report activity has no test hook: its database is this process's, whose queries wait, before
   * they take a connection, while their activity is a held report of user `holdReportsOf` (the activity's context
   * says which run it serves); each run is held once, at its first query.
   */
  const holdReport = async () => {
    const info = activityContext()?.info;
    const workflowId = info?.workflowExecution?.workflowId ?? '';
    const held =
      info?.activityType === 'generateReport' && workflowId.startsWith(`${generateReport.name}/${holdReportsOf}/`);
    if (!held || reportsHeld.has(workflowId)) return;
    reportsHeld.add(workflowId);
    await new Promise<void>((release) => heldReports.set(workflowId, release));
  };

  beforeAll(async () => {
    h = await createHarness({
      deps: {
        onConcurrencyProbe: async (id) => {
          const g = gates.get(id);
          if (!g) return;
          g.reached();
          await heartbeatUntil(g.openP);
        },
        db: queriesAwaiting(() => h.database.db, holdReport),
      },
    });
    await h.startWorkers([
      { queue: 'default', concurrency: 30 },
      { queue: 'low', concurrency: 10 },
    ]);
  }, 60_000);
  afterAll(async () => {
    for (const g of gates.values()) g.open();
    holdReportsOf = undefined;
    for (const release of heldReports.values()) release();
    await h?.close();
  });

  const semaphoreState = (job: string, key: string, priority: Priority = 'default') =>
    h.env.client.workflow
      .getHandle(semaphoreWorkflowId(queue(h.taskQueuePrefix, priority), job, key))
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
    expect(heldAtOnce(a), 'runs of key A at once').toBe(1);
    expect(heldAtOnce(b), 'runs of key B at once').toBe(1);
    expect(ranAtOnce([...a, ...b]), 'runs of keys A and B at once').toBe(2);
    const byStart = [...a].sort((x, y) => x.held.start - y.held.start).map((i) => i.workflowId);
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
    expect(heldAtOnce(intervals), 'runs of the key holding a permit at once').toBeLessThanOrEqual(3);
    expect(ranAtOnce(intervals), 'runs of the key running at once').toBeGreaterThanOrEqual(2);
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

  it("generate-report: six reports of one user run two at a time, and another user's reports are not held up", async () => {
    expect(generateReport.concurrency?.limit, 'the limit this test proves').toBe(2);
    const [userA, userB] = [(await h.createInvoice()).userId, (await h.createInvoice()).userId];
    const report = async (userId: number, day: number) => {
      const endDate = `2026-01-${String(day).padStart(2, '0')}`;
      const args = { userId, reportType: 'monthly_sales' as const, startDate: '2026-01-01', endDate };
      const { workflowId } = await h.client.enqueue(generateReport, args);
      return h.env.client.workflow.getHandle(workflowId);
    };
    holdReportsOf = userA;
    const a: WorkflowHandle[] = [];
    for (let day = 1; day <= 6; day++) a.push(await report(userA, day));
    const b = [await report(userB, 1), await report(userB, 2)];

    // User A's reports are held until the test lets them go, two at a time: each time, exactly two hold the key's
    // permits and the others wait for one (the semaphore's state), and both of those have started their work. A limit
    // of 1 or of 3 never shows that state.
    let left = a.length;
    let wave = 0;
    while (left > 0) {
      const running = Math.min(2, left);
      let seen = 'no semaphore yet';
      await eventually(
        async () => {
          const state = await semaphoreState(generateReport.name, String(userA), 'low').catch(() => undefined);
          if (state)
            seen = `${state.holders.length} holding, ${state.waiters.length} waiting, ${heldReports.size} running`;
          const ready =
            state?.holders.length === running &&
            state.waiters.length === left - running &&
            heldReports.size === running;
          return ready ? true : undefined;
        },
        // Below the activity's 30 s start-to-close: a held attempt never times out and runs again unheld.
        25_000,
        `${running} of user ${userA}'s reports running and ${left - running} waiting for a permit`,
      ).catch((err: Error) => {
        throw new Error(`${err.message} (last seen: ${seen})`);
      });
      // Meanwhile user B's reports, on the same queue with a key of their own, run and complete.
      if (wave++ === 0) await Promise.all(b.map((w) => w.result()));
      for (const release of heldReports.values()) release();
      heldReports.clear();
      left -= running;
    }
    await Promise.all(a.map((w) => w.result()));

    const intervalsA = await Promise.all(a.map(intervalOf));
    const intervalsB = await Promise.all(b.map(intervalOf));
    expect(heldAtOnce(intervalsA), `user ${userA}'s reports at once (histories)`).toBe(2);
    expect(ranAtOnce(intervalsA), `user ${userA}'s reports running at once (histories)`).toBe(2);
    const firstRelease = Math.min(...intervalsA.map((i) => i.ran.end));
    for (const i of intervalsB) {
      expect(i.ran.end, `${i.workflowId} completed while user ${userA}'s first reports held both permits`).toBeLessThan(
        firstRelease,
      );
    }
    expect([...intervalsA, ...intervalsB].every((i) => i.completions === 1)).toBe(true);
  }, 180_000);
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
    expect(heldAtOnce(intervals), 'runs of the key at once').toBe(1);
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
