import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { noop } from '../../workflows';
import type { JobClient } from '../client';
import { formatDuration } from '../format';
import { percentile } from '../percentile';
import { forEachLimited, positiveInt, type BenchEnvironment, type Scenario } from './harness';

export interface ThroughputOptions {
  jobs: number;
  inFlight: number;
  timeout: number;
}

/** How many ids a warning lists before "and N more". */
const LIST_LIMIT = 5;

/**
 * Enqueues N noop jobs and waits for all of them. Every timestamp is `performance.now()` in this process: enqueue just
 * before the enqueue call, start when the activity calls `onNoopStarted`, completion when `result()` resolves.
 */
export const throughput: Scenario<ThroughputOptions> = {
  name: 'throughput',
  description: 'Enqueue N noop jobs; report jobs/s and enqueue→start and end-to-end latency',
  addOptions: (command) =>
    command
      .option('--jobs <n>', 'jobs to enqueue', positiveInt, 1000)
      .option('--in-flight <n>', 'enqueue calls in flight at once', positiveInt, 50)
      .option(
        '--timeout <seconds>',
        'give up waiting for completions this long after the last enqueue',
        positiveInt,
        300,
      ),

  uninstrumented: true,

  async run(env, options) {
    // What the instrumentation costs: N jobs on workers without job logs, metrics and sinks, and N on the
    // instrumented ones, twice, in the order A B B A so that a server slowing down as its database grows favours
    // neither. The reported latencies are the first instrumented run's; jobs/s are the means.
    const plainA = await measure(env, env.plainClient!, 'plain-1', options);
    const run = await measure(env, env.client, 'instrumented-1', options);
    const runB = await measure(env, env.client, 'instrumented-2', options);
    const plainB = await measure(env, env.plainClient!, 'plain-2', options);
    const { completed, seconds } = run;
    const jobsPerSecond = (run.metrics.jobsPerSecond + runB.metrics.jobsPerSecond) / 2;
    const plainJobsPerSecond = (plainA.metrics.jobsPerSecond + plainB.metrics.jobsPerSecond) / 2;
    const metrics = { ...run.metrics, jobsPerSecond };
    const problems = [plainA, run, runB, plainB].flatMap((r) => r.problems);
    const overhead = (1 - jobsPerSecond / plainJobsPerSecond) * 100;
    const n = options.jobs;
    return {
      metrics: { ...metrics, uninstrumentedJobsPerSecond: plainJobsPerSecond },
      problems,
      lines: [
        `throughput: ${completed} of ${n} noop jobs completed in ${formatDuration(seconds * 1000)};` +
          ` ${jobsPerSecond.toFixed(1)} jobs/s (mean of 2 runs of ${n})`,
        `  enqueue → start   p50 ${formatDuration(metrics.startP50Ms)}   p95 ${formatDuration(metrics.startP95Ms)}`,
        `  end to end        p50 ${formatDuration(metrics.endToEndP50Ms)}` +
          `   p95 ${formatDuration(metrics.endToEndP95Ms)}`,
        `  without instrumentation ${plainJobsPerSecond.toFixed(1)} jobs/s:` +
          ` instrumentation costs ${overhead.toFixed(1)}% (goal ≤ 5%)`,
      ],
    };
  },
};

