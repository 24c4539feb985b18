import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { concurrencyProbeThree, noop } from '../test/jobs';
import { SEMAPHORE_WORKFLOW_TYPE } from '../src/sandbox/concurrency';
import { formatDuration } from '../src/format';
import { percentile } from '../src/percentile';
import { forEachLimited, positiveInt, type BenchEnvironment, type Scenario } from './harness';

interface ConcurrencyOptions {
  jobs: number;
  keys: number;
}

interface Phase {
  name: string;
  label: string;
  start: (id: string, i: number) => Promise<{ workflowId: string }>;
}

interface PhaseResult {
  jobsPerSecond: number;
  serverCpuPerJobMs: number;
  p50Ms: number;
  p95Ms: number;
}

/**
 * What a per-key concurrency limit costs per job, next to an unlimited job, in one run against one server: N noop jobs
 * (no limit), then N `concurrency-probe-three` jobs (the same empty activity, limit 3 per key) spread over K keys, then
 * N of them with a key each (every job starts and closes a semaphore of its own: the worst case). Each phase: jobs/s
 * (first enqueue to last completion, 50 enqueues in flight), dev server CPU per job, and enqueue→completion latency.
 * A limited phase ends when its semaphores have closed too, so their whole cost is in its figures.
 */
export const concurrency: Scenario<ConcurrencyOptions> = {
  name: 'concurrency',
  description: 'cost per job of a per-key concurrency limit (limit 3) next to an unlimited job, same run',
  addOptions: (command: Command) =>
    command
      .option('--jobs <n>', 'jobs per phase', positiveInt, 500)
      .option('--keys <n>', 'keys the limited jobs of the second phase are spread over', positiveInt, 50),
  queues: (o) => [{ queue: 'default', concurrency: o.concurrency }],

  async run(env, options) {
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const n = options.jobs;
    const phases: Phase[] = [
      {
        name: 'unlimited',
        label: 'unlimited (noop)',
        start: (id) => env.client.enqueue(noop, { id }),
      },
      {
        name: 'limited',
        label: `limit 3, ${options.keys} keys`,
        start: (id, i) =>
          env.client.enqueue(concurrencyProbeThree, { id, key: `k${i % options.keys}-${env.runId}`, holdMs: 0 }),
      },
      {
        name: 'keyPerJob',
        label: 'limit 3, a key per job',
        start: (id) => env.client.enqueue(concurrencyProbeThree, { id, key: id, holdMs: 0 }),
      },
    ];
    const lines = [`concurrency: ${n} jobs per phase, worker concurrency ${options.concurrency}`];
    const metrics: Record<string, number> = { jobs: n, keys: options.keys };
    const problems: string[] = [];
    const results: Record<string, PhaseResult> = {};
    for (const phase of phases) {
      log(`${phase.label}: ${n} jobs…`);
      const result = await runPhase(env, phase, n, problems);
      results[phase.name] = result;
      for (const [k, v] of Object.entries(result)) metrics[`${phase.name}_${k}`] = v;
      const base = results.unlimited!;
      const extra =
        phase.name === 'unlimited'
          ? ''
          : `  (+${(result.serverCpuPerJobMs - base.serverCpuPerJobMs).toFixed(1)} ms CPU per job)`;
      lines.push(
        `  ${phase.label.padEnd(24)} ${result.jobsPerSecond.toFixed(1).padStart(7)} jobs/s` +
          `   server CPU ${result.serverCpuPerJobMs.toFixed(1).padStart(5)} ms/job` +
          `   enqueue→done p50 ${formatDuration(result.p50Ms)} p95 ${formatDuration(result.p95Ms)}${extra}`,
      );
    }
    return { lines, metrics, problems };
  },
};

async function runPhase(env: BenchEnvironment, phase: Phase, n: number, problems: string[]): Promise<PhaseResult> {
  const latencies: number[] = [];
  let completed = 0;
  const stop = env.progress(() => `${phase.name}: completed ${completed}/${n}`);
  const cpuBefore = env.serverCpuMs();
  const began = performance.now();
  let lastDone = began;
  try {
    await forEachLimited(n, 50, async (i) => {
      const at = performance.now();
      const { workflowId } = await phase.start(`bench-${env.runId}-${phase.name}-${i}`, i);
      try {
        await env.client.temporal.workflow.getHandle(workflowId).result();
        lastDone = performance.now();
        latencies.push(lastDone - at);
        completed++;
      } catch (err) {
        problems.push(`${workflowId} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
    // The semaphores close after their lease with nothing to do: wait, so their whole cost counts.
    if (phase.name !== 'unlimited') {
      const query =
        `WorkflowType = '${SEMAPHORE_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'` +
        ` AND TaskQueue = '${env.settings.taskQueuePrefix}-default'`;
      for (let tries = 0; (await env.client.temporal.workflow.count(query)).count > 0; tries++) {
        if (tries > 120) {
          problems.push(`${phase.name}: semaphores still open 60 s after the last job`);
          break;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    stop();
  }
  const cpuAfter = env.serverCpuMs();
  return {
    jobsPerSecond: completed / ((lastDone - began) / 1000),
    serverCpuPerJobMs:
      cpuBefore === undefined || cpuAfter === undefined || completed === 0
        ? Number.NaN
        : (cpuAfter - cpuBefore) / completed,
    p50Ms: percentile(latencies, 50) ?? Number.NaN,
    p95Ms: percentile(latencies, 95) ?? Number.NaN,
  };
}
