import os from 'node:os';
import { z } from 'zod';
import { afterEach, afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseActivityRateLimits } from '../src/config';
import { defineJob, forgetJob, type RateLimit } from '../src/sandbox/job-definition';
import { jobs } from '../src/sandbox/jobs';
import { rateLimitQueueName, taskQueuePrefixOf } from '../src/sandbox/queues';
import { rateLimitsInForce } from '../src/worker/rate-limits';
import { rateLimitedQueues } from '../src/worker/workers';
import { generateReport, noopWorkflow, processWebhook } from './jobs';
import { createHarness, eventually, type Harness } from './harness';
import { activitySpans, countPerWindow, type ActivitySpan } from './history-timing';
import { jobctl, startJobctlWorker, type JobctlProcess } from './jobctl';

const PER_SECOND = 5;
const WEBHOOKS = 200;
/** Activities waiting on the rate-limited queue (scheduled, not started) from which the limiter counts as saturated. */
const SATURATED_BACKLOG = 4 * PER_SECOND;
/**
 * Partitions of the rate-limited queue: the server's default (`matching.numTaskqueueReadPartitions`), which neither the
 * dev server's flags nor docker/dynamicconfig.yaml change. Each partition enforces its share of the rate.
 */
const RATE_LIMIT_PARTITIONS = 4;

/**
 * The longest span during which the limiter was saturated, from the histories: activities waiting (scheduled, not yet
 * started) stayed at `backlog` or more, so every token the limiter gave out met a waiting task.
 */
function saturatedSpan(spans: ActivitySpan[], backlog: number): { from: number; to: number } | undefined {
  const points = spans.flatMap((s) => [
    { at: s.scheduled, delta: 1 },
    { at: s.started, delta: -1 },
  ]);
  points.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let waiting = 0;
  let from: number | undefined;
  let longest: { from: number; to: number } | undefined;
  for (const p of points) {
    waiting += p.delta;
    if (waiting >= backlog && from === undefined) from = p.at;
    if (waiting < backlog && from !== undefined) {
      if (!longest || p.at - from > longest.to - longest.from) longest = { from, to: p.at };
      from = undefined;
    }
  }
  return longest;
}

/**
 * The vendor call's rate limit holds across worker processes: three `jobctl worker` processes serve the webhook job
 * (and so its rate-limited vendor queue), each with 10 slots, and 200 webhooks arrive at once. From the histories
 * (ActivityTaskStarted times, the server's clock): while the limiter is saturated, no second holds more starts than the
 * rate allows, and the starts keep up with the rate; every webhook completes, each calling the vendor once.
 */
