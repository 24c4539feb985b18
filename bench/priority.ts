import type { Command } from 'commander';
import type { temporal } from '@temporalio/proto';
import type { JobClient } from '../src/client/client';
import { processPayment, updateSearchIndex } from '../test/jobs';
import { formatDuration } from '../src/format';
import { percentile } from '../src/percentile';
import { forEachLimited, positiveInt, type Scenario } from './harness';

interface PriorityOptions {
  low: number;
  critical: number;
  criticalConcurrency: number;
  lowConcurrency: number;
}

/**
 * The priority guarantee, measured: critical enqueue→start latency with idle queues, then again while a flood of low
 * jobs drains, in the same run. "Start" is the payment activity's start as the server recorded it in the history.
 */
export const priority: Scenario<PriorityOptions> = {
  name: 'priority',
  description: 'critical start latency idle vs under a flood of low jobs, and the low queue throughput',
  addOptions: (command: Command) =>
    command
      .option('--low <n>', 'low jobs in the flood', positiveInt, 10_000)
      .option('--critical <n>', 'critical jobs per phase', positiveInt, 200)
      .option('--critical-concurrency <n>', 'worker slots on the critical queue', positiveInt, 10)
      .option('--low-concurrency <n>', 'worker slots on the low queue', positiveInt, 10),
  queues: (o) => [
    { queue: 'critical', concurrency: o.criticalConcurrency },
    { queue: 'low', concurrency: o.lowConcurrency },
  ],

  async run(env, options) {
    const { db } = env.database;
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const now = new Date().toISOString();
    await db.insertInto('users').values({ id: 1, email: 'u1@example.com', name: 'User 1', created_at: now }).execute();
    for (let id = 1; id <= options.critical * 2; id++) {
      await db
        .insertInto('payments')
        .values({ id, user_id: 1, amount_cents: 1000 + id, currency: 'EUR', created_at: now })
        .execute();
    }

    log(`Idle: ${options.critical} critical payments…`);
    const { latencies: idle, waits: idleWaits } = await criticalLatencies(env.client, 1, options.critical);

    log(`Flood: ${options.low} low jobs, then ${options.critical} critical payments while they drain…`);
    const floodStart = Date.now();
    await forEachLimited(options.low, 50, async (i) => {
      await env.client.enqueue(updateSearchIndex, { recordType: 'user', recordId: i + 1 });
    });
    const { latencies: flood, waits: floodWaits } = await criticalLatencies(
      env.client,
      options.critical + 1,
      options.critical,
    );
    const lowDoneDuringFlood = await countClosed(env.client, 'updateSearchIndexWorkflow');
    const lowMs = Date.now() - floodStart;
    // Visibility counts rather than 10,000 concurrent result() long-polls, which exhaust the client's channel.
    let lowDone = lowDoneDuringFlood;
    const stopProgress = env.progress(() => `low queue draining: ${lowDone}/${options.low} done`);
    while (lowDone < options.low) {
      await new Promise((r) => setTimeout(r, 2000));
      lowDone = await countClosed(env.client, 'updateSearchIndexWorkflow');
    }
    stopProgress();
    const lowJobsPerSecond = options.low / ((Date.now() - floodStart) / 1000);

    // Nearest rank, as in `jobctl stats`. Each phase measured every payment (or threw), so none is undefined; NaN
    // would stand for "no values" (null in the JSON line).
    const idleP50 = percentile(idle, 50) ?? Number.NaN;
    const idleP95 = percentile(idle, 95) ?? Number.NaN;
    const floodP50 = percentile(flood, 50) ?? Number.NaN;
    const floodP95 = percentile(flood, 95) ?? Number.NaN;
    const floodP99 = percentile(flood, 99) ?? Number.NaN;
    const ratio = floodP95 / idleP95;
    const idleMean = meanWaits(idleWaits);
    const floodMean = meanWaits(floodWaits);
    const waitKeys = Object.keys(WAIT_LABELS) as Array<keyof Waits>;
    return {
      lines: [
        `priority: critical enqueue→start, ${options.critical} payments per phase`,
        `  idle    p50 ${formatDuration(idleP50)}   p95 ${formatDuration(idleP95)}`,
        `  flood   p50 ${formatDuration(floodP50)}   p95 ${formatDuration(floodP95)}` +
          `   p99 ${formatDuration(floodP99)}   (${ratio.toFixed(2)}× idle p95; goal ≤ 1.5×)`,
        `  low queue: ${options.low} jobs at ${lowJobsPerSecond.toFixed(1)} jobs/s` +
          ` (${lowDoneDuringFlood} done ${formatDuration(lowMs)} in, when the critical phase ended)`,
        `  what a critical job waited for, mean ms (idle → flood), from its history:`,
        ...waitKeys.map(
          (k) =>
            `    ${WAIT_LABELS[k].padEnd(34)} ${idleMean[k].toFixed(1).padStart(6)} → ${floodMean[k].toFixed(1).padStart(6)}`,
        ),
      ],
      metrics: {
        idleP50Ms: idleP50,
        idleP95Ms: idleP95,
        floodP50Ms: floodP50,
        floodP95Ms: floodP95,
        floodP99Ms: floodP99,
        lowJobsPerSecond,
        ...Object.fromEntries(waitKeys.map((k) => [`idle_${k}Ms`, idleMean[k]])),
        ...Object.fromEntries(waitKeys.map((k) => [`flood_${k}Ms`, floodMean[k]])),
      },
      problems:
        ratio > 1.5 ? [`critical p95 under the flood is ${ratio.toFixed(2)}× its idle p95 ` + `(goal ≤ 1.5×)`] : [],
    };
  },
};

