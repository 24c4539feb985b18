import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceGeneration } from './jobs';
import { jobStats } from '../src/client/stats';
import { taskQueueName } from '../src/sandbox/queues';
import { createHarness, eventually, type Harness } from './harness';

/**
 * `jobctl stats` (and the failure-rate alert, which reads the same figures) counts a run that hit its workflow
 * execution timeout as failed. No worker serves the queue, so the run can only end by timing out.
 */
describe('jobStats: timed-out runs', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(() => h?.close());

  it('a run that times out counts as failed; a terminated one counts as neither', async () => {
    const since = new Date();
    const start = (workflowExecutionTimeout?: string) =>
      h.env.client.workflow.start(invoiceGeneration.workflowType, {
        taskQueue: taskQueueName(h.taskQueuePrefix, invoiceGeneration.queue),
        workflowId: `invoice-generation/timed-out-${randomUUID()}`,
        args: [{ invoiceId: h.unusedId() }],
        workflowExecutionTimeout,
      });
    const timingOut = await start('1s');
    const terminated = await start();
    await terminated.terminate('not a job outcome');

    await eventually(
      async () => ((await timingOut.describe()).status.name === 'TIMED_OUT' ? true : undefined),
      20_000,
      'the run to time out',
    );
    // Visibility lags behind the run's own state: wait until both closed runs are listed.
    await eventually(
      async () => {
        let closed = 0;
        for await (const run of h.env.client.workflow.list({
          query: `TaskQueue = '${taskQueueName(h.taskQueuePrefix, 'default')}' AND ExecutionStatus != 'Running'`,
        })) {
          if (run.status.name === 'TIMED_OUT' || run.status.name === 'TERMINATED') closed++;
        }
        return closed === 2 ? true : undefined;
      },
      20_000,
      'both runs closed in visibility',
    );

    const [row] = await jobStats(h.client, { since, job: 'invoice-generation' });
    expect(row).toMatchObject({ job: 'invoice-generation', completed: 0, failed: 1, failureRate: 1 });
  });
});
