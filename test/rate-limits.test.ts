import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { afterEach, afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseActivityRateLimits } from '../src/config';
import { defineJob, forgetJob, type RateLimit } from '../src/sandbox/job-definition';
import { jobs } from '../src/sandbox/jobs';
import { rateLimitQueueName, taskQueuePrefixOf } from '../src/sandbox/queues';
import { rateLimitsInForce, rateLimitWindowBound } from '../src/worker/rate-limits';
import { rateLimitedQueues } from '../src/worker/workers';
import { generateReport, noopWorkflow, processWebhook } from './jobs';
import { createHarness, eventually, type Harness } from './harness';
import { jobctl, startJobctlWorker, type JobctlProcess } from './jobctl';

const PER_SECOND = 5;
const WEBHOOKS = 200;

/** The most requests that arrived within any one second (a sliding window over the arrival times). */
function busiestSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/**
 * The vendor call's rate limit holds across worker processes: three `jobctl worker` processes serve the webhook job
 * (and so its rate-limited vendor queue), each with 10 slots, and 200 webhooks arrive at once. The vendor, which logs
 * when each request arrived, never sees more than the limit allows in any one second, and every webhook completes.
 */
describe('rate limits', () => {
  let h: Harness;
  const workers: JobctlProcess[] = [];

  beforeAll(async () => {
    h = await createHarness();
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix,
      JOBS_SQLITE_PATH: path.join(h.dir, 'app.sqlite'),
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

  it(`200 webhooks, three worker processes, processWebhook at ${PER_SECOND}/s: never more than the limit allows in a second, all complete`, async () => {
    const rateQueue = rateLimitQueueName(h.taskQueuePrefix, 'processWebhook');
    for (const worker of workers) {
      expect(worker.output()).toContain(`${rateQueue} (${PER_SECOND}/s, concurrency 10)`);
      // Its activity-only worker runs no workflows by design: no SDK warning about it at every start.
      expect(worker.output()).not.toContain('No workflows registered');
    }

    const ids: number[] = [];
    for (let i = 0; i < WEBHOOKS; i++) ids.push(await h.createWebhook({ event: 'ping', n: i }));
    const runs = await Promise.all(
      ids.map((webhookPayloadId) => h.client.enqueue(processWebhook, { webhookPayloadId })),
    );

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

    const keys = new Set(ids.map((id) => `webhook-payload/${id}`));
    const requests = h.vendor.requestLog.filter((r) => keys.has(r.key));
    // Each payload went to the vendor once: waiting for a turn neither failed a call nor retried it.
    expect(requests.length).toBe(WEBHOOKS);
    expect(requests.every((r) => r.fault === 'ok')).toBe(true);
    const busiest = busiestSecond(requests.map((r) => r.at));
    expect(busiest, `requests in the busiest second, at ${PER_SECOND}/s`).toBeLessThanOrEqual(
      rateLimitWindowBound(PER_SECOND),
    );
    // Saturated for 40 s, the limiter holds the rate: the whole run cannot be much faster than 200 / 5 s.
    const times = requests.map((r) => r.at);
    const spanSeconds = (Math.max(...times) - Math.min(...times)) / 1000;
    expect(spanSeconds).toBeGreaterThanOrEqual((WEBHOOKS - rateLimitWindowBound(PER_SECOND)) / PER_SECOND);

    // The limit is the cluster's, not each process's: the calls ran on more than one of the three processes, on the
    // rate-limited queue.
    const identities = new Set<string>();
    for (const run of runs) {
      const events = (await h.env.client.workflow.getHandle(run.workflowId).fetchHistory()).events ?? [];
      const scheduled = events.find(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'processWebhook',
      );
      expect(scheduled?.activityTaskScheduledEventAttributes?.taskQueue?.name).toBe(rateQueue);
      const started = events.find((e) => e.activityTaskStartedEventAttributes)?.activityTaskStartedEventAttributes;
      identities.add(started?.identity ?? '');
    }
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