describe('rate limits', () => {
  let h: Harness;
  const workers: JobctlProcess[] = [];

  beforeAll(async () => {
    h = await createHarness();
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix,
      ...h.databaseEnv,
      VENDOR_API_URL: h.vendor.url,
      JOBS_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      // The vendor's declared 10/s, lowered for this deployment: the override every worker process reads.
      JOBS_RATE_LIMITS: `processWebhook=${PER_SECOND}`,
    };
    workers.push(...(await Promise.all([1, 2, 3].map(() => startJobctlWorker('default:10', env)))));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await h?.close();
  });

  it(`200 webhooks, three worker processes, processWebhook at ${PER_SECOND}/s: saturated, each second holds the rate and the starts keep up; all complete`, async () => {
    const rateQueue = rateLimitQueueName(h.taskQueuePrefix, 'processWebhook');
    for (const worker of workers) {
      expect(worker.output()).toContain(`${rateQueue} (${PER_SECOND}/s, concurrency 10)`);
      // Its activity-only worker runs no workflows by design: no SDK warning about it at every start.
      expect(worker.output()).not.toContain('No workflows registered');
    }

    const ids: number[] = [];
    for (let i = 0; i < WEBHOOKS; i++) ids.push(await h.createWebhook({ event: 'ping', n: i }));
    // Enqueued 20 at a time: all 200 at once can outlast the enqueue's deadline on a busy machine.
    const runs: Array<{ workflowId: string }> = [];
    for (let i = 0; i < ids.length; i += 20) {
      const batch = ids.slice(i, i + 20);
      runs.push(
        ...(await Promise.all(batch.map((webhookPayloadId) => h.client.enqueue(processWebhook, { webhookPayloadId })))),
      );
    }

    // 200 at 5/s take 40 s at least.
    await eventually(
      async () => {
        const done = await h.database.db
          .selectFrom('webhook_payloads')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('id', 'in', ids)
          .where('status', '=', 'processed')
          .executeTakeFirstOrThrow();
        return Number(done.n) === WEBHOOKS ? true : undefined;
      },
      180_000,
      'all webhooks processed',
    );
    for (const run of runs) expect((await h.client.status(run.workflowId)).status, run.workflowId).toBe('Completed');

    const spans = (
      await Promise.all(runs.map((run) => activitySpans(h.env.client.workflow.getHandle(run.workflowId))))
    ).flat();
    const calls = spans.filter((s) => s.activityType === 'processWebhook');
    expect(calls, 'one vendor call activity per webhook').toHaveLength(WEBHOOKS);
    expect(new Set(calls.map((s) => s.taskQueue)), 'task queues of the vendor calls').toEqual(new Set([rateQueue]));
    const starts = calls.map((s) => s.started);

    const saturated = saturatedSpan(calls, SATURATED_BACKLOG);
    expect(saturated, `${SATURATED_BACKLOG} or more vendor calls waiting at some point`).toBeDefined();
    const { from, to } = saturated!;
    // The limiter saved up at most one second of tokens while the queue was idle (its burst), spent in the first
    // second of saturation; from then on every second counts. Temporal splits the rate between the queue's partitions
    // (4 unless configured), each with its own bucket: in a window each may start one call its share has not yet
    // earned (its next token falls inside the window), so a window holds at most the rate plus the partitions.
    const windows = countPerWindow(starts, from + 1000, to);
    const report = `vendor calls started per second while saturated (${((to - from) / 1000).toFixed(1)} s): ${windows.join(' ')}`;
    // Saturated for long enough to say: the 200 calls are scheduled far faster than 5/s unless the machine crawls.
    expect(windows.length, report).toBeGreaterThanOrEqual(5);
    expect(Math.max(...windows), report).toBeLessThanOrEqual(PER_SECOND + RATE_LIMIT_PARTITIONS);
    // Nor does the limiter starve the queue: over the saturated span, the starts keep up with the rate.
    const startedWhileSaturated = starts.filter((t) => t >= from && t < to).length;
    const rate = startedWhileSaturated / ((to - from) / 1000);
    expect(rate, `mean starts per second while saturated; ${report}`).toBeGreaterThanOrEqual(0.8 * PER_SECOND);
    expect(rate, `mean starts per second while saturated; ${report}`).toBeLessThanOrEqual(1.1 * PER_SECOND);

    const keys = new Set(ids.map((id) => `webhook-payload/${id}`));
    const requests = h.vendor.requestLog.filter((r) => keys.has(r.key));
    // Each payload went to the vendor once: waiting for a turn neither failed a call nor retried it.
    expect(requests.length).toBe(WEBHOOKS);
    expect(requests.every((r) => r.fault === 'ok')).toBe(true);

    // The limit is the cluster's, not each process's: the calls ran on more than one of the three processes.
    const identities = new Set(calls.map((s) => s.identity));
    const workerIdentities = workers.map((w) => `${w.child.pid}@${os.hostname()}`);
    expect([...identities].every((identity) => workerIdentities.includes(identity))).toBe(true);
    expect(identities.size).toBeGreaterThanOrEqual(2);
  }, 300_000);
});

