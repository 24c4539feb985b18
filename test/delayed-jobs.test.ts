import fs from 'node:fs';
import { WorkflowNotFoundError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ErrorType } from '../src/sandbox/error-types';
import { jobEventSinks } from '../src/worker/worker-instrumentation';
import { defineJob } from '../src/sandbox/job-definition';
import { expiryDeadline } from '../src/sandbox/job-expiry';
import { jobTiming, RUN_AT_TOLERANCE_MS } from '../src/sandbox/job-timing';
import { taskQueueName } from '../src/sandbox/queues';
import { jobStats } from '../src/client/stats';
import { noop, noopExpiring } from './jobs';
import { capturedLogLines, createHarness, eventually, type Harness } from './harness';
import { jobctl } from './jobctl';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

/** How late after its runAt a run whose queue has a polling worker may start (see the runAt test). */
const RUN_AT_START_TOLERANCE_MS = 3_000;

const ms = (t: HistoryEvent['eventTime']) => Number(t!.seconds) * 1000 + Math.floor((t!.nanos ?? 0) / 1e6);

async function historyOf(h: Harness, workflowId: string, runId?: string): Promise<HistoryEvent[]> {
  return (await h.env.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
}

/** Replays a run's history against the workers' bundle: throws on nondeterminism. */
async function replay(h: Harness, workflowId: string, runId: string): Promise<void> {
  const history = await h.env.client.workflow.getHandle(workflowId, runId).fetchHistory();
  await Worker.runReplayHistory(
    {
      workflowBundle: { code: fs.readFileSync(inject('workflowBundlePath'), 'utf8') },
      sinks: jobEventSinks(pino({ level: 'silent' })),
    },
    history,
    `${workflowId}-replay`,
  );
}

describe('delayed jobs', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
    await h.startWorkers();
  });
  afterAll(() => h?.close());

  it('a job enqueued with delay 5s is Scheduled, a duplicate attaches to the waiting run, its activity starts ≥ 5 s after enqueue', async () => {
    const id = `delayed-${h.unusedId()}`;
    const first = await h.client.enqueue(noop, { id }, { delay: '5s' });
    expect(first).toMatchObject({ workflowId: `noop/${id}`, duplicate: false, startsAt: expect.any(String) });

    const status = await h.client.status(first.workflowId);
    expect(status).toMatchObject({ status: 'Scheduled', runId: first.runId });
    // The server's execution time; the enqueue's startsAt is the client's now + delay, a few ms earlier.
    expect(Math.abs(Date.parse(status.startsAt!) - Date.parse(first.startsAt!))).toBeLessThan(1_000);

    const second = await h.client.enqueue(noop, { id }, { delay: '5s' });
    expect(second).toMatchObject({ workflowId: first.workflowId, runId: first.runId, duplicate: true });
    expect(second.startsAt).toBeUndefined();
    const third = await h.client.enqueue(noop, { id }); // without a delay too: the same waiting run
    expect(third).toMatchObject({ runId: first.runId, duplicate: true });

    // Visibility is eventually consistent; the run waits 5 s, so it shows up Scheduled well before it starts.
    const listed = await eventually(
      async () => (await h.client.list({ job: 'noop', status: 'Scheduled' })).find((r) => r.runId === first.runId),
      4_000,
      'the run in list --status Scheduled',
    );
    expect(listed).toMatchObject({ status: 'Scheduled', startsAt: status.startsAt });
    expect((await h.client.list({ job: 'noop', status: 'Running' })).map((r) => r.runId)).not.toContain(first.runId);

    await eventually(async () => ((await h.client.status(first.workflowId)).status === 'Completed' ? true : undefined));
    const events = await historyOf(h, first.workflowId, first.runId);
    const enqueued = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)!;
    const activityStarted = events.find((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)!;
    expect(ms(activityStarted.eventTime) - ms(enqueued.eventTime)).toBeGreaterThanOrEqual(5_000);
    expect(h.calls.get('noop')).toBeGreaterThanOrEqual(1);
    // One run for the three enqueues.
    expect(events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toHaveLength(1);
  });

  it('runAt starts the job at that time; a runAt a moment in the past starts at once', async () => {
    const id = `run-at-${h.unusedId()}`;
    const runAt = new Date(Date.now() + 60_000);
    const result = await h.client.enqueue(noop, { id }, { runAt: runAt.toISOString() });
    expect(Math.abs(Date.parse(result.startsAt!) - runAt.getTime())).toBeLessThan(50);
    expect(await h.client.status(result.workflowId)).toMatchObject({ status: 'Scheduled' });
    await h.env.client.workflow.getHandle(result.workflowId).terminate('test done');

    const now = await h.client.enqueue(noop, { id: `${id}-now` }, { runAt: new Date(Date.now() - 200) });
    expect(now.startsAt).toBeUndefined();
    await eventually(async () => ((await h.client.status(now.workflowId)).status === 'Completed' ? true : undefined));
  });

  it('a job enqueued with runAt 5 s ahead starts at runAt, not before: its first workflow task and its activity start in [runAt, runAt + 3 s]', async () => {
    const id = `run-at-start-${h.unusedId()}`;
    const runAt = new Date(Date.now() + 5_000);
    // Enqueued at the same moment without runAt, the negative control: the same check fails for it.
    const [delayed, control] = await Promise.all([
      h.client.enqueue(noop, { id }, { runAt }),
      h.client.enqueue(noop, { id: `${id}-control` }),
    ]);
    for (const run of [delayed, control]) {
      await eventually(
        async () => ((await h.client.status(run.workflowId)).status === 'Completed' ? true : undefined),
        30_000,
        `${run.workflowId} to complete`,
      );
    }
    // The server's record of when each run started (workflow code first ran), read against runAt. The server and
    // this process share the machine's clock.
    const lateness = async (run: { workflowId: string; runId: string }) => {
      const events = await historyOf(h, run.workflowId, run.runId);
      const at = (type: number) => ms(events.find((e) => e.eventType === type)!.eventTime) - runAt.getTime();
      return {
        workflow: at(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED),
        activity: at(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED),
      };
    };
    const late = await lateness(delayed);
    expect(late.workflow, 'ms from runAt to the first workflow task: not before runAt').toBeGreaterThanOrEqual(0);
    expect(late.activity, 'ms from runAt to the activity start: not before runAt').toBeGreaterThanOrEqual(0);
    // A worker polls the queue (the control run shows it), so what remains is the server's timer for the start delay
    // and the dispatch to that poller: milliseconds, 3 s on a loaded machine. A delay lost or counted twice (5 s
    // more) is far outside it.
    expect(late.workflow, 'ms from runAt to the first workflow task: within 3 s of runAt').toBeLessThanOrEqual(
      RUN_AT_START_TOLERANCE_MS,
    );
    // The control ran at once, seconds before runAt: the check above would fail for a run whose delay was ignored.
    const controlLate = await lateness(control);
    expect(controlLate.workflow, 'the control run (no runAt) started before runAt').toBeLessThan(0);
  });

  it('refuses bad timing values naming the field, before any RPC', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ delay: '-5s' }, /^delay must not be negative/],
      [{ delay: -1 }, /^delay must not be negative/],
      [{ delay: 'soon' }, /^delay must be a duration/],
      [{ delay: Number.NaN }, /^delay must be a duration/],
      [{ runAt: new Date(Date.now() - 60_000) }, /^runAt is 60 s in the past/],
      [{ runAt: 'tomorrow' }, /^runAt must be a Date or an ISO 8601 time/],
      [{ runAt: '2030-01-01T09:00:00' }, /^runAt must be a Date or an ISO 8601 time with a zone/], // no zone
      [{ runAt: new Date(Number.NaN) }, /^runAt must be a Date/],
      [{ delay: '1m', runAt: new Date(Date.now() + 60_000) }, /^delay and runAt are exclusive/],
      [{ expiresAfter: '0s' }, /^expiresAfter must be more than zero/],
      [{ expiresAfter: 'whenever' }, /^expiresAfter must be a duration/],
    ];
    for (const [options, message] of cases) {
      const id = `bad-${h.unusedId()}`;
      await expect(h.client.enqueue(noop, { id }, options as never), JSON.stringify(options)).rejects.toThrow(message);
      await expect(h.env.client.workflow.getHandle(`noop/${id}`).describe()).rejects.toThrow(WorkflowNotFoundError);
    }
    // The tolerance: "now" as the caller saw it a moment ago is not refused.
    expect(() => jobTiming({ runAt: new Date(1_000_000 - RUN_AT_TOLERANCE_MS) }, undefined, 1_000_000)).not.toThrow();
    expect(() => jobTiming({ runAt: new Date(1_000_000 - RUN_AT_TOLERANCE_MS - 1) }, undefined, 1_000_000)).toThrow(
      /^runAt is/,
    );
  });

  it('defineJob refuses a bad expiresAfter naming it', () => {
    const declare = (expiresAfter: unknown) =>
      defineJob({ ...noop, name: 'expiring-test', expiresAfter: expiresAfter as never });
    expect(() => declare('soon')).toThrow(/^job "expiring-test": expiresAfter must be a duration/);
    expect(() => declare(-5)).toThrow(/^job "expiring-test": expiresAfter must not be negative/);
    expect(declare('15m').expiresAfter).toBe('15m');
  });

  it('the deadline: the memo written at enqueue, else the start time + the declared expiresAfter', () => {
    const declared = { ...noop, expiresAfter: '2s' } as typeof noop;
    const startTime = new Date('2026-01-01T00:00:00Z');
    expect(expiryDeadline(noop, { startTime })).toBeUndefined();
    expect(expiryDeadline(declared, { startTime })).toBe(startTime.getTime() + 2000);
    expect(expiryDeadline(declared, { startTime, memo: { expiresAt: '2026-01-01T00:10:00.000Z' } })).toBe(
      Date.parse('2026-01-01T00:10:00.000Z'),
    );
    // The declared expiresAfter counts from the end of the delay.
    const timing = jobTiming({ delay: '1m' }, '2s', 1_000_000);
    expect(timing).toEqual({ startDelayMs: 60_000, dueAt: new Date(1_060_000), expiresAt: new Date(1_062_000) });
  });

  it('a job that starts before its deadline completes normally, with nothing added to its history', async () => {
    const id = `in-time-${h.unusedId()}`;
    const enqueued = await h.client.enqueue(noop, { id }, { expiresAfter: '1m' });
    const done = await eventually(async () => {
      const s = await h.client.status(enqueued.workflowId);
      return s.status === 'Completed' ? s : undefined;
    });
    expect(done.expiresAt).toBe(enqueued.expiresAt);
    const events = await historyOf(h, enqueued.workflowId, enqueued.runId);
    expect(events.some((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED)).toBe(false);
    await replay(h, enqueued.workflowId, enqueued.runId);
  });

  it('jobctl enqueue --in shows the start time; status and list --status Scheduled show it Scheduled', async () => {
    const env = { TEMPORAL_ADDRESS: inject('temporalAddress'), JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix };
    const id = `cli-${h.unusedId()}`;
    const enqueued = await jobctl(['enqueue', 'noop', JSON.stringify({ id }), '--in', '10m'], env);
    expect(enqueued).toMatchObject({ code: 0, stderr: '' });
    expect(enqueued.stdout).toMatch(/^Enqueued noop\//);
    expect(enqueued.stdout).toMatch(/starts at\s+\d{4}-\d{2}-\d{2}T/);

    const status = await jobctl(['status', `noop/${id}`], env);
    expect(status.stdout).toMatch(new RegExp(`^noop/${id}  Scheduled`));
    expect(status.stdout).toMatch(/starts at\s+\d{4}-/);
    const list = await eventually(async () => {
      const run = await jobctl(['list', '--job', 'noop', '--status', 'scheduled'], env);
      return run.stdout.includes(`noop/${id}`) ? run : undefined;
    });
    expect(list.stdout).toMatch(new RegExp(`noop/${id}\\s+Scheduled, starts at \\d{4}-`));

    const bad = await jobctl(['enqueue', 'noop', JSON.stringify({ id: `${id}-bad` }), '--in', '-5s'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--in <duration>.*must not be negative/);
    const past = await jobctl(
      ['enqueue', 'noop', JSON.stringify({ id: `${id}-bad` }), '--at', '2020-01-01T00:00Z'],
      env,
    );
    expect(past.code).not.toBe(0);
    expect(past.stderr).toMatch(/--at <time>.*in the past/);
    const both = await jobctl(
      ['enqueue', 'noop', JSON.stringify({ id: `${id}-bad` }), '--in', '1m', '--at', '2099-01-01T00:00Z'],
      env,
    );
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/--in.*cannot be used with.*--at/);
    await expect(h.env.client.workflow.getHandle(`noop/${id}-bad`).describe()).rejects.toThrow(WorkflowNotFoundError);
    await h.env.client.workflow.getHandle(`noop/${id}`).terminate('test done');
  });
});

