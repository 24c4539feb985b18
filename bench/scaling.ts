import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError } from 'commander';
import { JobClient } from '../src/client/client';
import { formatDuration } from '../src/format';
import { noop } from '../test/jobs';
import { bundleWorkflows } from '../src/worker/workers';
import { testApp } from '../test/jobs/app';
import { forEachLimited, positiveInt, residentMb, startWorkerChild, type Scenario } from './harness';

interface ScalingOptions {
  jobs: number;
  processes: number[];
  perProcess: number;
  timeout: number;
}

/**
 * Horizontal scaling, measured with real processes: for each count K, K `jobctl worker` processes (the command users
 * deploy) share one server and one database and run N noop jobs on their own task queues. Reports jobs/s and each
 * worker process's resident memory per K. Every job must complete; a failed or missing one is a problem, not a figure.
 */
export const scaling: Scenario<ScalingOptions> = {
  name: 'scaling',
  description: 'jobs/s with 1, 2, … worker processes sharing one server (real `jobctl worker` processes)',
  addOptions: (command) =>
    command
      .option('--jobs <n>', 'noop jobs per worker count', positiveInt, 2000)
      .option('--processes <list>', 'worker process counts to measure, e.g. 1,2,4', parseCounts, [1, 2, 4])
      .option('--per-process <n>', 'activity slots of each worker process', positiveInt, 10)
      .option('--timeout <seconds>', 'give up on a worker count this long after its last enqueue', positiveInt, 300),
  inProcessWorkers: false,

  async run(env, options) {
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const metrics: Record<string, number> = { jobs: options.jobs, perProcess: options.perProcess };
    const lines: string[] = [];
    const problems: string[] = [];
    // Built once, as the Docker image does: the processes load it instead of each bundling at start.
    const bundleFile = path.join(path.dirname(env.settings.sqlitePath), 'workflow-bundle.js');
    fs.writeFileSync(bundleFile, (await bundleWorkflows({ workflowsPath: testApp.workflowsPath })).code);

    for (const count of options.processes) {
      const prefix = `${env.settings.taskQueuePrefix}-p${count}`;
      log(`${count} worker process(es): starting…`);
      const workers = await Promise.all(
        Array.from({ length: count }, () =>
          startWorkerChild(env.settings, prefix, `default:${options.perProcess}`, bundleFile),
        ),
      );
      try {
        const client = new JobClient({ client: env.client.temporal, taskQueuePrefix: prefix });
        let completed = 0;
        const stop = env.progress(() => `${count} process(es): completed ${completed}/${options.jobs}`);
        const results: Array<Promise<unknown>> = [];
        const began = performance.now();
        try {
          await forEachLimited(options.jobs, 50, async (i) => {
            const { workflowId } = await client.enqueue(noop, { id: `scale-${env.runId}-${count}-${i}` });
            results.push(
              client.temporal.workflow
                .getHandle(workflowId)
                .result()
                .then(() => void completed++),
            );
          });
          const outcome = await Promise.race([
            Promise.allSettled(results),
            new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), options.timeout * 1000).unref()),
          ]);
          if (outcome === 'timeout') {
            const missing = options.jobs - completed;
            problems.push(`${count} process(es): ${missing} jobs not completed after ${options.timeout} s`);
          } else {
            for (const r of outcome) {
              if (r.status === 'rejected') problems.push(`${count} process(es): a job failed: ${String(r.reason)}`);
            }
          }
        } finally {
          stop();
        }
        const seconds = (performance.now() - began) / 1000;
        const jobsPerSecond = completed / seconds;
        const rssMb = workers.map((w) => residentMb(w.process.pid!)).filter((mb) => mb > 0);
        const meanRss = rssMb.reduce((a, b) => a + b, 0) / Math.max(1, rssMb.length);
        metrics[`p${count}JobsPerSecond`] = jobsPerSecond;
        metrics[`p${count}WorkerRssMb`] = meanRss;
        lines.push(
          `  ${String(count).padStart(2)} process(es): ${completed}/${options.jobs} jobs in` +
            ` ${formatDuration(seconds * 1000)} = ${jobsPerSecond.toFixed(1)} jobs/s;` +
            ` worker RSS ${meanRss.toFixed(0)} MB each`,
        );
      } finally {
        await Promise.all(workers.map((w) => w.stop()));
      }
    }
    const jobsPerCount = `${options.jobs} noop jobs per worker count`;
    const heading = `scaling: ${jobsPerCount}, ${options.perProcess} slots per process, one server`;
    return { metrics, problems, lines: [heading, ...lines] };
  },
};

function parseCounts(value: string): number[] {
  const counts = value.split(',').map((s) => Number(s.trim()));
  if (counts.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1 || n > 32)) {
    throw new InvalidArgumentError('must be a comma-separated list of process counts from 1 to 32, e.g. 1,2,4');
  }
  return counts;
}
