import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { processWebhook } from '../workflows';
import { createHarness, eventually, type Harness } from './harness';
import { startJobctlWorker, type JobctlProcess } from './jobctl';

/**
 * What SIGTERM does to a call that outlasts the worker's 30 s grace time (the real default: `jobctl worker` has no
 * option to shorten it). Past the grace time the SDK asks the activity to cancel, but the vendor call does not act on
 * cancellation: the worker waits for the call, reports its result and only then exits. Nothing runs twice and nothing
 * is lost. (A worker that dies mid-call is the other case: test/worker-shutdown.test.ts, the heartbeat timeout.)
 * Both workers are real `jobctl worker` processes; the vendor holds its answer for 50 s, under a 60 s client timeout.
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

  it('finishes the call on the stopping worker after the 30 s, reports it, and exits 0; the vendor sees one request', async () => {
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
    expect(exitedAt).toBeGreaterThanOrEqual(callSeenAt + 49_000); // and not before the call's answer

    const handle = h.env.client.workflow.getHandle(workflowId);
    await expect(handle.result()).resolves.toMatchObject({ alreadyProcessed: false });
    const events = (await handle.fetchHistory()).events ?? [];
    const started = events.find((e) => e.activityTaskStartedEventAttributes)!.activityTaskStartedEventAttributes!;
    const completed = events.find((e) => e.activityTaskCompletedEventAttributes)!.activityTaskCompletedEventAttributes!;
    expect(started.attempt).toBe(1);
    expect(completed.identity).toMatch(new RegExp(`^${first.child.pid}@`));
    expect(h.vendor.requests.get(key)).toBe(1);
    expect(h.vendor.effects.get(key)?.applied).toBe(1);
  }, 150_000);
});
