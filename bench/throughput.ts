import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { InvalidArgumentError } from 'commander';
import { noop } from '../test/jobs';
import type { JobClient } from '../src/client/client';
import { formatDuration } from '../src/format';
import { percentile } from '../src/percentile';
import { bareLocalWorkflow, bareRemoteWorkflow, startBareSdkWorker, type BareSdkWorker } from './bare-sdk';
import { forEachLimited, positiveInt, type BenchEnvironment, type Scenario } from './harness';

/**
 * What runs N noop jobs: ours through `JobClient.enqueue` on the instrumented workers (its activity remote, or local:
 * `{ local: true }`), ours on workers without instrumentation, and the bare Temporal SDK (a sample-style workflow and worker) with a remote or a local activity.
 */
const VARIANTS = ['ours', 'ours-local', 'bare-remote', 'bare-local', 'ours-plain'] as const;
type VariantName = (typeof VARIANTS)[number];

const LABELS: Record<VariantName, string> = {
  ours: 'ours',
  'ours-local': 'ours, local activity',
  'ours-plain': 'without instrumentation',
  'bare-remote': 'bare SDK, remote activity',
  'bare-local': 'bare SDK, local activity',
};

export interface ThroughputOptions {
  jobs: number;
  inFlight: number;
  timeout: number;
  variants: VariantName[];
  warmup: number;
  /** Open-loop run of ours at this rate (jobs/s), or 'auto': half of ours' measured jobs/s; 0: none. */
  rate: number | 'auto';
}

/** How many ids a warning lists before "and N more". */
const LIST_LIMIT = 5;

/**
 * Runs N noop jobs per variant and waits for all of them. Every timestamp is `performance.now()` in this process:
 * enqueue just before the enqueue (or start) call, start when the activity says it started, completion when
 * `result()` resolves.
 */
