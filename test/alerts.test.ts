import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertMessage } from '../src/worker/health-check-activities';
import { healthCheck, invoiceGeneration } from './jobs';
import { DEFAULT_SETTINGS } from '../src/config';
import { taskQueueName } from '../src/sandbox/queues';
import { legacyHealthCheckScheduleId, scheduleIdFor, syncSchedules } from '../src/client/schedules';
import { jobStats } from '../src/client/stats';
import { createHarness, eventually, type Harness } from './harness';

describe('failure-rate alerts', () => {
  let h: Harness;
  let receiver: http.Server;
  const received: AlertMessage[] = [];
  const logLines: Array<Record<string, unknown>> = [];
  let checks = 0;

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const sink = new Writable({
      write(chunk, _e, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(l));
        done();
      },
    });
    h = await createHarness({
      deps: {
        alertWebhookUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`,
        alertLogger: pino(sink),
        // Workers serve default and high only here: the queue alerts watch those (README "Queue backlog and worker
        // alerts"), so a missing critical or low worker does not add its alert to the failure-rate ones below.
        queueAlerts: { ...DEFAULT_SETTINGS.queueAlerts, queues: ['default', 'high'] },
      },
    });
    await h.startWorkers(['default', 'high']);
  });
  afterAll(async () => {
    await h?.close();
    receiver?.close();
  });

  /** Runs one health check now, as the schedule would, and returns what it fired and recovered. */
  const check = () =>
    h.env.client.workflow.execute(healthCheck.workflowType, {
      workflowId: `health-check/${h.taskQueuePrefix}/${++checks}`,
      taskQueue: taskQueueName(h.taskQueuePrefix, healthCheck.queue),
      args: [{ windowMinutes: 10 }],
    }) as Promise<{ fired: string[]; recovered: string[] }>;

  const settle = (completed: number, failed: number) =>
    eventually(
      async () => {
        const [s] = await jobStats(h.client, { since: new Date(Date.now() - 600_000), job: 'invoice-generation' });
        return s && s.completed === completed && s.failed === failed ? s : undefined;
      },
      20_000,
      `visibility to show ${completed} completed and ${failed} failed`,
    );

  async function runInvoices(succeed: number, fail: number) {
    const runs = [];
    for (let i = 0; i < succeed; i++)
      runs.push(h.client.enqueue(invoiceGeneration, { invoiceId: (await h.createInvoice()).invoiceId }));
    for (let i = 0; i < fail; i++) runs.push(h.client.enqueue(invoiceGeneration, { invoiceId: h.unusedId() }));
    await Promise.all(
      (await Promise.all(runs)).map((r) =>
        h.env.client.workflow
          .getHandle(r.workflowId)
          .result()
          .catch(() => undefined),
      ),
    );
  }

  it('fires once when the failure rate crosses 2%, and says when it recovers', async () => {
    await runInvoices(1, 1);
    await settle(1, 1);

    expect(await check()).toEqual({ fired: ['invoice-generation'], recovered: [] });
    expect(received).toEqual([
      expect.objectContaining({ kind: 'alert', job: 'invoice-generation', failureRate: 0.5, threshold: 0.02 }),
    ]);
    expect(logLines.filter((l) => l.event === 'alert_fired')).toHaveLength(1);

    expect(await check()).toEqual({ fired: [], recovered: [] }); // still failing: the same incident, no second alert
    expect(received).toHaveLength(1);

    await runInvoices(60, 0); // 1 failure in 62 runs = 1.6%, under 2%
    await settle(61, 1);
    expect(await check()).toEqual({ fired: [], recovered: ['invoice-generation'] });
    expect(received.map((m) => m.kind)).toEqual(['alert', 'recovered']);
    expect(received[1]).toMatchObject({
      job: 'invoice-generation',
      completed: 61,
      failed: 1,
      text: expect.stringMatching(/recovered/),
    });
    expect(logLines.filter((l) => l.event === 'alert_recovered')).toHaveLength(1);
  }, 120_000);

  it('declares a Schedule that runs the health check every minute; sync installs it and replaces the hand-wired one', async () => {
    // Versions before declared schedules installed it by hand under `<prefix>-health-check`, with no owner memo.
    const legacyId = legacyHealthCheckScheduleId(h.taskQueuePrefix);
    await h.env.client.schedule.create({
      scheduleId: legacyId,
      spec: { intervals: [{ every: '1m' }] },
      action: {
        type: 'startWorkflow',
        workflowType: healthCheck.workflowType,
        workflowId: `health-check/${h.taskQueuePrefix}`,
        taskQueue: taskQueueName(h.taskQueuePrefix, healthCheck.queue),
        args: [{ windowMinutes: 15 }],
      },
    });

    const scheduleId = scheduleIdFor(h.taskQueuePrefix, 'health-check');
    const report = await syncSchedules(h.client); // every declared job: the health check is the one with a schedule
    expect(report.created).toEqual([{ job: 'health-check', scheduleId }]);
    expect(report.deleted).toEqual([{ job: 'health-check', scheduleId: legacyId }]);
    await expect(h.env.client.schedule.getHandle(legacyId).describe()).rejects.toThrow(/not found/i);

    const handle = h.env.client.schedule.getHandle(scheduleId);
    const description = await handle.describe();
    expect(description.spec.intervals).toMatchObject([{ every: 60_000 }]);
    expect(description.policies.overlap).toBe('SKIP');
    expect(description.action).toMatchObject({ workflowType: healthCheck.workflowType, args: [{ windowMinutes: 15 }] });

    await handle.trigger(); // as the minute tick would
    const run = await eventually(
      async () => {
        const d = await handle.describe();
        return d.info.recentActions[0]?.action.workflow;
      },
      20_000,
      'the schedule to start a health check',
    );
    expect(run.workflowId).toMatch(
      new RegExp(`^health-check/${h.taskQueuePrefix}-scheduled-\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`),
    );
    await expect(h.env.client.workflow.getHandle(run.workflowId, run.firstExecutionRunId).result()).resolves.toEqual({
      fired: [],
      recovered: [],
    });

    // Another declaration updates that Schedule in place, as the server describes it.
    const changed = {
      ...healthCheck,
      schedule: { ...healthCheck.schedule!, every: '5m', args: { windowMinutes: 30 } },
    };
    expect((await syncSchedules(h.client, [changed])).updated).toEqual([{ job: 'health-check', scheduleId }]);
    const updated = await handle.describe();
    expect(updated.spec.intervals).toMatchObject([{ every: 300_000 }]);
    expect(updated.action).toMatchObject({ workflowType: healthCheck.workflowType, args: [{ windowMinutes: 30 }] });
    expect(updated.info.createdAt).toEqual(description.info.createdAt); // the same schedule, not deleted and recreated
    await handle.delete();
  });
});