describe('expiring jobs', () => {
  let h: Harness;
  const { logger, lines } = capturedLogLines();
  beforeAll(async () => {
    h = await createHarness({ logger });
  });
  afterAll(() => h?.close());

  it('a job not started by its deadline ends Expired without running; enqueued again it runs', async () => {
    const id = `expiring-${h.unusedId()}`;
    // No worker polls the queue yet.
    const enqueued = await h.client.enqueue(noop, { id }, { expiresAfter: '2s' });
    expect(enqueued.expiresAt).toBeDefined();
    const waitedFrom = Date.now();
    // No delay: Running while it waits for a worker, not Scheduled. (Not `status()`: its progress query would wait
    // for a worker.)
    await eventually(
      async () => (await h.client.list({ job: 'noop', status: 'Running' })).find((r) => r.runId === enqueued.runId),
      2_500,
      'the waiting run in list --status Running',
    );
    await new Promise((r) => setTimeout(r, 3_000 - (Date.now() - waitedFrom)));
    await h.startWorkers();

    const expired = await eventually(async () => {
      const s = await h.client.status(enqueued.workflowId);
      return s.status === 'Running' ? undefined : s;
    });
    expect(expired).toMatchObject({
      status: 'Expired',
      runId: enqueued.runId,
      expiresAt: enqueued.expiresAt,
      failure: { type: ErrorType.JobExpired, message: expect.stringMatching(/expired: it had not started by/) },
    });
    expect(h.calls.get('noop') ?? 0).toBe(0);
    const events = await historyOf(h, enqueued.workflowId, enqueued.runId);
    expect(events.some((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toBe(false);
    expect(lines.filter((l) => l.workflowId === enqueued.workflowId).map((l) => l.event)).toEqual(['job_expired']);
    expect(lines.find((l) => l.event === 'job_expired')).toMatchObject({
      job: 'noop',
      expires_at: enqueued.expiresAt,
      late_ms: expect.any(Number),
    });

    // Not a failure: not dead, not in the failure rate; listed as Expired, not as Failed. Visibility lags the close:
    // first wait until it lists the run in its final state, so the absences below are not just that lag.
    const listed = await eventually(
      async () => (await h.client.list({ job: 'noop', status: 'Expired' })).find((r) => r.runId === enqueued.runId),
      20_000,
      'visibility to list the run as Expired',
    );
    expect(listed.status).toBe('Expired');
    expect(await h.client.deadLetters({ job: 'noop' }), 'dead letters of noop').toEqual([]);
    expect((await h.client.list({ job: 'noop', status: 'Failed' })).map((r) => r.runId)).not.toContain(enqueued.runId);
    expect(await jobStats(h.client, { since: new Date(Date.now() - 60_000), job: 'noop' })).toEqual([
      { job: 'noop', completed: 0, failed: 0, failureRate: 0 },
    ]);

    // The expired run replays deterministically (its patch marker says it expired).
    await replay(h, enqueued.workflowId, enqueued.runId);

    // Enqueued again, the same key starts a new run, which runs.
    const again = await h.client.enqueue(noop, { id });
    expect(again).toMatchObject({ workflowId: enqueued.workflowId, duplicate: false });
    expect(again.runId).not.toBe(enqueued.runId);
    await eventually(async () => ((await h.client.status(again.workflowId)).status === 'Completed' ? true : undefined));
    expect(h.calls.get('noop')).toBe(1);
  });
});

/** noop with `expiresAfter` declared in its definition, none given at enqueue. */
const noopDeclaredExpiry = defineJob({ ...noop, name: 'noop-declared-expiry', expiresAfter: '6s' });

/**
 * Expiry end to end: runs enqueued (or started with the raw SDK client) while no worker polls, the worker started once
 * the latest one is due. The server's history says when each run was picked up (its first workflow task started), read
 * against its deadline.
 */
describe('expiry, end to end: the declared expiresAfter (with our client or without), and expiresAfter counted from the end of a delay', () => {
  let h: Harness;
  type Enqueued = Awaited<ReturnType<Harness['client']['enqueue']>>;
  let rawLate: { workflowId: string; runId: string };
  let declaredLate: Enqueued;
  let delayedLate: Enqueued;
  let delayedInTime: Enqueued;

  /**
   * Starts a run of noop-expiring as the Temporal CLI or a Schedule would: the SDK's client, the workflow type by name,
   * the job's task queue and arguments, and no memo (so no `expiresAt` from an enqueue).
   */
  async function startRaw(workflowId: string) {
    const handle = await h.env.client.workflow.start('noopExpiringWorkflow', {
      workflowId,
      taskQueue: taskQueueName(h.taskQueuePrefix, noopExpiring.queue),
      args: [{ id: workflowId }],
    });
    return { workflowId, runId: handle.firstExecutionRunId };
  }

  beforeAll(async () => {
    h = await createHarness();
    const id = h.unusedId();
    // Deadline: its start + 6 s, from noop-expiring's declaration (the worker reads it; nothing was written at start).
    rawLate = await startRaw(`raw-late-${id}`);
    // Deadline enqueue + 6 s, from the declaration.
    declaredLate = await h.client.enqueue(noopDeclaredExpiry, { id: `declared-late-${id}` });
    // Due at enqueue + 2 s, deadline 3 s later.
    delayedLate = await h.client.enqueue(noop, { id: `delayed-late-${id}` }, { delay: '2s', expiresAfter: '3s' });
    // Due at enqueue + 10 s, deadline 8 s later (enqueue + 18 s); counted from the enqueue it would be enqueue + 8 s.
    delayedInTime = await h.client.enqueue(noop, { id: `delayed-in-time-${id}` }, { delay: '10s', expiresAfter: '8s' });
    // No worker until the last one is due (the others are past their deadlines by then).
    await new Promise((r) => setTimeout(r, Date.parse(delayedInTime.startsAt!) + 500 - Date.now()));
    await h.startWorkers();
  }, 120_000);
  afterAll(() => h?.close());

  /** When the run was picked up (its first workflow task started) and when it was created, from its history. */
  async function timesOf(run: { workflowId: string; runId: string }) {
    const closed = await eventually(
      async () => {
        const s = await h.client.status(run.workflowId);
        return s.status === 'Running' || s.status === 'Scheduled' ? undefined : s;
      },
      30_000,
      `${run.workflowId} to close`,
    );
    const events = await historyOf(h, run.workflowId, run.runId);
    const at = (type: number) => ms(events.find((e) => e.eventType === type)!.eventTime);
    return {
      status: closed,
      created: at(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED),
      pickedUp: at(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED),
      ranActivity: events.some((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
      startMemo: Object.keys(events[0]?.workflowExecutionStartedEventAttributes?.memo?.fields ?? {}),
    };
  }

  it('a run started without our client (raw SDK, no memo) of a job declaring expiresAfter 6s, picked up after that, ends Expired without running', async () => {
    expect(noopExpiring).toMatchObject({ workflowType: 'noopExpiringWorkflow', expiresAfter: '6s' });
    const t = await timesOf(rawLate);
    expect(t.startMemo, 'memo fields of the started run').toEqual([]);
    // No memo: the deadline is the run's start (the server's WorkflowExecutionStarted) + the declared 6 s.
    const deadline = t.created + 6_000;
    const when = `picked up ${t.pickedUp - t.created} ms after it was created, its deadline 6000 ms after`;
    expect(t.status, when).toMatchObject({
      status: 'Expired',
      job: 'noop-expiring',
      expiresAt: new Date(deadline).toISOString(),
      failure: { type: ErrorType.JobExpired, message: expect.stringMatching(/^job "noop-expiring" expired/) },
    });
    expect(t.pickedUp, 'picked up after its deadline (the setup)').toBeGreaterThan(deadline);
    expect(t.ranActivity, 'its activity was scheduled').toBe(false);
  });

  it('the same raw start picked up within the declared 6 s runs', async () => {
    const run = await startRaw(`raw-in-time-${h.unusedId()}`);
    const t = await timesOf(run);
    expect(t.startMemo, 'memo fields of the started run').toEqual([]);
    const deadline = t.created + 6_000;
    expect(t.pickedUp, 'picked up before its deadline (a worker polls)').toBeLessThanOrEqual(deadline);
    expect(t.status).toMatchObject({ status: 'Completed', job: 'noop-expiring' });
    expect(t.ranActivity).toBe(true);
  });

  it('a job whose definition declares expiresAfter 6s, picked up after that, ends Expired without running', async () => {
    const t = await timesOf(declaredLate);
    // The deadline is the declaration's: 6 s after the enqueue (the client's clock, a moment before the server's).
    const deadline = Date.parse(declaredLate.expiresAt!);
    const when = `picked up ${t.pickedUp - t.created} ms after it was created, its deadline ${deadline - t.created} ms after`;
    expect(t.status, when).toMatchObject({ status: 'Expired', failure: { type: ErrorType.JobExpired } });
    expect(deadline - t.created, 'ms from the run created to its deadline').toBeGreaterThan(5_000);
    expect(deadline - t.created, 'ms from the run created to its deadline').toBeLessThanOrEqual(6_000);
    expect(t.pickedUp, 'picked up after its deadline (the setup)').toBeGreaterThan(deadline);
    expect(t.ranActivity, 'its activity was scheduled').toBe(false);
  });

  it('the same job picked up within its declared 6 s runs', async () => {
    const run = await h.client.enqueue(noopDeclaredExpiry, { id: `declared-in-time-${h.unusedId()}` });
    const t = await timesOf(run);
    const deadline = Date.parse(run.expiresAt!);
    expect(deadline - t.created, 'ms from the run created to its deadline').toBeLessThanOrEqual(6_000);
    expect(t.pickedUp, 'picked up before its deadline (a worker polls)').toBeLessThanOrEqual(deadline);
    expect(t.status.status).toBe('Completed');
    expect(t.ranActivity).toBe(true);
  });

  it('delay 10s, expiresAfter 8s, picked up after the delay and after enqueue + 8 s but before delay + 8 s: runs', async () => {
    const t = await timesOf(delayedInTime);
    const due = Date.parse(delayedInTime.startsAt!);
    const deadline = Date.parse(delayedInTime.expiresAt!);
    const when = `picked up ${t.pickedUp - due} ms after it was due, its deadline ${deadline - due} ms after`;
    expect(t.status.status, when).toBe('Completed');
    expect(t.ranActivity).toBe(true);
    expect(deadline - due, 'the deadline counts from the end of the delay').toBe(8_000);
    expect(t.pickedUp, 'picked up after the delay (the setup)').toBeGreaterThan(due);
    // Counted from the enqueue instead, the deadline would be behind it: this run shows where it counts from.
    expect(t.pickedUp - t.created, 'ms from the run created to its pick-up: past expiresAfter').toBeGreaterThan(8_000);
    expect(
      t.pickedUp,
      'picked up before delay + expiresAfter (else the machine was too slow for the setup)',
    ).toBeLessThan(deadline);
  });

  it('delay 2s, expiresAfter 3s, not picked up by delay + 3 s: ends Expired without running', async () => {
    const t = await timesOf(delayedLate);
    const due = Date.parse(delayedLate.startsAt!);
    const deadline = Date.parse(delayedLate.expiresAt!);
    const when = `picked up ${t.pickedUp - due} ms after it was due, its deadline ${deadline - due} ms after`;
    expect(t.status, when).toMatchObject({ status: 'Expired', failure: { type: ErrorType.JobExpired } });
    expect(deadline - due, 'the deadline counts from the end of the delay').toBe(3_000);
    expect(t.pickedUp, 'picked up after delay + expiresAfter (the setup)').toBeGreaterThan(deadline);
    expect(t.ranActivity, 'its activity was scheduled').toBe(false);
  });
});