export const throughput: Scenario<ThroughputOptions> = {
  name: 'throughput',
  description:
    'Enqueue N noop jobs; report jobs/s and enqueue→start and end-to-end latency, ' +
    'against the bare Temporal SDK on the same server in the same run',
  addOptions: (command) =>
    command
      .option('--jobs <n>', 'jobs per measured run (each variant runs twice)', positiveInt, 1000)
      .option('--in-flight <n>', 'enqueue calls in flight at once', positiveInt, 50)
      .option(
        '--timeout <seconds>',
        'give up waiting for completions this long after the last enqueue',
        positiveInt,
        300,
      )
      .option('--variants <list>', `what to run, comma-separated: ${VARIANTS.join(', ')}`, parseVariants, [
        ...VARIANTS,
      ] as VariantName[])
      .option('--warmup <n>', 'unmeasured jobs per variant before the measured runs', nonNegativeInt, 20)
      .option(
        '--rate <jobs/s>',
        'then enqueue ours at this fixed rate (open loop) and report p50/p95/p99 latency; auto: half the measured ' +
          'jobs/s; 0: skip',
        parseRate,
        'auto',
      ),

  uninstrumented: true,

  async run(env, options) {
    const selected = VARIANTS.filter((v) => options.variants.includes(v));
    const problems: string[] = [];
    const usesBare = selected.some((v) => v.startsWith('bare-'));
    const bare = usesBare
      ? await startBareSdkWorker(env.settings, {
          taskQueue: `${env.settings.taskQueuePrefix}-bare`,
          concurrency: options.concurrency,
        })
      : undefined;
    const runs = new Map<VariantName, Run[]>(selected.map((v) => [v, []]));
    const order: Array<{ variant: VariantName; jobsPerSecond: number }> = [];
    try {
      const variants = new Map(selected.map((name) => [name, variantFor(name, env, bare)]));
      // Warm-up first (each path's first workflows pay for JIT, caches, a new V8 context), then the variants
      // interleaved, in one order and then the reverse, so that a server slowing down as its database grows favours
      // none: each variant's two runs sit at the same mean position.
      if (options.warmup > 0) {
        for (const [name, variant] of variants) {
          problems.push(
            ...(await measure(env, variant, `${name}-warmup`, { ...options, jobs: options.warmup })).problems,
          );
        }
      }
      for (const [round, names] of [selected, [...selected].reverse()].entries()) {
        for (const name of names) {
          const run = await measure(env, variants.get(name)!, `${name}-${round + 1}`, options);
          problems.push(...run.problems);
          runs.get(name)!.push(run);
          order.push({ variant: name, jobsPerSecond: run.metrics.jobsPerSecond });
        }
      }
    } finally {
      await bare?.stop();
    }
    // Open loop: jobs arrive at a fixed rate whether or not earlier ones are done, as web traffic does; the latency
    // figures of the closed-loop runs above measure the queue the bench itself builds.
    let openLoop: Run | undefined;
    let rate: number | undefined;
    const measured = runs.get('ours');
    if (options.rate !== 0 && measured && measured.length > 0) {
      rate =
        options.rate === 'auto'
          ? measured.reduce((sum, r) => sum + r.metrics.jobsPerSecond, 0) / measured.length / 2
          : options.rate;
      openLoop = await measure(env, variantFor('ours', env, bare), 'ours-open-loop', {
        ...options,
        ratePerSecond: rate,
      });
      problems.push(...openLoop.problems);
    }
    if (bare?.failure() !== undefined) problems.push(`bare SDK worker failed: ${String(bare.failure())}`);

    const n = options.jobs;
    const mean = (name: VariantName) => {
      const rs = runs.get(name);
      return rs && rs.reduce((sum, r) => sum + r.metrics.jobsPerSecond, 0) / rs.length;
    };
    const ours = runs.get('ours')?.[0];
    const oursJobsPerSecond = mean('ours');
    const plainJobsPerSecond = mean('ours-plain');
    const oursLocal = mean('ours-local');
    const bareRemote = mean('bare-remote');
    const bareLocal = mean('bare-local');
    const bestBare = [
      { name: 'bare-remote' as const, jobsPerSecond: bareRemote },
      { name: 'bare-local' as const, jobsPerSecond: bareLocal },
    ]
      .filter((b): b is { name: 'bare-remote' | 'bare-local'; jobsPerSecond: number } => b.jobsPerSecond !== undefined)
      .sort((a, b) => b.jobsPerSecond - a.jobsPerSecond)[0];
    const percentOf = (base: number | undefined) =>
      oursJobsPerSecond === undefined || base === undefined ? undefined : (oursJobsPerSecond / base) * 100;

    const lines: string[] = [];
    const latencies = (r: Run) =>
      `end to end p50 ${formatDuration(r.metrics.endToEndP50Ms)}   p95 ${formatDuration(r.metrics.endToEndP95Ms)}`;
    if (ours && oursJobsPerSecond !== undefined) {
      lines.push(
        `throughput: ${ours.completed} of ${n} noop jobs completed in ${formatDuration(ours.seconds * 1000)};` +
          ` ${oursJobsPerSecond.toFixed(1)} jobs/s (mean of 2 runs of ${n})`,
        `  enqueue → start   p50 ${formatDuration(ours.metrics.startP50Ms)}` +
          `   p95 ${formatDuration(ours.metrics.startP95Ms)}`,
        `  end to end        p50 ${formatDuration(ours.metrics.endToEndP50Ms)}` +
          `   p95 ${formatDuration(ours.metrics.endToEndP95Ms)}`,
      );
      if (plainJobsPerSecond !== undefined) {
        const overhead = (1 - oursJobsPerSecond / plainJobsPerSecond) * 100;
        lines.push(
          `  without instrumentation ${plainJobsPerSecond.toFixed(1)} jobs/s:` +
            ` instrumentation costs ${overhead.toFixed(1)}% (goal ≤ 5%)`,
        );
      }
    } else {
      lines.push(`throughput: ${n} noop jobs per run, 2 runs per variant`);
      if (plainJobsPerSecond !== undefined) {
        lines.push(
          `  ${LABELS['ours-plain']}: ${plainJobsPerSecond.toFixed(1)} jobs/s; ${latencies(runs.get('ours-plain')![0]!)}`,
        );
      }
    }
    for (const name of ['ours-local', 'bare-remote', 'bare-local'] as const) {
      const jobsPerSecond = mean(name);
      if (jobsPerSecond === undefined) continue;
      lines.push(`  ${LABELS[name]}: ${jobsPerSecond.toFixed(1)} jobs/s; ${latencies(runs.get(name)![0]!)}`);
    }
    if (oursJobsPerSecond !== undefined && bestBare) {
      const ratios = [
        bareRemote === undefined ? undefined : `ours ÷ bare remote ${percentOf(bareRemote)!.toFixed(1)}%`,
        bareLocal === undefined ? undefined : `ours ÷ bare local ${percentOf(bareLocal)!.toFixed(1)}%`,
        `ours ÷ best bare (${bestBare.name}) ${percentOf(bestBare.jobsPerSecond)!.toFixed(1)}%`,
      ];
      lines.push(`  ${ratios.filter(Boolean).join('   ')}`);
    }
    if (oursLocal !== undefined && bareLocal !== undefined) {
      lines.push(`  local activities: ours ÷ bare local ${((oursLocal / bareLocal) * 100).toFixed(1)}%`);
    }
    lines.push(
      `  runs in order (jobs/s): ${order.map((r) => `${r.variant} ${r.jobsPerSecond.toFixed(1)}`).join(', ')}`,
    );
    const serverCpu = runs.get('ours')?.map((r) => r.metrics.serverCpuPerJobMs);
    const serverCpuPerJobMs = serverCpu && serverCpu.reduce((a, b) => a + b, 0) / serverCpu.length;
    if (serverCpuPerJobMs !== undefined && !Number.isNaN(serverCpuPerJobMs)) {
      const bareCpu = (['ours-local', 'bare-remote', 'bare-local'] as const)
        .filter((name) => runs.has(name))
        .map((name) => {
          const rs = runs.get(name)!;
          return `${name} ${(rs.reduce((a, r) => a + r.metrics.serverCpuPerJobMs, 0) / rs.length).toFixed(1)} ms`;
        });
      lines.push(
        `  dev server CPU per job: ours ${serverCpuPerJobMs.toFixed(1)} ms` +
          `${bareCpu.length > 0 ? `, ${bareCpu.join(', ')}` : ''} (goal ≤ 9 ms)`,
      );
    }
    if (openLoop && rate !== undefined) {
      const m = openLoop.metrics;
      lines.push(
        `  open loop at ${rate.toFixed(1)} jobs/s (${options.jobs} jobs, ours):` +
          ` enqueue → start p50 ${formatDuration(m.startP50Ms)} p95 ${formatDuration(m.startP95Ms)}` +
          ` p99 ${formatDuration(m.startP99Ms)};` +
          ` end to end p50 ${formatDuration(m.endToEndP50Ms)} p95 ${formatDuration(m.endToEndP95Ms)}` +
          ` p99 ${formatDuration(m.endToEndP99Ms)}`,
      );
    }

    const metrics: Record<string, number> = { jobs: n };
    if (ours && oursJobsPerSecond !== undefined) {
      Object.assign(metrics, ours.metrics, { jobsPerSecond: oursJobsPerSecond });
    }
    const optional: Record<string, number | undefined> = {
      uninstrumentedJobsPerSecond: plainJobsPerSecond,
      localJobsPerSecond: oursLocal,
      localPercentOfBareLocal:
        oursLocal === undefined || bareLocal === undefined ? undefined : (oursLocal / bareLocal) * 100,
      bestPercentOfBestBare:
        bestBare && (oursJobsPerSecond !== undefined || oursLocal !== undefined)
          ? (Math.max(oursJobsPerSecond ?? 0, oursLocal ?? 0) / bestBare.jobsPerSecond) * 100
          : undefined,
      bareRemoteJobsPerSecond: bareRemote,
      bareLocalJobsPerSecond: bareLocal,
      // Percentages: the JSON line rounds every number to 1 decimal, which would leave a ratio of 0.43 at 0.4.
      percentOfBareRemote: percentOf(bareRemote),
      percentOfBareLocal: percentOf(bareLocal),
      percentOfBestBare: percentOf(bestBare?.jobsPerSecond),
      serverCpuPerJobMs,
      openLoopRate: rate,
      openLoopStartP50Ms: openLoop?.metrics.startP50Ms,
      openLoopStartP95Ms: openLoop?.metrics.startP95Ms,
      openLoopStartP99Ms: openLoop?.metrics.startP99Ms,
      openLoopEndToEndP50Ms: openLoop?.metrics.endToEndP50Ms,
      openLoopEndToEndP95Ms: openLoop?.metrics.endToEndP95Ms,
      openLoopEndToEndP99Ms: openLoop?.metrics.endToEndP99Ms,
    };
    for (const [key, value] of Object.entries(optional)) if (value !== undefined) metrics[key] = value;
    return { metrics, problems, lines };
  },
};

