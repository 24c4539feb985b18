import type { AddressInfo } from 'node:net';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { JobNotFoundError } from '../src/sandbox/errors';
import { buildHttpService } from '../src/http/server';
import { createApiToken, parseApiTokens } from '../src/http/tokens';
import { taskQueueName } from '../src/sandbox/queues';
import { jobStats } from '../src/client/stats';
import { invoiceGeneration, largeDataExport, noop, processPayment, processWebhook } from './jobs';
import { capturedLogLines, createHarness, eventually, type Harness } from './harness';
import { jobctl } from './jobctl';

type Event = temporal.api.history.v1.IHistoryEvent;

/**
 * Cancellation against the real dev server: a running 10,000-user export stops starting slices, its slices in flight
 * close, the export row says `cancelled` and the run closes Canceled; a webhook job cancelled over HTTP mid vendor
 * call abandons the call; a cancelled job is neither failed nor dead, and its key can be enqueued again.
 */
describe('cancellation', () => {
  let h: Harness;
  const { logger, lines } = capturedLogLines();
  const testStarted = new Date();
  /** Slices of these exports take a while, so the export is still running when the test cancels it. */
  const slowExports = new Set<number>();
  let app: FastifyInstance;
  let base: string;
  const ops = createApiToken('ops', 'enqueue:*+read+cancel:process-webhook');
  const reader = createApiToken('reader', 'read+enqueue:process-webhook');
  const billing = createApiToken('billing', 'cancel:process-payment');

  beforeAll(async () => {
    h = await createHarness({
      logger,
      vendorTimeoutMs: 60_000, // the slow vendor answers below are held longer than the test waits
      deps: {
        beforeExportSlice: async (exportId) => {
          if (slowExports.has(exportId)) await new Promise((r) => setTimeout(r, 400));
        },
      },
    });
    await h.startWorkers(['default', 'low', 'critical']);
    app = buildHttpService(h.client, { tokens: parseApiTokens([ops.entry, reader.entry, billing.entry].join(',')) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  const request = (method: string, path: string, token: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  const history = async (workflowId: string, runId?: string) =>
    (await h.env.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];

  /** The run's result, expected to be a cancellation: the run closed as Canceled. */
  async function expectCanceled(workflowId: string, runId?: string): Promise<void> {
    const handle = h.env.client.workflow.getHandle(workflowId, runId);
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
  }

  /** Neither failed nor dead: no dead letter, no failure in the stats, a job_cancelled line and no job_failed one. */
  async function expectNeitherFailedNorDead(job: string, workflowId: string): Promise<void> {
    // Visibility lags the close: first wait until it lists the run Canceled, so the absences below are not that lag.
    await eventually(
      async () => (await h.client.list({ job, status: 'Canceled' })).find((r) => r.workflowId === workflowId),
      20_000,
      `visibility to list ${workflowId} as Canceled`,
    );
    expect(
      (await h.client.deadLetters({ job })).map((d) => d.workflowId),
      'dead letters',
    ).not.toContain(workflowId);
    const [stats] = await jobStats(h.client, { since: testStarted, job });
    expect(stats, 'the failure stats').toMatchObject({ job, failed: 0, failureRate: 0 });
    const events = await eventually(async () => {
      const found = lines.filter((l) => l.workflowId === workflowId && String(l.event).startsWith('job_'));
      return found.some((l) => l.event === 'job_cancelled') ? found.map((l) => l.event) : undefined;
    });
    expect(events).toContain('job_cancelled');
    expect(events).not.toContain('job_failed');
  }

  it('cancelling a running 10,000-user export: no slice starts after, slices in flight close, the row says cancelled, the run is Canceled; enqueued again it completes', async () => {
    await h.createUsers(10_000, '2026-02-10');
    const exportId = await h.createExport({ startDate: '2026-02-10', endDate: '2026-02-10' });
    slowExports.add(exportId);
    const { workflowId, runId } = await h.client.enqueue(largeDataExport, { exportId });
    await eventually(
      async () => ((await h.client.progress(workflowId))?.done ?? 0) >= 5 || undefined,
      60_000,
      'five slices done',
    );

    const cancelled = await h.client.cancel(workflowId);
    expect(cancelled).toMatchObject({
      workflowId,
      runId,
      job: 'large-data-export',
      cancelled: true,
      status: 'Running',
    });
    await expectCanceled(workflowId, runId);

    const events = await history(workflowId, runId);
    const cancelRequested = events.find((e) => e.workflowExecutionCancelRequestedEventAttributes)!;
    expect(cancelRequested).toBeDefined();
    const after = (e: Event) => Number(e.eventId) > Number(cancelRequested.eventId);
    const slicesStarted = events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
    expect(slicesStarted.length).toBeGreaterThanOrEqual(5);
    expect(slicesStarted.length, 'cancelled mid-way').toBeLessThan(100);
    expect(slicesStarted.filter(after), 'slices started after the cancellation').toEqual([]);
    // Every slice it started has closed, none still running behind the cancelled export.
    const sliceIds = slicesStarted.map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes!.workflowId!);
    const sliceStatuses = await Promise.all(
      sliceIds.map(async (id) => (await h.env.client.workflow.getHandle(id).describe()).status.name),
    );
    expect(sliceStatuses.filter((s) => s === 'RUNNING')).toEqual([]);
    expect(sliceStatuses).toContain('CANCELLED'); // some were in flight and cancelled
    // The export is marked by an activity after the slices closed, and the run then ends.
    const marked = events.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'markExportCancelled',
    );
    expect(marked).toHaveLength(1);

    const row = await h.database.db
      .selectFrom('exports')
      .selectAll()
      .where('id', '=', exportId)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('cancelled');
    expect(Number(row.exported_users)).toBeGreaterThanOrEqual(500); // what was done is kept and counted
    expect(await h.client.status(workflowId)).toMatchObject({ status: 'Canceled' });
    await expectNeitherFailedNorDead('large-data-export', workflowId);

    // The same key again: a new run, which exports everything (slices done before are not run again).
    slowExports.delete(exportId);
    const again = await h.client.enqueue(largeDataExport, { exportId });
    expect(again).toMatchObject({ workflowId, duplicate: false });
    expect(again.runId).not.toBe(runId);
    await expect(h.env.client.workflow.getHandle(workflowId).result()).resolves.toMatchObject({
      exportedUsers: 10_000,
      failedSlices: [],
    });
  }, 240_000);

  it('an export cancelled after it continued-as-new: its current run stops, closes Canceled, and marks the row', async () => {
    await h.createUsers(2_500, '2026-02-20');
    // Slices of 5: 500 children, so the first run continues-as-new (past HISTORY_EVENTS_BEFORE_CONTINUE) mid-way.
    const exportId = await h.createExport({ startDate: '2026-02-20', endDate: '2026-02-20', sliceSize: 5 });
    const { workflowId, runId: firstRunId } = await h.client.enqueue(largeDataExport, { exportId });
    const handle = h.env.client.workflow.getHandle(workflowId);
    const current = await eventually(
      async () => {
        const d = await handle.describe();
        return d.runId !== firstRunId && d.status.name === 'RUNNING' ? d.runId : undefined;
      },
      180_000,
      'a continued run',
    );
    expect(await h.client.cancel(workflowId)).toMatchObject({ cancelled: true });
    await expectCanceled(workflowId);
    const latest = await h.client.latestRun(workflowId);
    expect(latest.runId).toBe(current); // the run that was current when cancelled, not a further one
    const events = await history(workflowId, current);
    const cancelRequested = events.find((e) => e.workflowExecutionCancelRequestedEventAttributes)!;
    const startedAfter = events.filter(
      (e) =>
        e.startChildWorkflowExecutionInitiatedEventAttributes && Number(e.eventId) > Number(cancelRequested.eventId),
    );
    expect(startedAfter).toEqual([]);
    const row = await h.database.db
      .selectFrom('exports')
      .select('status')
      .where('id', '=', exportId)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('cancelled');
    const sliceIds = events
      .filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)
      .map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes!.workflowId!);
    const statuses = await Promise.all(
      sliceIds.map(async (id) => (await h.env.client.workflow.getHandle(id).describe()).status.name),
    );
    expect(
      statuses.filter((st) => st === 'RUNNING'),
      'slices still running',
    ).toEqual([]);
  }, 240_000);

  it('DELETE /jobs/<id> for a webhook job mid vendor call: 202, the call is abandoned, the run is Canceled, nothing is dead; 409 after; enqueued again it runs', async () => {
    const id = await h.createWebhook();
    const key = `webhook-payload/${id}`;
    h.vendor.script(key, [{ kind: 'timeout', delayMs: 45_000 }]); // the vendor holds its answer
    const enqueued = await request('POST', '/jobs/process-webhook', ops.token, { webhookPayloadId: id });
    expect(enqueued.status).toBe(202);
    const { workflowId, runId, statusUrl } = (await enqueued.json()) as Record<string, string>;
    await eventually(async () => h.vendor.requests.get(key), 30_000, 'the vendor call');

    // Scopes: a token without any cancel scope, and one with another job's, are refused; nothing is cancelled.
    const noScope = await request('DELETE', statusUrl!, reader.token);
    expect(noScope.status).toBe(403);
    expect(await noScope.json()).toMatchObject({ needs: 'cancel:<job>' });
    const otherJob = await request('DELETE', statusUrl!, billing.token);
    expect(otherJob.status).toBe(403);
    expect(await otherJob.json()).toMatchObject({ needs: 'cancel:process-webhook' });
    expect((await h.client.latestRun(workflowId!)).status).toBe('Running');

    const deleted = await request('DELETE', statusUrl!, ops.token);
    expect(deleted.status).toBe(202);
    expect(await deleted.json()).toMatchObject({
      workflowId,
      runId,
      job: 'process-webhook',
      cancelled: true,
      status: 'Running',
      statusUrl,
    });
    await expectCanceled(workflowId!, runId);
    // The activity saw the cancellation at its next heartbeat and aborted its HTTP call.
    await eventually(async () => h.vendor.aborted.get(key), 20_000, 'the vendor call to be aborted');
    expect(h.vendor.requests.get(key)).toBe(1); // not retried
    const payload = await h.database.db
      .selectFrom('webhook_payloads')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(payload.status).not.toBe('dead');
    expect(payload.status).not.toBe('processed');
    expect(payload.last_error_type).toBeNull();
    const activityClosed = (await history(workflowId!, runId)).filter(
      (e) => e.activityTaskCompletedEventAttributes || e.activityTaskFailedEventAttributes,
    );
    expect(activityClosed).toEqual([]); // neither completed nor failed: cancelled
    await expectNeitherFailedNorDead('process-webhook', workflowId!);

    const status = (await (await request('GET', statusUrl!, ops.token)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ status: 'Canceled', runId });
    const again = await request('DELETE', statusUrl!, ops.token);
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({
      error: `${workflowId} already closed as Canceled: there is nothing to cancel`,
      cancelled: false,
      status: 'Canceled',
    });

    // The same key again starts a new run, which completes (the vendor answers now).
    const reenqueued = await request('POST', '/jobs/process-webhook', ops.token, { webhookPayloadId: id });
    expect(await reenqueued.json()).toMatchObject({ workflowId, duplicate: false });
    await expect(h.env.client.workflow.getHandle(workflowId!).result()).resolves.toMatchObject({
      alreadyProcessed: false,
    });
  }, 120_000);

  it('DELETE /jobs/<id>: 404 for an unknown ID and for runs of internal jobs, as GET', async () => {
    const unknown = await request('DELETE', '/jobs/process-webhook%2Fno-such-run', ops.token);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'No job run with workflow ID "process-webhook/no-such-run"' });

    const admin = createApiToken('admin', '*');
    const service = buildHttpService(h.client, { tokens: parseApiTokens(admin.entry) });
    try {
      const { workflowId } = await h.client.enqueue(noop, { id: `cancel-${h.unusedId()}` });
      const internal = await service.inject({
        method: 'DELETE',
        url: `/jobs/${encodeURIComponent(workflowId)}`,
        headers: { authorization: `Bearer ${admin.token}` },
      });
      expect(internal.statusCode).toBe(404);
    } finally {
      await service.close();
    }
  });

  it('a payment cancelled mid gateway call: the call is abandoned, the run is Canceled, the payment still pending', async () => {
    const paymentId = await h.createPayment();
    const key = `payment/${paymentId}`;
    h.gateway.script(key, [{ kind: 'timeout', delayMs: 45_000 }]);
    const { workflowId, runId } = await h.client.enqueue(processPayment, { paymentId });
    await eventually(async () => h.gateway.requests.get(key), 30_000, 'the gateway call');
    expect(await h.client.cancel(workflowId)).toMatchObject({ cancelled: true });
    await expectCanceled(workflowId, runId);
    await eventually(async () => h.gateway.aborted.get(key), 20_000, 'the gateway call to be aborted');
    expect(h.gateway.requests.get(key)).toBe(1);
    const payment = await h.database.db
      .selectFrom('payments')
      .selectAll()
      .where('id', '=', paymentId)
      .executeTakeFirstOrThrow();
    expect(payment.status).toBe('pending');
  }, 120_000);

  it('cancel of a finished job reports cancelled: false; an unknown ID is JobNotFoundError', async () => {
    const { invoiceId } = await h.createInvoice();
    const { workflowId, runId } = await h.client.enqueue(invoiceGeneration, { invoiceId });
    await h.env.client.workflow.getHandle(workflowId).result();
    expect(await h.client.cancel(workflowId)).toMatchObject({
      workflowId,
      runId,
      job: 'invoice-generation',
      cancelled: false,
      status: 'Completed',
    });
    expect((await h.client.latestRun(workflowId)).status).toBe('Completed'); // left alone
    await expect(h.client.cancel('invoice-generation/no-such-run')).rejects.toThrow(JobNotFoundError);
    await expect(h.client.cancel('invoice-generation/no-such-run')).rejects.toThrow(
      'No job run with workflow ID "invoice-generation/no-such-run"',
    );
  });

  /** A webhook run started the raw way with a start delay: Running, with an ExecutionTime in the future. */
  async function startDelayed(): Promise<string> {
    const id = await h.createWebhook();
    const workflowId = `process-webhook/${id}`;
    await h.env.client.workflow.start(processWebhook.workflowType, {
      workflowId,
      taskQueue: taskQueueName(h.taskQueuePrefix, processWebhook.queue),
      args: [{ webhookPayloadId: id }],
      startDelay: '1h',
    });
    return workflowId;
  }

  it('cancelMany selects Scheduled runs (waiting out a start delay) apart from Running ones, and cancels them', async () => {
    const delayed = [await startDelayed(), await startDelayed()];
    const id = await h.createWebhook();
    h.vendor.script(`webhook-payload/${id}`, [{ kind: 'timeout', delayMs: 45_000 }]);
    const running = await h.client.enqueue(processWebhook, { webhookPayloadId: id });
    await eventually(async () => h.vendor.requests.get(`webhook-payload/${id}`), 30_000, 'the vendor call');

    const ids = async (status: 'Running' | 'Scheduled') =>
      (await h.client.cancellable({ job: 'process-webhook', status })).map((r) => r.workflowId).sort();
    await eventually(async () => ((await ids('Scheduled')).length === 2 ? true : undefined), 20_000, 'visibility');
    expect(await ids('Scheduled')).toEqual([...delayed].sort());
    expect(await ids('Running')).toEqual([running.workflowId]);
    await expect(h.client.cancellable({ job: 'no-such-job' })).rejects.toThrow(/Unknown job "no-such-job"/);

    const cancelledIds: string[] = [];
    const result = await h.client.cancelMany(
      { job: 'process-webhook', status: 'Scheduled' },
      { onCancelled: (r) => cancelledIds.push(r.workflowId) },
    );
    expect(result.count).toBe(2);
    expect([...result.workflowIds].sort()).toEqual([...delayed].sort());
    expect([...cancelledIds].sort()).toEqual([...delayed].sort());
    for (const workflowId of delayed) await expectCanceled(workflowId);
    // Their activity never ran: the vendor never heard of them.
    for (const workflowId of delayed)
      expect(h.vendor.requests.get(`webhook-payload/${workflowId.split('/')[1]}`)).toBeUndefined();
    expect((await h.client.latestRun(running.workflowId)).status).toBe('Running'); // not selected
    await h.client.cancel(running.workflowId);
    await expectCanceled(running.workflowId);
  }, 120_000);

  it('jobctl cancel: one by ID; in bulk it refuses without --yes when stdin is not a terminal, and with --yes prints the count', async () => {
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix,
      TEMPORAL_UI_URL: 'http://ui.test',
    };
    const single = await startDelayed();
    const one = await jobctl(['cancel', single], env);
    expect(one).toMatchObject({ code: 0, stderr: '' });
    expect(one.stdout).toContain(`Cancellation requested for ${single}`);
    await expectCanceled(single);
    expect((await jobctl(['status', single], env)).stdout).toMatch(new RegExp(`^${single}\\s+Canceled\n`));
    const twice = await jobctl(['cancel', single, '--json'], env);
    expect(JSON.parse(twice.stdout)).toMatchObject({ workflowId: single, cancelled: false, status: 'Canceled' });

    const delayed = await startDelayed();
    await eventually(
      async () => {
        const listed = await h.client.cancellable({ job: 'process-webhook', status: 'Scheduled' });
        return listed.length === 1 && listed[0]!.workflowId === delayed ? true : undefined;
      },
      20_000,
      'visibility',
    );
    const refused = await jobctl(['cancel', '--job', 'process-webhook', '--status', 'scheduled'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(
      'jobctl: refusing to cancel 1 Scheduled runs of process-webhook without confirmation: ' +
        'stdin is not a terminal; pass --yes',
    );
    expect((await h.client.latestRun(delayed)).status).toBe('Scheduled'); // nothing cancelled

    const bulk = await jobctl(['cancel', '--job', 'process-webhook', '--status', 'Scheduled', '--yes', '--json'], env);
    expect(bulk).toMatchObject({ code: 0 });
    expect(JSON.parse(bulk.stdout)).toEqual({ count: 1, workflowIds: [delayed] });
    await expectCanceled(delayed);

    for (const [args, says] of [
      [['cancel'], /give a workflow ID, or select the runs to cancel with --job/],
      [['cancel', 'x/1', '--job', 'process-webhook'], /either a workflow ID or --job/],
      [['cancel', '--job', 'process-webhook', '--status', 'Completed'], /must be Running or Scheduled/],
      [['cancel', 'process-webhook/no-such-run'], /No job run with workflow ID "process-webhook\/no-such-run"/],
    ] as const) {
      const run = await jobctl([...args], env);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(says);
    }
  }, 180_000);
});
