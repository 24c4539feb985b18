import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../src/dev-server';
import { invoiceGeneration, processWebhook } from './jobs';
import { createHarness, eventually, type Harness } from './harness';
import { jobctl } from './jobctl';
import { TEST_LOG_DIR } from './time-skipping-server';

/**
 * `jobctl retry --all` runs every dead job again, whatever its job. `dead` and `retry` read only the deployment's own
 * task queues; this test still has a dev server of its own, so that nothing else on it can be dead.
 */
describe('jobctl retry --all', () => {
  let server: DevServer;
  let env: TestWorkflowEnvironment;
  let h: Harness;
  let jobctlEnv: Record<string, string>;
  let webhookId: number;
  let invoiceId: number;

  beforeAll(async () => {
    server = await startDevServer({
      port: 0,
      headless: true,
      logFile: path.join(TEST_LOG_DIR, 'retry-all-dev-server.log'),
      log: () => {},
    });
    env = await TestWorkflowEnvironment.createFromExistingServer({ address: server.address });
    h = await createHarness({ env });
    await h.startWorkers();
    jobctlEnv = { TEMPORAL_ADDRESS: server.address, JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix };

    // Two dead jobs of two different jobs: a webhook the vendor rejects twice (4xx, discarded after its one retry),
    // and an invoice that did not exist yet.
    webhookId = await h.createWebhook();
    h.vendor.script(`webhook-payload/${webhookId}`, ['client_error', 'client_error']);
    invoiceId = h.unusedId();
    const runs = await Promise.all([
      h.client.enqueue(processWebhook, { webhookPayloadId: webhookId }),
      h.client.enqueue(invoiceGeneration, { invoiceId }),
    ]);
    for (const run of runs) await expect(h.env.client.workflow.getHandle(run.workflowId).result()).rejects.toThrow();
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    await env?.teardown();
    await server?.stop();
  });

  const dead = async () => {
    const run = await jobctl(['dead', '--json'], jobctlEnv);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    return (JSON.parse(run.stdout) as Array<{ workflowId: string }>).map((d) => d.workflowId).sort();
  };

  it('retries the dead jobs of every job once; dead then lists none', async () => {
    const ids = [`invoice-generation/${invoiceId}`, `process-webhook/${webhookId}`];
    await eventually(async () => ((await dead()).length === 2 ? true : undefined), 20_000, 'both dead in visibility');
    expect(await dead()).toEqual(ids);
    // The data is fixed now: the invoice exists (the webhook's vendor accepts it on its third request).
    const now = new Date().toISOString();
    await h.database.db
      .insertInto('users')
      .values({ id: invoiceId, email: `user${invoiceId}@example.com`, name: 'User', created_at: now })
      .execute();
    await h.database.db
      .insertInto('invoices')
      .values({ id: invoiceId, user_id: invoiceId, amount_cents: 4200, currency: 'EUR', created_at: now })
      .execute();

    const run = await jobctl(['retry', '--all', '--json'], jobctlEnv);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const retried = JSON.parse(run.stdout) as Array<{ workflowId: string; retried: boolean }>;
    expect(
      retried
        .filter((r) => r.retried)
        .map((r) => r.workflowId)
        .sort(),
    ).toEqual(ids);

    await expect(h.env.client.workflow.getHandle(ids[0]!).result()).resolves.toMatchObject({ invoiceId });
    await h.env.client.workflow.getHandle(ids[1]!).result();
    expect(await dead()).toEqual([]);
    expect(h.vendor.effects.get(`webhook-payload/${webhookId}`)?.applied).toBe(1);

    // Retrying again finds nothing dead, and starts nothing.
    const again = await jobctl(['retry', '--all', '--json'], jobctlEnv);
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as Array<{ retried: boolean }>).filter((r) => r.retried)).toEqual([]);
  }, 60_000);
});
