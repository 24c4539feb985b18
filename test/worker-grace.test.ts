import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { processWebhook } from './jobs';
import { createHarness, eventually, type Harness } from './harness';
import { startJobctlWorker, type JobctlProcess } from './jobctl';

/**
 * What SIGTERM does to a call that outlasts the worker's 30 s grace time (the real default: `jobctl worker` has no
 * option to shorten it). Past the grace time the SDK cancels the activity, and the vendor call acts on it: the request
 * is aborted, the worker exits at the grace time instead of whenever the vendor answers, and the attempt is retried
 * on the other worker under the same idempotency key, so the vendor applies the webhook once. (A worker that dies
 * mid-call is the other case: test/worker-shutdown.test.ts, the heartbeat timeout.) Both workers are real `jobctl
 * worker` processes; the vendor holds its first answer for 50 s, under a 60 s client timeout.
 */
describe('a worker stopped while an activity outlasts the grace time', () => {
  let h: Harness;
  const workers: JobctlProcess[] = [];

  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => {
    for (const w of workers) await w.stop('SIGKILL');
    await h?.close();
  });

  it('abandons the call at the 30 s grace time and exits 0; the other worker retries it and the vendor applies it once', async () => {
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix,
      JOBS_SQLITE_PATH: path.join(h.dir, 'app.sqlite'),
      JOBS_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      VENDOR_API_URL: h.vendor.url,
      VENDOR_API_TIMEOUT_MS: '60000',
    };
    const id = await h.createWebhook();
    const key = `webhook-payload/${id}`;
    h.vendor.script(key, [{ kind: 'timeout', delayMs: 50_000 }, 'ok']); // applied, then the answer held 50 s
    const first = await startJobctlWorker('default:2', env);
    workers.push(first);
    const { workflowId } = await h.client.enqueue(processWebhook, { webhookPayloadId: id });
    await eventually(async () => (h.vendor.requests.get(key) ? true : undefined), 30_000, 'the vendor call to start');
    const callSeenAt = Date.now();
    const second = await startJobctlWorker('default:2', env); // takes the job's next workflow task
    workers.push(second);

    const stoppedAt = Date.now();
    first.child.kill('SIGTERM');
    const exitCode = await first.exited;
    const exitedAt = Date.now();
    expect(exitCode).toBe(0);
    expect(exitedAt - stoppedAt).toBeGreaterThanOrEqual(30_000); // not before the grace time
    expect(exitedAt).toBeLessThan(callSeenAt + 49_000); // nor waiting for the held answer: the call was aborted

    const handle = h.env.client.workflow.getHandle(workflowId);
    await expect(handle.result()).resolves.toMatchObject({ alreadyProcessed: false });
    const events = (await handle.fetchHistory()).events ?? [];
    const started = events.find((e) => e.activityTaskStartedEventAttributes)!.activityTaskStartedEventAttributes!;
    const completed = events.find((e) => e.activityTaskCompletedEventAttributes)!.activityTaskCompletedEventAttributes!;
    expect(started.attempt).toBe(2); // the first attempt, aborted at shutdown, was retried
    expect(completed.identity).toMatch(new RegExp(`^${second.child.pid}@`));
    expect(h.vendor.requests.get(key)).toBe(2);
    expect(h.vendor.effects.get(key)?.applied).toBe(1);
  }, 150_000);
});
