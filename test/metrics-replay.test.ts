import { migrations } from '../activities/services/migrations';
import { randomInt, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { describe, expect, inject, it } from 'vitest';
import { openDatabase } from '../src/db/database';
import { freePort } from '../src/dev-server';
import { eventually } from './harness';
import { jobctl, spawnJobctl, type JobctlProcess } from './jobctl';

/** The value of a `job="invoice-generation"` series on a worker's /metrics, or undefined when it has none. */
async function jobMetric(port: number, name: string): Promise<number | undefined> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('job="invoice-generation"'));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

/** `jobctl worker` serving metrics on `port`, once it says it is serving. */
async function metricsWorker(port: number, env: NodeJS.ProcessEnv): Promise<JobctlProcess> {
  const worker = spawnJobctl(['worker', '--queues', 'default:2', '--metrics-port', String(port)], env);
  await eventually(
    async () => {
      if (worker.child.exitCode !== null) throw new Error(`jobctl worker exited:\n${worker.output()}`);
      return worker.output().includes('serving') ? true : undefined;
    },
    60_000,
    'jobctl worker serving',
  );
  return worker;
}

/**
 * Job metrics and job log lines are not repeated when a worker replays a workflow. Both are recorded at the end of a
 * job; a worker replays that end when it answers a query on the closed run without having it cached: here a second
 * worker process, started after the first one ran the job and stopped, rebuilds the run from its whole history,
 * completion included, to answer the SDK's built-in `__stack_trace` query.
 */
describe('job metrics and log lines during replay', () => {
  it('a worker that replays a completed job to its end records no job metric and logs no job line', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-replay-metrics-'));
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: `test-${randomUUID()}`,
      JOBS_SQLITE_PATH: path.join(dir, 'app.sqlite'),
      JOBS_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    };
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    const [port1, port2] = [await freePort(), await freePort()];
    const worker1 = await metricsWorker(port1, env);
    let worker2: JobctlProcess | undefined;
    try {
      // Workflow IDs are per job and key, not per queue prefix: an invoice id of this test's own.
      const invoiceId = randomInt(1, 2 ** 40);
      const database = await openDatabase({ sqlitePath: env.JOBS_SQLITE_PATH, migrations });
      const now = new Date().toISOString();
      await database.db
        .insertInto('users')
        .values({ id: invoiceId, email: `user${invoiceId}@example.com`, name: 'User', created_at: now })
        .execute();
      await database.db
        .insertInto('invoices')
        .values({ id: invoiceId, user_id: invoiceId, amount_cents: 4200, currency: 'EUR', created_at: now })
        .execute();
      await database.close();
      const args = JSON.stringify({ invoiceId });
      const run = await jobctl(['enqueue', 'invoice-generation', args, '--wait', '--json'], env);
      expect(run.code).toBe(0);
      const { workflowId } = JSON.parse(run.stdout.trim().split('\n').pop()!) as { workflowId: string };
      const succeeded = await eventually(
        () => jobMetric(port1, 'durable_jobs_job_succeeded_total').catch(() => undefined),
        60_000,
        `the success series on :${port1}; worker output:\n${worker1.output()}`,
      );
      expect(succeeded).toBe(1);
      expect(worker1.output()).toContain('"event":"job_succeeded"');
      await worker1.stop();

      worker2 = await metricsWorker(port2, env);
      // Only worker 2 is left to answer, and it never had the run: it answers by replaying the whole history.
      const answer = await new Client({ connection }).workflow.getHandle(workflowId).query('__stack_trace');
      expect(typeof answer).toBe('string');

      expect(await jobMetric(port2, 'durable_jobs_job_succeeded_total')).toBeUndefined();
      expect(await jobMetric(port2, 'durable_jobs_job_duration_count')).toBeUndefined();
      expect(worker2.output()).not.toContain('"event":"job_');
    } finally {
      await worker1.stop();
      await worker2?.stop();
      await connection.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
