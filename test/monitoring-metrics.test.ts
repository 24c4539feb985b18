import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { describe, expect, inject, it } from 'vitest';
import { freePort } from '../src/dev-server';
import { taskQueueName } from '../src/sandbox/queues';
import { healthCheck, invoiceGeneration } from './jobs';
import { eventually } from './harness';
import { jobctl, spawnJobctl } from './jobctl';
import { metricNamesInDashboard, metricNamesInRules, missingMetricNames, recordedNames } from './metric-names';

const MONITORING = path.resolve(__dirname, '../monitoring');

/**
 * Every metric name that monitoring/prometheus-rules.yml and monitoring/grafana-dashboard.json query is on a real
 * worker's /metrics once it has run a few jobs: a rule or panel naming a series that no worker exposes would never
 * fire or would stay empty, silently. The names are read from the files, so a rule added later is checked too.
 */
describe('the monitoring files against a real worker', () => {
  it('every series the rules and the dashboard name is on /metrics after a success, a failure, a remote activity and a task-queue sample', async () => {
    const rulesText = fs.readFileSync(path.join(MONITORING, 'prometheus-rules.yml'), 'utf8');
    const uses = [
      ...metricNamesInRules(rulesText, 'prometheus-rules.yml'),
      ...metricNamesInDashboard(
        JSON.parse(fs.readFileSync(path.join(MONITORING, 'grafana-dashboard.json'), 'utf8')),
        'grafana-dashboard.json',
      ),
    ];
    // The files do name the job series: an extraction that found nothing would pass vacuously.
    expect(uses.map((u) => u.name)).toEqual(
      expect.arrayContaining(['durable_jobs_job_failed_total', 'durable_jobs_job_duration_bucket']),
    );

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-monitoring-'));
    const prefix = `test-${randomUUID()}`;
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: prefix,
      JOBS_SQLITE_PATH: path.join(dir, 'app.sqlite'),
      JOBS_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    };
    expect((await jobctl(['seed', '--count', '3'], env)).code).toBe(0);
    const port = await freePort();
    const worker = spawnJobctl(['worker', '--metrics-port', String(port)], env);
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const client = new Client({ connection });
      // Workflow IDs of this test's own: IDs are per job and key, shared by every test on the dev server.
      const run = (workflowType: string, queue: Parameters<typeof taskQueueName>[1], id: string, args: unknown) =>
        client.workflow.execute(workflowType, {
          workflowId: `${id}/${prefix}`,
          taskQueue: taskQueueName(prefix, queue),
          args: [args],
        });
      // Invoice 2 is seeded; invoice 999 is not, so that run fails (durable_jobs_job_failed_total gets a series).
      await run(invoiceGeneration.workflowType, invoiceGeneration.queue, 'invoice-ok', { invoiceId: 2 });
      await expect(
        run(invoiceGeneration.workflowType, invoiceGeneration.queue, 'invoice-missing', { invoiceId: 999 }),
      ).rejects.toThrow();

      const scrape = () =>
        fetch(`http://127.0.0.1:${port}/metrics`)
          .then((r) => r.text())
          .catch(() => '');
      // One health check, as its Schedule runs it: a remote activity (the invoice's is local), for the SDK's activity
      // latency series.
      await run(healthCheck.workflowType, healthCheck.queue, 'health-check', { windowMinutes: 15 });

      // The SDK exports what a run recorded at its next collection: wait for the failure, the last job series, and
      // the worker's sample of the task queues (taken at start, then every JOBS_QUEUE_METRICS_INTERVAL).
      await eventually(
        async () => {
          const text = await scrape();
          return text.includes('durable_jobs_job_failed_total{') && text.includes('durable_jobs_task_queue_backlog{')
            ? true
            : undefined;
        },
        30_000,
        `the job series on :${port}/metrics; worker output:\n${worker.output()}`,
      );
      // The recording rules' own series are written by Prometheus, not by a worker.
      const missing = missingMetricNames(uses, await scrape(), recordedNames(rulesText));
      expect(missing).toEqual([]);
    } finally {
      await worker.stop();
      await connection.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