describe('rate limit declarations and settings', () => {
  // Declaring a job registers it in this process: the throwaway one must not stay for the tests after it.
  afterEach(() => forgetJob('limited'));
  /** A job whose activities carry these rate limits (and `local`, when asked). */
  const declare =
    (rateLimits: Record<string, unknown>, local = false) =>
    () =>
      defineJob({
        name: 'limited',
        description: 'x',
        workflow: noopWorkflow as never,
        queue: 'default',
        args: z.strictObject({}),
        idempotencyKey: () => 'k',
        activities: Object.fromEntries(
          Object.entries(rateLimits).map(([activity, rateLimit]) => [
            activity,
            { options: { startToCloseTimeout: '1m' }, rateLimit: rateLimit as RateLimit, ...(local ? { local } : {}) },
          ]),
        ),
      });

  it('refuses a bad declaration, naming the field', () => {
    expect(declare({ processWebhook: { perSecond: 0 } })).toThrow(
      'job "limited": activities.processWebhook.rateLimit.perSecond must be a number above 0, got 0',
    );
    expect(declare({ processWebhook: { perSecond: '5' } })).toThrow('activities.processWebhook.rateLimit.perSecond');
    expect(declare({ processWebhook: { perSecond: 5, burst: 2 } })).toThrow(
      'activities.processWebhook.rateLimit.burst cannot be set',
    );
    expect(declare({ processWebhook: { perSecond: 5, perMinute: 2 } })).toThrow(
      'activities.processWebhook.rateLimit.perMinute is not a rate limit field',
    );
    expect(declare({ noopLocal: { perSecond: 5 } }, true)).toThrow(
      'activities.noopLocal.rateLimit is set on a local activity',
    );
    expect(declare({ processWebhook: { perSecond: 0.5 } })).not.toThrow();
  });

  it('JOBS_RATE_LIMITS overrides declared rates; an unknown activity or a bad rate is an error', () => {
    expect(parseActivityRateLimits('processWebhook=5, chargePayment=0.5')).toEqual({
      processWebhook: 5,
      chargePayment: 0.5,
    });
    expect(() => parseActivityRateLimits('processWebhook=0')).toThrow('JOBS_RATE_LIMITS must be');
    expect(() => parseActivityRateLimits('processWebhook')).toThrow('got "processWebhook"');
    expect(() => parseActivityRateLimits('a=1,a=2')).toThrow('names a twice');
    expect(rateLimitsInForce(jobs, { processWebhook: 5 }).get('processWebhook')).toMatchObject({
      perSecond: 5,
      declaredPerSecond: 10,
      jobs: ['process-webhook'],
      queues: ['default'],
    });
    expect(() => rateLimitsInForce(jobs, { generateInvoice: 5 })).toThrow(
      'JOBS_RATE_LIMITS names "generateInvoice", which no job rate-limits',
    );
  });

  it('a process serves the rate-limited queues of the jobs on its queues only', () => {
    expect(rateLimitedQueues('jobs', [{ queue: 'default', concurrency: 7 }]).map((q) => q.taskQueue)).toEqual([
      'jobs-rate-processWebhook',
    ]);
    expect(rateLimitedQueues('jobs', [{ queue: 'critical', concurrency: 3 }])).toMatchObject([
      { taskQueue: 'jobs-rate-chargePayment', perSecond: 25, concurrency: 3 },
    ]);
    expect(rateLimitedQueues('jobs', [{ queue: 'low', concurrency: 3 }])).toEqual([]);
    expect(taskQueuePrefixOf('test-1-default')).toBe('test-1');
    expect(taskQueuePrefixOf('elsewhere')).toBe('elsewhere');
  });

  it("jobctl jobs shows each job's controls, with the rate in force", async () => {
    const listed = await jobctl(['jobs', '--json'], { JOBS_RATE_LIMITS: 'processWebhook=5' });
    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.stdout) as Array<{ name: string; controls: string[] }>;
    expect(rows.find((r) => r.name === 'process-webhook')?.controls).toEqual([
      'rate processWebhook 5/s (declared 10/s)',
    ]);
    expect(rows.find((r) => r.name === 'process-payment')?.controls).toEqual(['rate chargePayment 25/s']);
    expect(rows.find((r) => r.name === 'invoice-generation')?.controls).toEqual([]);
    expect(rows.find((r) => r.name === 'generate-report')?.controls).toEqual([
      `concurrency ${generateReport.concurrency!.limit} per key`,
    ]);
    const text = await jobctl(['jobs'], {});
    expect(text.stdout).toMatch(/^JOB\s+TASK QUEUE\s+HTTP\s+VERSIONING\s+SCHEDULE\s+CONTROLS\s+DESCRIPTION/);
    expect(text.stdout).toMatch(/process-webhook .* rate processWebhook 10\/s /);
  });
});