/** Where a critical job's enqueue → activity start went, in ms, read from its history's event times. */
interface Waits {
  /** Enqueue call until the server recorded the start. */
  startCall: number;
  /** First workflow task scheduled until a worker picked it up: the history service's queue, matching, polling. */
  workflowTaskDispatch: number;
  /** The worker running that workflow task. */
  workflowTaskRun: number;
  /** Activity scheduled until a worker started it (0 when eagerly handed back with the workflow task's answer). */
  activityDispatch: number;
  /** Whatever lies between those (server bookkeeping, further workflow tasks). */
  other: number;
}
const WAIT_LABELS: Record<keyof Waits, string> = {
  startCall: 'client → server: start call',
  workflowTaskDispatch: 'server → worker: workflow task',
  workflowTaskRun: 'worker: workflow task',
  activityDispatch: 'server → worker: activity task',
  other: 'other',
};

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const eventMs = (e: HistoryEvent | undefined) =>
  e ? Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6 : Number.NaN;

/**
 * Enqueues payments firstId..firstId+count-1, 5 at a time, and returns each one's enqueue→activity-start latency and
 * where it went.
 */
async function criticalLatencies(
  client: JobClient,
  firstId: number,
  count: number,
): Promise<{ latencies: number[]; waits: Waits[] }> {
  const latencies: number[] = [];
  const waits: Waits[] = [];
  await forEachLimited(count, 5, async (i) => {
    const enqueuedAt = Date.now();
    const { workflowId } = await client.enqueue(processPayment, { paymentId: firstId + i });
    const handle = client.temporal.workflow.getHandle(workflowId);
    await handle.result();
    const events = (await handle.fetchHistory()).events ?? [];
    const started = events.find((e) => e.activityTaskStartedEventAttributes)!;
    const total = eventMs(started) - enqueuedAt;
    latencies.push(total);
    const scheduled = events.find(
      (e) => Number(e.eventId) === Number(started.activityTaskStartedEventAttributes!.scheduledEventId),
    );
    const wft = (pick: (e: HistoryEvent) => unknown) => events.find((e) => pick(e));
    const w = {
      startCall: eventMs(events[0]) - enqueuedAt,
      workflowTaskDispatch:
        eventMs(wft((e) => e.workflowTaskStartedEventAttributes)) -
        eventMs(wft((e) => e.workflowTaskScheduledEventAttributes)),
      workflowTaskRun:
        eventMs(wft((e) => e.workflowTaskCompletedEventAttributes)) -
        eventMs(wft((e) => e.workflowTaskStartedEventAttributes)),
      activityDispatch: eventMs(started) - eventMs(scheduled),
    };
    waits.push({ ...w, other: total - w.startCall - w.workflowTaskDispatch - w.workflowTaskRun - w.activityDispatch });
  });
  return { latencies, waits };
}

/** Mean of each wait over a phase's jobs. */
function meanWaits(waits: Waits[]): Waits {
  const keys = Object.keys(WAIT_LABELS) as Array<keyof Waits>;
  return Object.fromEntries(
    keys.map((k) => [k, waits.reduce((sum, w) => sum + w[k], 0) / Math.max(1, waits.length)]),
  ) as unknown as Waits;
}

async function countClosed(client: JobClient, workflowType: string): Promise<number> {
  const query =
    `WorkflowType = '${workflowType}' AND TaskQueue = '${client.taskQueuePrefix}-low'` +
    ` AND ExecutionStatus = 'Completed'`;
  return (await client.temporal.workflow.count(query)).count;
}
