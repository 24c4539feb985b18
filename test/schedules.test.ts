import { ScheduleOverlapPolicy, type ScheduleHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defineJob } from '../src/sandbox/job-definition';
import { taskQueueName } from '../src/sandbox/queues';
import {
  listSchedules,
  pauseSchedule,
  scheduleIdFor,
  scheduleOwner,
  syncSchedules,
  triggerSchedule,
  unpauseSchedule,
} from '../src/client/schedules';
import type { DeclaredJob } from '../src/sandbox/job-definition';
import { noop } from './jobs';
import { createHarness, eventually, type Harness } from './harness';
import { jobctl } from './jobctl';
import { JOB_KEY, JOB_NAME } from '../src/sandbox/search-attributes';

const TIME = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ';

/** Recurring jobs: a job's `schedule` declaration compiled to a Temporal Schedule this deployment owns. */
describe('declared schedules', () => {
  let h: Harness;
  const everyTwoSeconds: DeclaredJob<{ id: string }> = { ...noop, schedule: { every: '2s', args: { id: 'tick' } } };

  beforeAll(async () => {
    h = await createHarness();
    await h.startWorkers(['default']);
  });
  afterAll(async () => {
    // Whatever a failed test left behind: this deployment's Schedules, and the foreign one.
    for (const id of [scheduleIdFor(h.taskQueuePrefix, 'noop'), `${h.taskQueuePrefix}-hand-made`]) {
      await h.env.client.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined);
    }
    await h?.close();
  });

  /** Workflow IDs of the completed runs of `noop` on this harness's queue. */
  async function completedRuns(): Promise<string[]> {
    const ids: string[] = [];
    const query =
      `WorkflowType = '${noop.workflowType}' AND TaskQueue = '${taskQueueName(h.taskQueuePrefix, 'default')}' ` +
      `AND ExecutionStatus = 'Completed'`;
    for await (const run of h.env.client.workflow.list({ query })) ids.push(run.workflowId);
    return ids;
  }

  it('runs an `every: 2s` job at least twice in 7 s after sync, one run per tick under <job>/<prefix>-scheduled-<time>', async () => {
    const scheduleId = scheduleIdFor(h.taskQueuePrefix, 'noop');
    const report = await syncSchedules(h.client, [everyTwoSeconds]);
    expect(report).toEqual({ created: [{ job: 'noop', scheduleId }], updated: [], deleted: [], unchanged: [] });
    const synced = Date.now();

    const handle = h.env.client.schedule.getHandle(scheduleId);
    const description = await handle.describe();
    expect(description.memo).toMatchObject({ managedBy: scheduleOwner(h.taskQueuePrefix), job: 'noop' });
    expect(description.spec.intervals).toMatchObject([{ every: 2000 }]);
    expect(description.action).toMatchObject({
      workflowType: noop.workflowType,
      taskQueue: taskQueueName(h.taskQueuePrefix, 'default'),
      args: [{ id: 'tick' }],
    });

    await new Promise((r) => setTimeout(r, Math.max(0, synced + 7000 - Date.now())));
    const { info } = await handle.describe();
    // Ticks at multiples of 2 s: a 7 s window holds at least three, so at least two runs however the edges fall.
    expect(info.numActionsTaken).toBeGreaterThanOrEqual(2);
    const pattern = new RegExp(`^noop/${h.taskQueuePrefix}-scheduled-${TIME}$`);
    const started = info.recentActions.map((a) => a.action.workflow.workflowId);
    expect(started.length).toBeGreaterThanOrEqual(2);
    for (const id of started) expect(id).toMatch(pattern);
    expect(new Set(started).size).toBe(started.length); // each tick its own run, keyed by its scheduled time
    // The scheduled time in the ID is the tick's own.
    for (const a of info.recentActions) {
      expect(a.action.workflow.workflowId.endsWith(`-${a.scheduledAt.toISOString().replace(/\.\d+Z$/, 'Z')}`)).toBe(
        true,
      );
    }
    // They ran on the job's queue, through the worker: completed.
    const completed = await eventually(
      async () => {
        const ids = await completedRuns();
        return ids.filter((id) => pattern.test(id)).length >= 2 ? ids : undefined;
      },
      20_000,
      'two scheduled runs completed',
    );
    expect(completed.every((id) => pattern.test(id))).toBe(true);
    // Each scheduled run carries JobName, JobKey (the key of the schedule's arguments) and a summary (README "Finding
    // runs").
    const run = await h.env.client.workflow.getHandle(started[0]!).describe();
    expect(run.typedSearchAttributes.get(JOB_NAME)).toBe('noop');
    expect(run.typedSearchAttributes.get(JOB_KEY)).toBe('tick');
    expect(await run.staticSummary()).toBe('noop · tick · scheduled');
  }, 30_000);

  it('syncing again changes nothing: the same Schedule, reported unchanged, no second one', async () => {
    const scheduleId = scheduleIdFor(h.taskQueuePrefix, 'noop');
    const before = await h.env.client.schedule.getHandle(scheduleId).describe();
    const report = await syncSchedules(h.client, [everyTwoSeconds]);
    expect(report).toEqual({ created: [], updated: [], deleted: [], unchanged: [{ job: 'noop', scheduleId }] });
    const after = await h.env.client.schedule.getHandle(scheduleId).describe();
    expect(after.info.createdAt).toEqual(before.info.createdAt);
    expect(after.info.lastUpdatedAt).toEqual(before.info.lastUpdatedAt); // not even rewritten
    const owned = (await listSchedules(h.client, [everyTwoSeconds])).filter((s) => s.job === 'noop');
    expect(owned).toEqual([expect.objectContaining({ scheduleId, state: 'active', when: 'every 2s' })]);
  });

  it('a changed declaration updates the Schedule in place; a pause made since survives the sync', async () => {
    const scheduleId = scheduleIdFor(h.taskQueuePrefix, 'noop');
    const handle = h.env.client.schedule.getHandle(scheduleId);
    const before = await handle.describe();
    await pauseSchedule(h.client, everyTwoSeconds);
    const changed = {
      ...noop,
      priorityKey: 2, // scheduled runs carry the job's priority key
      schedule: { cron: '*/5 * * * *', timezone: 'Europe/Berlin', overlap: 'bufferOne', args: { id: 'cron' } },
    } satisfies DeclaredJob<{ id: string }>;
    expect(await listSchedules(h.client, [changed])).toEqual([
      expect.objectContaining({ job: 'noop', state: 'out of date', when: 'cron */5 * * * * (Europe/Berlin)' }),
    ]);
    const report = await syncSchedules(h.client, [changed]);
    expect(report).toEqual({ created: [], updated: [{ job: 'noop', scheduleId }], deleted: [], unchanged: [] });

    const after = await handle.describe();
    expect(after.info.createdAt).toEqual(before.info.createdAt); // the same Schedule
    expect(after.spec.intervals ?? []).toEqual([]);
    expect(after.spec.timezone).toBe('Europe/Berlin');
    expect(after.spec.calendars?.length ?? 0).toBeGreaterThan(0); // the server keeps cron as calendars
    expect(after.policies.overlap).toBe(ScheduleOverlapPolicy.BUFFER_ONE);
    expect(after.action).toMatchObject({ args: [{ id: 'cron' }], priority: { priorityKey: 2 } });
    expect(after.state.paused).toBe(true);
    expect((await syncSchedules(h.client, [changed])).unchanged).toEqual([{ job: 'noop', scheduleId }]);
    await unpauseSchedule(h.client, everyTwoSeconds);
    expect((await handle.describe()).state.paused).toBe(false);

    // Back to every 2 s, then a manual trigger: one more run, under the same ID scheme.
    await syncSchedules(h.client, [everyTwoSeconds]);
    await pauseSchedule(h.client, everyTwoSeconds); // only the trigger runs now
    const taken = (await handle.describe()).info.numActionsTaken;
    await triggerSchedule(h.client, everyTwoSeconds);
    const d = await eventually(async () => {
      const d = await handle.describe();
      return d.info.numActionsTaken === taken + 1 ? d : undefined;
    });
    expect(d.info.recentActions.at(-1)!.action.workflow.workflowId).toMatch(
      new RegExp(`^noop/${h.taskQueuePrefix}-scheduled-${TIME}$`),
    );
  });

  it('leaves a Schedule it does not own alone, and deletes its own once no job declares it', async () => {
    const foreignId = `${h.taskQueuePrefix}-hand-made`;
    await h.env.client.schedule.create({
      scheduleId: foreignId,
      spec: { intervals: [{ every: '1h' }] },
      action: {
        type: 'startWorkflow',
        workflowType: noop.workflowType,
        workflowId: `noop/${h.taskQueuePrefix}-by-hand`,
        taskQueue: taskQueueName(h.taskQueuePrefix, 'default'),
        args: [{ id: 'by-hand' }],
      },
      state: { paused: true },
    });
    // The foreign Schedule is listed (so a sync would see it), and still not touched.
    await eventually(async () => {
      for await (const s of h.env.client.schedule.list()) if (s.scheduleId === foreignId) return true;
      return undefined;
    });

    const scheduleId = scheduleIdFor(h.taskQueuePrefix, 'noop');
    const report = await syncSchedules(h.client, [noop]);
    expect(report.deleted).toEqual([{ job: 'noop', scheduleId }]);
    await expect(h.env.client.schedule.getHandle(scheduleId).describe()).rejects.toThrow(/not found/i);
    const foreign = await h.env.client.schedule.getHandle(foreignId).describe();
    expect(foreign.state.paused).toBe(true);
    expect(foreign.spec.intervals).toMatchObject([{ every: 3_600_000 }]);

    // A second sync has nothing left to delete; the foreign Schedule is still there.
    expect((await syncSchedules(h.client, [])).deleted.filter((c) => c.job === 'noop')).toEqual([]);
    await expect(h.env.client.schedule.getHandle(foreignId).describe()).resolves.toBeDefined();
    await h.env.client.schedule.getHandle(foreignId).delete();
  });

  it('refuses to take over a Schedule under its ID that it does not own', async () => {
    const scheduleId = scheduleIdFor(h.taskQueuePrefix, 'noop');
    await h.env.client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: '1h' }] },
      action: {
        type: 'startWorkflow',
        workflowType: noop.workflowType,
        taskQueue: taskQueueName(h.taskQueuePrefix, 'default'),
        args: [{ id: 'squatter' }],
      },
      state: { paused: true },
    });
    await expect(syncSchedules(h.client, [everyTwoSeconds])).rejects.toThrow(
      new RegExp(`Schedule "${scheduleId}" exists but is not this deployment's`),
    );
    expect((await syncSchedules(h.client, [])).deleted).toEqual([]); // nor deletes it
    await h.env.client.schedule.getHandle(scheduleId).delete();
  });
});