/** How one variant starts a job and hears that its activity started. */
interface Variant {
  /** For `withAbortSignal` around the `result()` polls. */
  temporal: Client;
  onStarted(listener: (id: string, at: number) => void): void;
  /** Starts job `id`; `duplicate` when it attached to an existing run instead of starting one. */
  start(id: string): Promise<{ workflowId: string; duplicate: boolean; result: () => Promise<unknown> }>;
}

function variantFor(name: VariantName, env: BenchEnvironment, bare: BareSdkWorker | undefined): Variant {
  switch (name) {
    case 'ours':
      return ourVariant(env, env.client);
    case 'ours-local':
      return ourVariant(env, env.client, true);
    case 'ours-plain':
      return ourVariant(env, env.plainClient!);
    case 'bare-remote':
      return bareVariant(env, bare!, bareRemoteWorkflow);
    case 'bare-local':
      return bareVariant(env, bare!, bareLocalWorkflow);
  }
}

/** Our noop job through `JobClient.enqueue`, on the workers behind `client`'s queue prefix. */
function ourVariant(env: BenchEnvironment, client: JobClient, local = false): Variant {
  return {
    temporal: client.temporal,
    onStarted: env.onNoopStarted,
    async start(id) {
      const { workflowId, duplicate } = await client.enqueue(noop, local ? { id, local } : { id });
      return { workflowId, duplicate, result: () => client.temporal.workflow.getHandle(workflowId).result() };
    },
  };
}

