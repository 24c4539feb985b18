import { performance } from 'node:perf_hooks';
import { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { invoiceGeneration, noop } from '../test/jobs';
import type { DeclaredJob } from '../src/sandbox/job-definition';
import { seedDemoData } from '../activities/services/seed';
import { formatDuration } from '../src/format';
import { percentile } from '../src/percentile';
import { bareLocalWorkflow, bareRemoteWorkflow, startBareSdkWorker } from './bare-sdk';
import { positiveInt, type BenchEnvironment, type Scenario } from './harness';

export interface LatencyOptions {
  samples: number;
  warmup: number;
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/**
 * Where an idle job's time goes, phase by phase, named by the event that ends it. "dispatch" is the server handing a
 * task to a waiting poller (its queue readers, matching); "worker" is our code and the SDK's; the rest is bookkeeping.
 */
const PHASES = [
  [
    'workflowTaskDispatch',
    'server → worker: workflow task',
    (e: HistoryEvent) => !!e.workflowTaskStartedEventAttributes,
  ],
  ['workflowTaskRun', 'worker: workflow task', (e: HistoryEvent) => !!e.workflowTaskCompletedEventAttributes],
  ['activityDispatch', 'server → worker: activity task', (e: HistoryEvent) => !!e.activityTaskStartedEventAttributes],
  ['activityRun', 'worker: activity', (e: HistoryEvent) => !!e.activityTaskCompletedEventAttributes],
] as const;
const OTHER = ['serverBookkeeping', 'server: scheduling and closing'] as const;

/** ms since the epoch of an event. */
function eventMs(e: HistoryEvent): number {
  return Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
}

/** Each phase's share of one run's start → close, from its history: consecutive events, named by the later one. */
function breakdown(events: HistoryEvent[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries([...PHASES.map(([key]) => [key, 0]), [OTHER[0], 0]]);
  for (let i = 1; i < events.length; i++) {
    const gap = eventMs(events[i]!) - eventMs(events[i - 1]!);
    const phase = PHASES.find(([, , ends]) => ends(events[i]!));
    const key = phase ? phase[0] : OTHER[0];
    out[key] = (out[key] ?? 0) + gap;
  }
  return out;
}

/**
 * Idle latency: one job at a time, start → result, for the noop job (its one activity remote, then local), invoice
 * generation (one local activity) and the bare SDK's workflow (remote, local);
 * where the time goes, read from each run's history; and the CPU each job costs the dev server and this process
 * (worker and client). The figures an interactive user feels, with no queue in front of them.
 */
export const latency: Scenario<LatencyOptions> = {
  name: 'latency',
  description: 'Idle latency, one job at a time: start → result p50/p95, a breakdown from the history, CPU per job',
  addOptions: (command) =>
    command
      .option('--samples <n>', 'jobs measured per kind, one after another', positiveInt, 50)
      .option('--warmup <n>', 'jobs run first and not measured', positiveInt, 5),
  queues: (options) => [{ queue: 'default', concurrency: options.concurrency }],
  uninstrumented: true,

  async run(env, options) {
    await seedDemoData(env.database.db, options.samples + options.warmup);
    // The baseline, in the same run: the bare SDK's sample-style workflow with one no-op activity, remote and local.
    const bare = await startBareSdkWorker(env.settings, {
      taskQueue: `${env.settings.taskQueuePrefix}-bare`,
      concurrency: options.concurrency,
    });
    const temporal = new Client({ connection: env.client.temporal.connection, namespace: env.client.namespace });
    const startBare = (workflow: typeof bareRemoteWorkflow) => async (i: number) => {
      const workflowId = `latency-${env.runId}-${workflow.name}-${i}`;
      await temporal.workflow.start(workflow, { taskQueue: bare.taskQueue, workflowId, args: [workflowId] });
      return { workflowId, duplicate: false };
    };
    const ours =
      (job: DeclaredJob<any>, args: (i: number) => Record<string, unknown>, client = env.client) =>
      (i: number) =>
        client.enqueue(job, args(i));
    const kinds = [
      { key: 'noop', name: noop.name, start: ours(noop, (i) => ({ id: `latency-${env.runId}-${i}` })) },
      {
        key: 'noopLocal',
        name: `${noop.name}, local activity`,
        start: ours(noop, (i) => ({ id: `latency-${env.runId}-local-${i}`, local: true })),
      },
      {
        key: 'noopUninstrumented',
        name: `${noop.name} without instrumentation`,
        start: ours(noop, (i) => ({ id: `latency-${env.runId}-plain-${i}` }), env.plainClient),
      },
      { key: 'invoice', name: invoiceGeneration.name, start: ours(invoiceGeneration, (i) => ({ invoiceId: i + 1 })) },
      { key: 'bareRemote', name: 'bare SDK, remote activity', start: startBare(bareRemoteWorkflow) },
      { key: 'bareLocal', name: 'bare SDK, local activity', start: startBare(bareLocalWorkflow) },
    ];
    const lines: string[] = [];
    const metrics: Record<string, number> = {};
    const problems: string[] = [];
    try {
      for (const { key, name, start } of kinds) {
        const r = await measure(env, name, start, options);
        problems.push(...r.problems);
        Object.assign(metrics, {
          [`${key}P50Ms`]: r.p50,
          [`${key}P95Ms`]: r.p95,
          [`${key}ServerCpuPerJobMs`]: r.serverCpuPerJobMs ?? Number.NaN,
          [`${key}ProcessCpuPerJobMs`]: r.processCpuPerJobMs,
          ...Object.fromEntries(Object.entries(r.phases).map(([phase, ms]) => [`${key}_${phase}Ms`, ms])),
        });
        const cpu =
          `CPU per job: dev server ${r.serverCpuPerJobMs?.toFixed(1) ?? '?'} ms, ` +
          `this process (worker + client) ${r.processCpuPerJobMs.toFixed(1)} ms`;
        lines.push(
          `latency ${name}: start → result p50 ${formatDuration(r.p50)}, p95 ${formatDuration(r.p95)} ` +
            `(${options.samples} jobs one at a time); ${cpu}`,
          `  mean per job, from the histories (start → close ${r.historyMs.toFixed(1)} ms; the rest of the ` +
            `${r.mean.toFixed(1)} ms is the client's start call and result poll):`,
          ...[...PHASES.map(([k, label]) => [k, label] as const), OTHER].map(
            ([k, label]) => `    ${label.padEnd(34)} ${r.phases[k]!.toFixed(1).padStart(6)} ms`,
          ),
        );
      }
    } finally {
      await bare.stop();
    }
    return { lines, metrics, problems };
  },
};

async function measure(
  env: BenchEnvironment,
  name: string,
  start: (i: number) => Promise<{ workflowId: string; duplicate: boolean }>,
  { samples, warmup }: LatencyOptions,
) {
  const problems: string[] = [];
  const run = async (i: number) => {
    const began = performance.now();
    const { workflowId, duplicate } = await start(i);
    await env.client.temporal.workflow.getHandle(workflowId).result();
    if (duplicate) problems.push(`${workflowId} attached to an existing run`);
    return { workflowId, ms: performance.now() - began };
  };
  for (let i = 0; i < warmup; i++) await run(samples + i);

  const serverBefore = env.serverCpuMs();
  const processBefore = process.cpuUsage();
  const stop = env.progress(() => `${name}: ${done.length}/${samples}`);
  const done: Array<{ workflowId: string; ms: number }> = [];
  try {
    for (let i = 0; i < samples; i++) done.push(await run(i));
  } finally {
    stop();
  }
  const serverAfter = env.serverCpuMs();
  const processUsed = process.cpuUsage(processBefore);

  // Read after the timed part, so fetching histories does not load the server while it is measured.
  const phases: Record<string, number> = {};
  let historyMs = 0;
  for (const { workflowId } of done) {
    const events = (await env.client.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    historyMs += eventMs(events[events.length - 1]!) - eventMs(events[0]!);
    for (const [phase, ms] of Object.entries(breakdown(events))) phases[phase] = (phases[phase] ?? 0) + ms;
  }
  const ms = done.map((d) => d.ms);
  return {
    problems,
    p50: percentile(ms, 50) ?? Number.NaN,
    p95: percentile(ms, 95) ?? Number.NaN,
    mean: ms.reduce((a, b) => a + b, 0) / ms.length,
    historyMs: historyMs / samples,
    phases: Object.fromEntries(Object.entries(phases).map(([phase, total]) => [phase, total / samples])),
    serverCpuPerJobMs:
      serverBefore === undefined || serverAfter === undefined ? undefined : (serverAfter - serverBefore) / samples,
    processCpuPerJobMs: (processUsed.user + processUsed.system) / 1000 / samples,
  };
}