describe('a schedule declaration', () => {
  const base = {
    name: 'scheduled-thing',
    description: 'test',
    workflow: async function scheduledThing(_args: { id: string }) {},
    queue: 'default' as const,
    args: noop.args,
    idempotencyKey: ({ id }: { id: string }) => id,
  };
  it.each([
    [{ args: { id: 'x' } }, /schedule must give exactly one of cron and every/],
    [{ every: '1m', cron: '* * * * *', args: { id: 'x' } }, /schedule must give exactly one of cron and every/],
    [{ every: 'soon', args: { id: 'x' } }, /schedule\.every must be a duration .* got "soon"/],
    [{ every: '100ms', args: { id: 'x' } }, /schedule\.every must be a duration of at least 1 s/],
    [{ cron: 'every day', args: { id: 'x' } }, /schedule\.cron must be a cron expression/],
    [{ cron: [], args: { id: 'x' } }, /schedule\.cron must be a cron expression or a non-empty list/],
    [{ cron: '0 3 * * *', timezone: 'Mars/Olympus', args: { id: 'x' } }, /schedule\.timezone is not a known time zone/],
    [{ every: '1m', timezone: 'UTC', args: { id: 'x' } }, /schedule\.timezone applies only to cron/],
    [{ every: '1m', overlap: 'queue', args: { id: 'x' } }, /schedule\.overlap must be one of skip, bufferOne/],
    [
      { every: '1m', catchupWindow: '1s', args: { id: 'x' } },
      /schedule\.catchupWindow must be a duration of at least 10 s/,
    ],
    [{ every: '1m', args: { id: '' } }, /job "scheduled-thing": schedule\.args are invalid: id: /],
    [{ every: '1m', args: { id: 'x', extra: 1 } }, /schedule\.args are invalid: extra: is not an argument of this job/],
    [{ every: '1m', args: { id: 'x' }, jitter: '1s' }, /schedule\.jitter is not a schedule field/],
  ])('refuses %j, naming the field', (schedule, message) => {
    expect(() => defineJob({ ...base, schedule } as never)).toThrow(message);
  });

  it('accepts cron lists, time zones and every', () => {
    expect(
      defineJob({ ...base, schedule: { cron: ['0 3 * * *', '@hourly'], timezone: 'Europe/Berlin', args: { id: 'x' } } })
        .schedule,
    ).toBeDefined();
    expect(defineJob({ ...base, schedule: { every: '90s', args: { id: 'x' } } }).schedule).toBeDefined();
  });
});