/** One measured run of N noop jobs through `client`; `tag` keeps its job ids apart from another run's. */
async function measure(
  env: BenchEnvironment,
  client: JobClient,
  tag: string,
  { jobs: n, inFlight, timeout }: ThroughputOptions,
) {
  const idOf = (i: number) => `bench-${env.runId}-${tag}-${i}`;
  const indexOf = new Map(Array.from({ length: n }, (_, i) => [idOf(i), i]));
  const enqueuedAt: number[] = new Array(n).fill(Number.NaN);
  const startedAt: number[] = new Array(n).fill(Number.NaN);
  const completedAt: number[] = new Array(n).fill(Number.NaN);
  const startCounts: number[] = new Array(n).fill(0);
  const problems: string[] = [];
  const unexpected = new Set<string>();

  env.onNoopStarted((id, at) => {
    const i = indexOf.get(id);
    if (i === undefined) return void unexpected.add(id);
    startCounts[i] = startCounts[i]! + 1;
    if (startCounts[i] === 1) startedAt[i] = at;
  });

  let enqueued = 0;
  let completed = 0;
  const stopProgress = env.progress(
    () =>
      `${tag}: enqueued ${enqueued}/${n}, started ${startCounts.filter((c) => c > 0).length},` +
      ` completed ${completed}`,
  );

  const completions: Array<Promise<void>> = [];
  // Cancels the result() long polls left after a timeout, so closing the client does not wait for them.
  const giveUp = new AbortController();
  setMaxListeners(0, giveUp.signal); // every pending result() poll listens to it: no limit
  try {
    await forEachLimited(n, inFlight, async (i) => {
      enqueuedAt[i] = performance.now();
      const { workflowId, duplicate } = await client.enqueue(noop, { id: idOf(i) });
      enqueued++;
      if (duplicate) problems.push(`${workflowId} attached to an existing run instead of starting one`);
      completions.push(
        client.temporal
          .withAbortSignal(giveUp.signal, () => client.temporal.workflow.getHandle(workflowId).result())
          .then(
            () => void ((completedAt[i] = performance.now()), completed++),
            (err: unknown) => {
              if (giveUp.signal.aborted) return;
              problems.push(`${workflowId} failed: ${err instanceof Error ? err.message : String(err)}`);
            },
          ),
      );
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.all(completions).then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeout * 1000))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      giveUp.abort();
      problems.push(`gave up ${timeout} s after the last enqueue with ${n - completed} of ${n} jobs not completed`);
    }
  } finally {
    stopProgress();
  }

  const indexes = [...Array(n).keys()];
  const listIds = (is: number[]) =>
    is.slice(0, LIST_LIMIT).map(idOf).join(', ') +
    (is.length > LIST_LIMIT ? `, and ${is.length - LIST_LIMIT} more` : '');
  const neverStarted = indexes.filter((i) => startCounts[i] === 0);
  const startedTwice = indexes.filter((i) => startCounts[i]! > 1);
  if (neverStarted.length > 0) problems.push(`${neverStarted.length} jobs never started: ${listIds(neverStarted)}`);
  if (startedTwice.length > 0) {
    problems.push(`${startedTwice.length} jobs started more than once: ${listIds(startedTwice)}`);
  }
  if (unexpected.size > 0) problems.push(`${unexpected.size} noop activities started that this run did not enqueue`);

  const firstEnqueue = enqueuedAt.reduce((a, b) => Math.min(a, b), Infinity);
  const lastCompletion = completedAt.reduce((a, b) => (Number.isNaN(b) ? a : Math.max(a, b)), -Infinity);
  const seconds = completed > 0 ? (lastCompletion - firstEnqueue) / 1000 : Number.NaN;
  // Equals N / seconds when every job completed; after a timeout only the completed ones count.
  const jobsPerSecond = completed / seconds;
  const startLatency = indexes.map((i) => startedAt[i]! - enqueuedAt[i]!).filter((ms) => !Number.isNaN(ms));
  const endToEnd = indexes.map((i) => completedAt[i]! - enqueuedAt[i]!).filter((ms) => !Number.isNaN(ms));
  // Nearest rank, as in `jobctl stats`; NaN (null in the JSON line) when no job started or completed in time.
  return {
    completed,
    seconds,
    problems,
    metrics: {
      jobs: n,
      jobsPerSecond,
      startP50Ms: percentile(startLatency, 50) ?? Number.NaN,
      startP95Ms: percentile(startLatency, 95) ?? Number.NaN,
      endToEndP50Ms: percentile(endToEnd, 50) ?? Number.NaN,
      endToEndP95Ms: percentile(endToEnd, 95) ?? Number.NaN,
    },
  };
}
