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
import { jobStats } from '../src/client/stats';
import { noop } from './jobs';
import { capturedLogLines, createHarness, eventually, type Harness } from './harness';
import { jobctl } from './jobctl';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

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

    // Not a failure: not dead, not in the failure rate; listed as Expired, not as Failed.
    expect(await h.client.deadLetters({ job: 'noop' })).toEqual([]);
    const listed = await eventually(async () =>
      (await h.client.list({ job: 'noop', status: 'Expired' })).find((r) => r.runId === enqueued.runId),
    );
    expect(listed.status).toBe('Expired');
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
