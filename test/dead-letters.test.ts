import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { processWebhook } from './jobs';
import { createHarness, eventually, type Harness } from './harness';
import { jobctl } from './jobctl';

/**
 * Dead letters end to end on the real dev server: a webhook the vendor rejects with 4xx is retried once after 10 s
 * (real seconds here) and discarded; `jobctl dead` lists it, `jobctl retry` runs it again once.
 */
describe('jobctl dead and jobctl retry', () => {
  let h: Harness;
  let env: Record<string, string>;
  const deadIds: number[] = [];

  beforeAll(async () => {
    h = await createHarness();
    await h.startWorkers();
    env = { TEMPORAL_ADDRESS: inject('temporalAddress'), JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix };
    for (let i = 0; i < 2; i++) {
      const id = await h.createWebhook();
      h.vendor.script(`webhook-payload/${id}`, ['client_error', 'client_error']); // then the vendor accepts it
      deadIds.push(id);
    }
    const runs = await Promise.all(
      deadIds.map((webhookPayloadId) => h.client.enqueue(processWebhook, { webhookPayloadId })),
    );
    for (const run of runs) await expect(h.env.client.workflow.getHandle(run.workflowId).result()).rejects.toThrow();
  }, 60_000);
  afterAll(() => h?.close());

  /** What the vendor saw under a payload's one idempotency key. */
  const vendorSaw = (id: number) => {
    const key = `webhook-payload/${id}`;
    const effect = h.vendor.effects.get(key);
    return {
      requests: h.vendor.requests.get(key) ?? 0,
      applied: effect?.applied ?? 0,
      replayed: effect?.replayed ?? 0,
    };
  };

  const deadList = async (...filters: string[]) => {
    const run = await jobctl(['dead', '--job', 'process-webhook', ...filters, '--json'], env);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    return (JSON.parse(run.stdout) as Array<{ workflowId: string; errorType: string; message: string }>).filter((d) =>
      deadIds.some((id) => d.workflowId === `process-webhook/${id}`),
    );
  };

  it('lists discarded webhooks with their error type and message, filtered by error type', async () => {
    const dead = await eventually(async () => {
      const list = await deadList('--error', 'ClientError');
      return list.length === 2 ? list : undefined;
    });
    expect(dead.map((d) => d.workflowId).sort()).toEqual(deadIds.map((id) => `process-webhook/${id}`).sort());
    expect(dead[0]).toMatchObject({
      errorType: 'ClientError',
      message: expect.stringMatching(/HTTP 422.*discarded after attempt 2/),
    });
    expect(await deadList('--error', 'ServerError')).toEqual([]);
    const payloads = await h.database.db
      .selectFrom('webhook_payloads')
      .select(['status', 'last_error_type'])
      .where('id', 'in', deadIds)
      .execute();
    expect(payloads).toEqual([
      { status: 'dead', last_error_type: 'ClientError' },
      { status: 'dead', last_error_type: 'ClientError' },
    ]);
    for (const id of deadIds) expect(vendorSaw(id)).toEqual({ requests: 2, applied: 0, replayed: 0 }); // 2 attempts
  });

  it('retry runs a dead webhook again once; retrying it twice does not process it twice', async () => {
    const workflowId = `process-webhook/${deadIds[0]}`;
    const [first, second] = await Promise.all([
      jobctl(['retry', workflowId, '--json'], env),
      jobctl(['retry', workflowId, '--json'], env),
    ]);
    const results = [...JSON.parse(first.stdout), ...JSON.parse(second.stdout)] as Array<{
      retried: boolean;
      runId: string;
    }>;
    expect(results.filter((r) => r.retried)).toHaveLength(1);
    expect(new Set(results.map((r) => r.runId)).size).toBe(1); // the second attached to the first retry's run

    await h.env.client.workflow.getHandle(workflowId).result();
    const again = JSON.parse((await jobctl(['retry', workflowId, '--json'], env)).stdout);
    expect(again).toMatchObject([{ retried: false, status: 'Completed' }]);
    // The two discarded attempts, then exactly one more request: one retried run, not two.
    expect(vendorSaw(deadIds[0]!)).toEqual({ requests: 3, applied: 1, replayed: 0 });
    expect(
      await h.database.db
        .selectFrom('webhook_payloads')
        .select('status')
        .where('id', '=', deadIds[0]!)
        .executeTakeFirst(),
    ).toEqual({ status: 'processed' });
  });

  it('bulk retry by job and error type runs the remaining dead webhook, and dead no longer lists either', async () => {
    const run = await jobctl(['retry', '--job', 'process-webhook', '--error', 'ClientError', '--json'], env);
    expect(run.code).toBe(0);
    const retried = (JSON.parse(run.stdout) as Array<{ workflowId: string; retried: boolean }>).filter(
      (r) => r.retried,
    );
    expect(retried.map((r) => r.workflowId)).toContain(`process-webhook/${deadIds[1]}`);
    await h.env.client.workflow.getHandle(`process-webhook/${deadIds[1]}`).result();
    expect(await deadList()).toEqual([]);
    expect(vendorSaw(deadIds[1]!)).toEqual({ requests: 3, applied: 1, replayed: 0 });
  });

  it('retry without a target, or with both a target and a filter, is one clear error', async () => {
    const none = await jobctl(['retry'], env);
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(none.stderr).toMatch(/give a workflow ID, or select dead jobs with --job, --error or --all/);

    const both = await jobctl(['retry', `process-webhook/${deadIds[1]}`, '--error', 'ClientError'], env);
    expect(both).toMatchObject({ code: 1, stdout: '' });
    expect(both.stderr).toMatch(/give either a workflow ID or --job\/--error\/--all, not both/);
  });
});