/**
 * A bare workflow as the samples start one: `client.workflow.start(fn, { taskQueue, workflowId, args })`, then
 * `handle.result()`. Its client shares our client's connection but none of its options (no payload codec).
 */
function bareVariant(
  env: BenchEnvironment,
  bare: BareSdkWorker,
  workflow: typeof bareRemoteWorkflow | typeof bareLocalWorkflow,
): Variant {
  const temporal = new Client({ connection: env.client.temporal.connection, namespace: env.client.namespace });
  return {
    temporal,
    onStarted: (listener) => bare.onStarted(listener),
    async start(id) {
      try {
        const handle = await temporal.workflow.start(workflow, {
          taskQueue: bare.taskQueue,
          workflowId: id,
          args: [id],
        });
        return { workflowId: id, duplicate: false, result: () => handle.result() };
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        return { workflowId: id, duplicate: true, result: () => temporal.workflow.getHandle(id).result() };
      }
    },
  };
}

type Run = Awaited<ReturnType<typeof measure>>;

/** One measured run of N noop jobs of `variant`; `tag` keeps its job ids apart from another run's. */
async function measure(
  env: BenchEnvironment,
  variant: Variant,
  tag: string,
  {
    jobs: n,
    inFlight,
    timeout,
    ratePerSecond,
  }: Pick<ThroughputOptions, 'jobs' | 'inFlight' | 'timeout'> & { ratePerSecond?: number },
) {
  const idOf = (i: number) => `bench-${env.runId}-${tag}-${i}`;
  const indexOf = new Map(Array.from({ length: n }, (_, i) => [idOf(i), i]));
  const enqueuedAt: number[] = new Array(n).fill(Number.NaN);
  const startedAt: number[] = new Array(n).fill(Number.NaN);
  const completedAt: number[] = new Array(n).fill(Number.NaN);
  const startCounts: number[] = new Array(n).fill(0);
  const problems: string[] = [];
  const unexpected = new Set<string>();

  variant.onStarted((id, at) => {
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
  const serverCpuBefore = env.serverCpuMs();
  const began = performance.now();
  try {
    // Closed loop: `inFlight` enqueue calls at a time. Open loop: job i is enqueued at `i / rate` s, however many
    // earlier calls are still in flight.
    const paced = async (i: number) => {
      const due = began + (i * 1000) / ratePerSecond!;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await enqueueOne(i);
    };
    const enqueueOne = async (i: number) => {
      enqueuedAt[i] = performance.now();
      const { workflowId, duplicate, result } = await variant.start(idOf(i));
      enqueued++;
      if (duplicate) problems.push(`${workflowId} attached to an existing run instead of starting one`);
      completions.push(
        variant.temporal.withAbortSignal(giveUp.signal, result).then(
          () => void ((completedAt[i] = performance.now()), completed++),
          (err: unknown) => {
            if (giveUp.signal.aborted) return;
            problems.push(`${workflowId} failed: ${err instanceof Error ? err.message : String(err)}`);
          },
        ),
      );
    };
    if (ratePerSecond === undefined) await forEachLimited(n, inFlight, enqueueOne);
    else await Promise.all(Array.from({ length: n }, (_, i) => paced(i)));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.all(completions).then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeout * 1000))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      giveUp.abort();
      problems.push(
        `${tag}: gave up ${timeout} s after the last enqueue with ${n - completed} of ${n} jobs not completed`,
      );
    }
  } finally {
    stopProgress();
  }
  const serverCpuAfter = env.serverCpuMs();

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
  if (unexpected.size > 0) {
    problems.push(`${tag}: ${unexpected.size} noop activities started that this run did not enqueue`);
  }

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
      startP99Ms: percentile(startLatency, 99) ?? Number.NaN,
      endToEndP50Ms: percentile(endToEnd, 50) ?? Number.NaN,
      endToEndP95Ms: percentile(endToEnd, 95) ?? Number.NaN,
      endToEndP99Ms: percentile(endToEnd, 99) ?? Number.NaN,
      serverCpuPerJobMs:
        serverCpuBefore === undefined || serverCpuAfter === undefined || completed === 0
          ? Number.NaN
          : (serverCpuAfter - serverCpuBefore) / completed,
    },
  };
}

/** Commander parser for `--variants`: a comma-separated, non-empty subset of VARIANTS. */
function parseVariants(value: string): VariantName[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((s) => !(VARIANTS as readonly string[]).includes(s));
  if (unknown.length > 0) throw new InvalidArgumentError(`Unknown: ${unknown.join(', ')}; use ${VARIANTS.join(', ')}.`);
  if (names.length === 0) throw new InvalidArgumentError('Name at least one variant.');
  return names as VariantName[];
}

/** Commander parser for options where 0 means none. */
function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('Not a non-negative integer.');
  return n;
}

/** Commander parser for `--rate`: jobs per second (0: no open-loop run), or auto. */
function parseRate(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('Not a rate in jobs/s (or auto).');
  return n;
}
