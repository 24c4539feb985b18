import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { freePort } from '../src/dev-server';
import { createHarness, eventually, type Harness } from './harness';
import { jobctl } from './jobctl';

describe('jobctl', () => {
  let h: Harness;
  let env: Record<string, string>;
  beforeAll(async () => {
    h = await createHarness();
    await h.startWorkers();
    env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix,
      TEMPORAL_UI_URL: 'http://ui.test',
    };
  });
  afterAll(() => h?.close());

  it('enqueue --json prints the run; a second enqueue is a duplicate of the same run', async () => {
    const { invoiceId } = await h.createInvoice();
    const first = await jobctl(['enqueue', 'invoice-generation', JSON.stringify({ invoiceId }), '--json'], env);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    const started = JSON.parse(first.stdout.trim());
    expect(started).toEqual({
      workflowId: `invoice-generation/${invoiceId}`,
      runId: expect.any(String),
      duplicate: false,
      url: `http://ui.test/namespaces/default/workflows/invoice-generation%2F${invoiceId}/${started.runId}/history`,
    });

    const second = JSON.parse(
      (await jobctl(['enqueue', 'invoice-generation', JSON.stringify({ invoiceId }), '--json'], env)).stdout,
    );
    expect(second).toMatchObject({ runId: started.runId, duplicate: true });
  });

  it('status and list show a completed run with its result', async () => {
    const { invoiceId } = await h.createInvoice();
    const workflowId = `invoice-generation/${invoiceId}`;
    const human = await jobctl(['enqueue', 'invoice-generation', JSON.stringify({ invoiceId })], env);
    expect(human.stdout).toContain(`Enqueued ${workflowId}`);

    const status = await eventually(async () => {
      const s = JSON.parse((await jobctl(['status', workflowId, '--json'], env)).stdout);
      return s.status === 'Completed' ? s : undefined;
    });
    expect(status).toMatchObject({
      workflowId,
      job: 'invoice-generation',
      result: { invoiceId, alreadyGenerated: false },
    });
    expect((await jobctl(['status', workflowId], env)).stdout).toMatch(new RegExp(`${workflowId}\\s+Completed`));

    const listed = await eventually(async () => {
      const runs = JSON.parse(
        (await jobctl(['list', '--job', 'invoice-generation', '--status', 'completed', '--json'], env)).stdout,
      );
      return runs.find((r: { workflowId: string }) => r.workflowId === workflowId);
    });
    expect(listed).toMatchObject({ status: 'Completed', runId: status.runId });
  });

  it.each([
    {
      why: 'an unknown job',
      args: ['enqueue', 'no-such-job', '{}'],
      says: /Unknown job "no-such-job"\. Known jobs: invoice-generation/,
    },
    {
      why: 'arguments that are not JSON',
      args: ['enqueue', 'invoice-generation', '{invoiceId: 1}'],
      says: /not valid JSON/,
    },
    {
      why: 'arguments that break the schema',
      args: ['enqueue', 'invoice-generation', '{"invoiceId":"x","y":1}'],
      says: /invoiceId: .*; y: is not an argument/,
    },
    {
      why: 'a workflow ID that does not exist',
      args: ['status', 'invoice-generation/does-not-exist'],
      says: /No job run with workflow ID "invoice-generation\/does-not-exist"/,
    },
    {
      why: 'an unknown status filter',
      args: ['list', '--status', 'sleeping'],
      says: /must be one of Running, Completed/,
    },
  ])('exits 1 with one clear line for $why', async ({ args, says }) => {
    const run = await jobctl(args, env);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(says);
  });

  it('exits 1 with one clear line when the server is unreachable', async () => {
    const run = await jobctl(['enqueue', 'invoice-generation', '{"invoiceId":1}'], {
      ...env,
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/Cannot reach the Temporal server at 127\.0\.0\.1:\d+/);
  });
});
