import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { invoiceGeneration } from './jobs';
import { jobStats, type JobStats } from '../src/client/stats';
import { createHarness, eventually, type Harness } from './harness';
import { jobctl } from './jobctl';

/**
 * On the shared dev server: this file's invoice-generation runs (3 that complete, 2 that fail at once with
 * RecordNotFound) are the only ones on its task queues, so the stats over its queues count exactly them, whatever
 * other test files run meanwhile.
 */
describe('jobStats and jobctl stats', () => {
  let h: Harness;
  let env: Record<string, string>;
  let since: Date;
  let durations: number[];
  let settled: JobStats[];

  beforeAll(async () => {
    h = await createHarness();
    await h.startWorkers(['default']);
    env = { TEMPORAL_ADDRESS: inject('temporalAddress'), JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix };
    since = new Date();

    const ok = await Promise.all([1, 2, 3].map(() => h.createInvoice()));
    const missing = [h.unusedId(), h.unusedId()];
    const runs = [
      ...ok.map(({ invoiceId }) => ({ invoiceId, succeeds: true })),
      ...missing.map((invoiceId) => ({ invoiceId, succeeds: false })),
    ];
    durations = await Promise.all(
      runs.map(async ({ invoiceId, succeeds }) => {
        const { workflowId, runId } = await h.client.enqueue(invoiceGeneration, { invoiceId });
        const handle = h.env.client.workflow.getHandle(workflowId, runId);
        if (succeeds) await expect(handle.result()).resolves.toMatchObject({ invoiceId });
        else await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
        const { startTime, closeTime } = await handle.describe();
        return closeTime!.getTime() - startTime.getTime();
      }),
    );

    // Visibility is eventually consistent: wait until all five runs are counted.
    settled = await eventually(
      async () => {
        const rows = await jobStats(h.client, { since, job: 'invoice-generation' });
        return rows[0] && rows[0].completed + rows[0].failed >= 5 ? rows : undefined;
      },
      20_000,
      'five closed runs in visibility',
    );
  }, 120_000);
  afterAll(() => h?.close());

  it('counts exactly this deployment’s completed and failed runs, with failure rate, average and nearest-rank p95', () => {
    const mean = Math.round(durations.reduce((a, b) => a + b, 0) / durations.length);
    const p95Ms = Math.max(...durations);
    expect(settled).toEqual([
      { job: 'invoice-generation', completed: 3, failed: 2, failureRate: 0.4, averageMs: mean, p95Ms },
    ]);
    // The runs differ in length, so the comparison above tells the average from the p95 (and both from zero).
    expect(p95Ms).toBeGreaterThan(mean);
    expect(mean).toBeGreaterThan(0);
  });

  it('lists only jobs that had runs; a job named explicitly gets a row even with none', async () => {
    expect(await jobStats(h.client, { since })).toEqual(settled);
    expect(await jobStats(h.client, { since, job: 'send-welcome-email' })).toEqual([
      { job: 'send-welcome-email', completed: 0, failed: 0, failureRate: 0 },
    ]);
  });

  it('is scoped to a deployment’s task queues and to the window', async () => {
    const otherDeployment = `test-${randomUUID()}`;
    expect(await jobStats(h.client, { since, taskQueuePrefix: otherDeployment })).toEqual([]);
    expect(await jobStats(h.client, { since, taskQueuePrefix: h.taskQueuePrefix })).toEqual(settled);
    // A window that ended before these runs started.
    expect(await jobStats(h.client, { since: new Date(since.getTime() - 3_600_000), now: since })).toEqual([]);
    expect(await jobStats(h.client, { since: new Date(Date.now() + 60_000) })).toEqual([]);
    await expect(jobStats(h.client, { since, job: 'no-such-job' })).rejects.toThrow(/Unknown job "no-such-job"/);
  });

  it('jobctl stats prints the rows as JSON and as a table', async () => {
    const json = await jobctl(['stats', '--since', '1h', '--json'], env);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(json.stdout)).toEqual(settled);

    const filtered = await jobctl(['stats', '--since', '30m', '--job', 'invoice-generation', '--json'], env);
    expect(JSON.parse(filtered.stdout)).toEqual(settled);

    const human = await jobctl(['stats'], env);
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^JOB\s+COMPLETED\s+FAILED\s+FAILURE RATE\s+AVG\s+P95$/);
    expect(lines[1]).toMatch(/^invoice-generation\s+3\s+2\s+40%\s+\d+(\.\d{1,2})? m?s\s+\d+(\.\d{1,2})? m?s$/);

    const none = await jobctl(['stats', '--since', '5m'], { ...env, JOBS_TASK_QUEUE_PREFIX: `test-${randomUUID()}` });
    expect(none).toMatchObject({ code: 0, stdout: 'No job runs closed in the last 5m.\n' });
  });

  it.each([
    {
      args: ['stats', '--since', 'nonsense'],
      says: /--since .*'nonsense' is invalid\. must be a duration like 30m, 1h or 2d/,
    },
    { args: ['stats', '--job', 'no-such-job'], says: /Unknown job "no-such-job"/ },
  ])('jobctl $args.1 $args.2 exits 1 with one line', async ({ args, says }) => {
    const run = await jobctl(args, env);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(says);
  });
});
