import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthCheck, invoiceGeneration } from './jobs';
import { taskQueueName } from '../src/sandbox/queues';
import { capturedLogLines, createHarness, type Harness } from './harness';

/**
 * Arguments reach the job_started line only for a job declared with `logArguments: true` (health-check: its one
 * argument is a window size); every other job's lines leave them out.
 */
describe('logArguments', () => {
  let h: Harness;
  const { logger, lines } = capturedLogLines();

  beforeAll(async () => {
    h = await createHarness({ logger });
    await h.startWorkers(['high', 'default']);
  });
  afterAll(() => h?.close());

  const started = (workflowId: string) => lines.filter((l) => l.workflowId === workflowId && l.event === 'job_started');

  it('a job declared with logArguments: true logs its arguments in job_started', async () => {
    expect(healthCheck.logArguments).toBe(true);
    // Started raw under an ID of its own: health-check IDs are per window, and every test shares the server.
    const handle = await h.env.client.workflow.start(healthCheck.workflowType, {
      taskQueue: taskQueueName(h.taskQueuePrefix, healthCheck.queue),
      workflowId: `health-check/${randomUUID()}`,
      args: [{ windowMinutes: 17 }],
    });
    await handle.result();
    expect(started(handle.workflowId)).toEqual([
      expect.objectContaining({ job: 'health-check', arguments: { windowMinutes: 17 } }),
    ]);
  });

  it('a job without it logs none', async () => {
    expect(invoiceGeneration.logArguments).toBeUndefined();
    const { invoiceId } = await h.createInvoice();
    const { workflowId } = await h.client.enqueue(invoiceGeneration, { invoiceId });
    await h.env.client.workflow.getHandle(workflowId).result();
    const [line, ...more] = started(workflowId);
    expect(more).toEqual([]);
    expect(line).toMatchObject({ job: 'invoice-generation' });
    expect(line).not.toHaveProperty('arguments');
    expect(JSON.stringify(line)).not.toContain('invoiceId');
  });
});
