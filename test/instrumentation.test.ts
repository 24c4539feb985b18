import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../src/dev-server';
import { invoiceGeneration, processPayment } from './jobs';
import { capturedLogLines, createHarness, eventually, type Harness } from './harness';
import { jobctl, startJobctlWorker } from './jobctl';

describe('job logs', () => {
  let h: Harness;
  const { logger, lines } = capturedLogLines();

  beforeAll(async () => {
    // No workflow cache: every workflow task rebuilds the workflow by replaying its history.
    h = await createHarness({ logger, maxCachedWorkflows: 0 });
    await h.startWorkers(['default', 'critical']);
  });
  afterAll(() => h?.close());

  const linesOf = (workflowId: string, event?: string) =>
    lines.filter((l) => l.workflowId === workflowId && (!event || l.event === event));

  it('one line per job start and success, with job, IDs, queue, attempt and duration, and no arguments', async () => {
    const { invoiceId } = await h.createInvoice();
    const { workflowId, runId } = await h.client.enqueue(invoiceGeneration, { invoiceId });
    await h.env.client.workflow.getHandle(workflowId).result();

    const jobLines = linesOf(workflowId).filter((l) => String(l.event).startsWith('job_'));
    expect(jobLines.map((l) => l.event)).toEqual(['job_started', 'job_succeeded']);
    for (const line of jobLines) {
      expect(line).toMatchObject({
        job: 'invoice-generation',
        workflowId,
        runId,
        task_queue: `${h.taskQueuePrefix}-default`,
        attempt: 1,
      });
      expect(line).not.toHaveProperty('arguments');
      expect(JSON.stringify(line)).not.toContain(`"invoiceId":${invoiceId}`);
    }
    expect(jobLines[1]!.duration_ms).toEqual(expect.any(Number));
    expect(jobLines[1]!.duration_ms as number).toBeGreaterThan(0);
  });

  it('a failed job logs one failure line with its error type and message', async () => {
    const { workflowId } = await h.client.enqueue(invoiceGeneration, { invoiceId: h.unusedId() });
    await expect(h.env.client.workflow.getHandle(workflowId).result()).rejects.toThrow();

    expect(
      linesOf(workflowId)
        .filter((l) => String(l.event).startsWith('job_'))
        .map((l) => l.event),
    ).toEqual(['job_started', 'job_failed']);
    expect(linesOf(workflowId, 'job_failed')[0]).toMatchObject({
      error_type: 'RecordNotFound',
      error_message: expect.stringMatching(/does not exist/),
      level: 50,
    });
  });

  it('a retried attempt shows as activity lines; replays repeat none of the lines', async () => {
    const paymentId = await h.createPayment();
    h.gateway.script(`payment/${paymentId}`, ['server_error']); // attempt 1 fails, attempt 2 (2 s later) succeeds
    const { workflowId } = await h.client.enqueue(processPayment, { paymentId });
    await h.env.client.workflow.getHandle(workflowId).result();

    expect(linesOf(workflowId).map((l) => l.event)).toEqual([
      'job_started',
      'activity_failed',
      'activity_succeeded',
      'job_succeeded',
    ]);
    expect(linesOf(workflowId, 'activity_failed')[0]).toMatchObject({
      job: 'process-payment',
      activity: 'chargePayment',
      attempt: 1,
      error_type: 'ServerError',
    });
    expect(linesOf(workflowId, 'activity_succeeded')[0]).toMatchObject({ attempt: 2 });
  });
});

describe('worker metrics endpoint', () => {
  it('serves the SDK series and per-job duration, success and failure series, from a real worker process', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-metrics-'));
    const port = await freePort();
    const prefix = `test-${randomUUID()}`;
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: prefix,
      JOBS_SQLITE_PATH: path.join(dir, 'app.sqlite'),
    };
    expect((await jobctl(['seed', '--count', '3'], env)).code).toBe(0);
    // Serving before the jobs are enqueued (a worker that died, say on a taken port, fails here with its output).
    const worker = await startJobctlWorker('default:2', env, undefined, ['--metrics-port', String(port)]);
    try {
      // invoice 2 exists (seeded), invoice 9 does not; each workflow ID is scoped by this test's unique queue prefix.
      const ok = await jobctl(['enqueue', 'invoice-generation', '{"invoiceId":2}', '--wait', '--json'], env);
      const bad = await jobctl(['enqueue', 'invoice-generation', '{"invoiceId":9}', '--wait', '--json'], env);
      expect([ok.code, bad.code], worker.output()).toEqual([0, 1]);
      const metrics = await eventually(
        async () => {
          const text = await fetch(`http://127.0.0.1:${port}/metrics`)
            .then((r) => r.text())
            .catch(() => '');
          return /durable_jobs_job_failed_total\{[^}]*job="invoice-generation"/.test(text) ? text : undefined;
        },
        30_000,
        'job series on /metrics',
      );
      expect(metrics).toMatch(/durable_jobs_job_succeeded_total\{[^}]*job="invoice-generation"[^}]*\} 1/);
      expect(metrics).toMatch(/durable_jobs_job_failed_total\{[^}]*error_type="RecordNotFound"[^}]*\} 1/);
      expect(metrics).toMatch(/durable_jobs_job_duration_bucket\{[^}]*job="invoice-generation"/);
      expect(metrics).toMatch(/temporal_workflow_completed/); // the SDK's own series, same endpoint
      expect(worker.output()).toMatch(
        /"event":"job_succeeded".*"job":"invoice-generation"|"job":"invoice-generation".*"event":"job_succeeded"/,
      );
    } finally {
      // Waits for the exit unless it already happened (waiting for an 'exit' that came before never ends).
      await worker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