describe('jobctl schedules', () => {
  let h: Harness;
  let env: Record<string, string>;

  /**
   * Of a paused Schedule: ends the runs its ticks started before the pause (no worker polls here, so they stay
   * Running) and waits until the Schedule sees them closed; returns the workflow IDs of the actions taken so far.
   */
  async function tickRunsEnded(handle: ScheduleHandle): Promise<Set<string>> {
    // The pause reaches the Schedule's own workflow as a signal: once it says paused, it takes no more ticks.
    const { info } = await eventually(
      async () => {
        const description = await handle.describe();
        return description.state.paused ? description : undefined;
      },
      20_000,
      'the Schedule to say it is paused',
    );
    for (const action of info.recentActions) {
      await h.env.client.workflow
        .getHandle(action.action.workflow.workflowId)
        .terminate('a tick before the pause')
        .catch(() => undefined); // closed already
    }
    await eventually(
      async () => ((await handle.describe()).info.runningActions.length === 0 ? true : undefined),
      20_000,
      'the Schedule to see the runs of its ticks closed',
    );
    return new Set(info.recentActions.map((a) => a.action.workflow.workflowId));
  }

  beforeAll(async () => {
    h = await createHarness();
    env = { TEMPORAL_ADDRESS: inject('temporalAddress'), JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix };
  });
  afterAll(async () => {
    await h.env.client.schedule
      .getHandle(scheduleIdFor(h.taskQueuePrefix, 'health-check'))
      .delete()
      .catch(() => undefined);
    await h?.close();
  });

  it('sync creates the declared Schedules, then reports them unchanged; list, pause, unpause and trigger them', async () => {
    const scheduleId = scheduleIdFor(h.taskQueuePrefix, 'health-check');
    const before = await jobctl(['schedules', 'list', '--json'], env);
    expect(before).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(before.stdout)).toEqual([
      { job: 'health-check', scheduleId, when: 'every 1m', state: 'not synced' },
    ]);

    const first = await jobctl(['schedules', 'sync', '--json'], env);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(first.stdout)).toEqual({
      created: [{ job: 'health-check', scheduleId }],
      updated: [],
      deleted: [],
      unchanged: [],
    });
    const second = await jobctl(['schedules', 'sync'], env);
    expect(second.stdout).toMatch(new RegExp(`^unchanged\\s+${scheduleId}\\s+\\(health-check\\)$`, 'm'));

    const paused = await jobctl(['schedules', 'pause', 'health-check'], env);
    expect(paused).toMatchObject({ code: 0, stdout: `paused ${scheduleId}\n` });
    const listed = await jobctl(['schedules', 'list'], env);
    expect(listed.stdout).toMatch(/^JOB\s+WHEN\s+STATE/);
    expect(listed.stdout).toMatch(new RegExp(`^health-check\\s+every 1m\\s+paused\\s+.*${scheduleId}$`, 'm'));

    // Triggered while paused, so no tick can start a run meanwhile: the action the trigger adds is told apart from
    // ticks taken before the pause, and no tick's run (Running: no worker here) makes the `skip` overlap policy drop
    // the trigger while the test mistakes that run for the trigger's.
    const handle = h.env.client.schedule.getHandle(scheduleId);
    const takenBefore = await tickRunsEnded(handle);
    expect((await jobctl(['schedules', 'trigger', 'health-check'], env)).stdout).toBe(`triggered ${scheduleId}\n`);
    const run = await eventually(
      async () => {
        const { info, state } = await handle.describe();
        expect(state.paused, 'the Schedule is still paused').toBe(true);
        return info.recentActions.find((a) => !takenBefore.has(a.action.workflow.workflowId))?.action.workflow;
      },
      20_000,
      'the action of the trigger',
    );
    expect(run.workflowId).toMatch(new RegExp(`^health-check/${h.taskQueuePrefix}-scheduled-${TIME}$`));
    expect((await jobctl(['schedules', 'unpause', 'health-check'], env)).stdout).toBe(`unpaused ${scheduleId}\n`);
    expect((await jobctl(['schedules', 'delete', 'health-check'], env)).stdout).toBe(`deleted ${scheduleId}\n`);
    const jobs = JSON.parse((await jobctl(['jobs', '--json'], env)).stdout);
    expect(jobs).toContainEqual(expect.objectContaining({ name: 'health-check', schedule: 'every 1m' }));
    expect(jobs.find((j: { name: string }) => j.name === 'invoice-generation')).not.toHaveProperty('schedule');
    // The run it started has no worker here: end it.
    await h.env.client.workflow.getHandle(run.workflowId).terminate('test over');
  }, 180_000); // ten jobctl processes, each a Node start: slow on a loaded machine

  it.each([
    [['schedules', 'pause', 'no-such-job'], /Unknown job "no-such-job"\. Known jobs: /],
    [['schedules', 'trigger', 'invoice-generation'], /job "invoice-generation" declares no schedule/],
    [['schedules', 'delete', 'invoice-generation'], /job "invoice-generation" declares no schedule/],
    [
      ['schedules', 'unpause', 'health-check'],
      /job "health-check" has no Schedule on the server yet .*jobctl schedules sync/,
    ],
  ])('jobctl %j says why, in one line, exit 1', async (args, message) => {
    // No Schedule on the server, whatever the test before left behind.
    await h.env.client.schedule
      .getHandle(scheduleIdFor(h.taskQueuePrefix, 'health-check'))
      .delete()
      .catch(() => undefined);
    const run = await jobctl(args, env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
