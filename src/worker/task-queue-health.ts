import type { Client } from '@temporalio/client';
import type { MetricMeter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { DeclaredJob } from '../sandbox/job-definition';
import { PRIORITIES, rateLimitQueueName, taskQueueName, type Priority } from '../sandbox/queues';
import { rateLimitsInForce } from './rate-limits';

/**
 * Task queue health (README "Queue backlog and worker alerts"): each task queue's backlog and whether a worker polls
 * it, read from Temporal's DescribeTaskQueue (with stats). The health check alerts on it; worker processes serving
 * metrics export it as gauges.
 */

export type TaskQueueType = 'workflow' | 'activity';

/** Gauge names on a worker's Prometheus endpoint (labels `task_queue`, `task_queue_type`). */
export const TASK_QUEUE_METRICS = {
  backlog: 'durable_jobs_task_queue_backlog',
  backlogAge: 'durable_jobs_task_queue_backlog_age_seconds',
  pollers: 'durable_jobs_task_queue_pollers',
} as const;

/** A task queue of this deployment that must have workers: the queue's jobs never run without one. */
export interface MonitoredTaskQueue {
  taskQueue: string;
  /** Task types Temporal keeps apart on it: a priority queue has both; a rate-limited queue, activities only. */
  types: TaskQueueType[];
  /** The declared jobs whose runs wait in it. */
  jobs: string[];
}

/**
 * The task queues expected to have workers: the priority queues the declared jobs use (those in `only`, when given),
 * and the rate-limited activity queues of those jobs (served by the same workers). A priority queue no declared job
 * uses has no work and needs no worker, so it is not monitored.
 */
export function monitoredTaskQueues(
  prefix: string,
  jobs: readonly DeclaredJob<any>[],
  options: { only?: readonly Priority[]; rateLimits?: Readonly<Record<string, number>> } = {},
): MonitoredTaskQueue[] {
  const used = (p: Priority) => jobs.filter((j) => j.queue === p).map((j) => j.name);
  const priorities = PRIORITIES.filter((p) => used(p).length > 0 && (!options.only || options.only.includes(p)));
  const limited = [...rateLimitsInForce(jobs, options.rateLimits).values()].filter((l) =>
    l.queues.some((q) => priorities.includes(q)),
  );
  return [
    ...priorities.map((p) => ({
      taskQueue: taskQueueName(prefix, p),
      types: ['workflow', 'activity'] as TaskQueueType[],
      jobs: used(p),
    })),
    ...limited.map((l) => ({
      taskQueue: rateLimitQueueName(prefix, l.activity),
      types: ['activity'] as TaskQueueType[],
      jobs: l.jobs,
    })),
  ];
}

/** One task type of one task queue, as Temporal describes it now. */
export interface TaskQueueTypeState {
  type: TaskQueueType;
  /** Approximate number of tasks waiting. */
  backlog: number;
  /** Approximate age of the oldest waiting task, in seconds; 0 without a backlog. */
  backlogAgeSeconds: number;
  /** Pollers seen within `pollerFreshMs`. */
  pollers: number;
  /** When a worker last polled this type, if Temporal still remembers one. */
  lastPollAt?: Date;
  /** Tasks per second handed to workers over the last 30 s. */
  dispatchRate: number;
}

export interface TaskQueueState extends MonitoredTaskQueue {
  byType: TaskQueueTypeState[];
  /** Summed over the types. */
  backlog: number;
  /** The oldest over the types, in seconds. */
  backlogAgeSeconds: number;
  /**
   * Whether some worker serves the queue: a poll of any type within `pollerFreshMs`, or tasks handed out in the last
   * 30 s (a worker whose slots are all busy does not poll, but it takes tasks as slots free).
   */
  hasWorker: boolean;
  /** The latest poll of any type Temporal remembers. */
  lastPollAt?: Date;
}

const TYPE_ENUM: Record<TaskQueueType, temporal.api.enums.v1.TaskQueueType> = {
  workflow: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  activity: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
};

function timestampMs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number | undefined {
  if (!t || t.seconds === undefined || t.seconds === null) return undefined;
  return Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/**
 * Describes each queue's task types (one DescribeTaskQueue with stats per type). A poller counts while its last poll
 * is under `pollerFreshMs` old: Temporal keeps listing a stopped worker's pollers for minutes (with their last access
 * time), and a live idle worker re-polls every long-poll interval (a minute unless the server says otherwise).
 */
export async function describeTaskQueues(
  client: Client,
  queues: readonly MonitoredTaskQueue[],
  options: { pollerFreshMs: number; now?: Date },
): Promise<TaskQueueState[]> {
  const now = (options.now ?? new Date()).getTime();
  return Promise.all(
    queues.map(async (queue) => {
      const byType = await Promise.all(
        queue.types.map(async (type): Promise<TaskQueueTypeState> => {
          const response = await client.workflowService.describeTaskQueue({
            namespace: client.options.namespace,
            taskQueue: { name: queue.taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
            taskQueueType: TYPE_ENUM[type],
            reportStats: true,
          });
          const polls = response.pollers
            .map((p) => timestampMs(p.lastAccessTime))
            .filter((t): t is number => t !== undefined);
          const last = polls.length > 0 ? Math.max(...polls) : undefined;
          const stats = response.stats;
          const backlog = Number(stats?.approximateBacklogCount ?? 0);
          const age = stats?.approximateBacklogAge;
          return {
            type,
            backlog,
            backlogAgeSeconds: backlog > 0 && age ? Number(age.seconds ?? 0) + (age.nanos ?? 0) / 1e9 : 0,
            pollers: polls.filter((t) => now - t < options.pollerFreshMs).length,
            lastPollAt: last === undefined ? undefined : new Date(last),
            dispatchRate: stats?.tasksDispatchRate ?? 0,
          };
        }),
      );
      const lastPoll = Math.max(...byType.map((t) => t.lastPollAt?.getTime() ?? -Infinity));
      return {
        ...queue,
        byType,
        backlog: byType.reduce((sum, t) => sum + t.backlog, 0),
        backlogAgeSeconds: Math.max(...byType.map((t) => t.backlogAgeSeconds)),
        hasWorker: byType.some((t) => t.pollers > 0 || t.dispatchRate > 0),
        lastPollAt: Number.isFinite(lastPoll) ? new Date(lastPoll) : undefined,
      };
    }),
  );
}

/** Sets the three task-queue gauges from `states`, one series per queue and task type. */
export function recordTaskQueueGauges(meter: MetricMeter, states: readonly TaskQueueState[]): void {
  const backlog = meter.createGauge(TASK_QUEUE_METRICS.backlog, 'int', '', 'Approximate tasks waiting in the queue');
  const age = meter.createGauge(
    TASK_QUEUE_METRICS.backlogAge,
    'float',
    '',
    'Approximate age of the oldest waiting task, seconds',
  );
  const pollers = meter.createGauge(TASK_QUEUE_METRICS.pollers, 'int', '', 'Workers that polled the queue recently');
  for (const state of states) {
    for (const t of state.byType) {
      const tags = { task_queue: state.taskQueue, task_queue_type: t.type };
      backlog.set(t.backlog, tags);
      age.set(t.backlogAgeSeconds, tags);
      pollers.set(t.pollers, tags);
    }
  }
}

/**
 * Samples the monitored queues every `intervalMs` (and once at once) into the gauges, until `stop()`. A failed sample
 * is reported through `onError` and the next one tried; the gauges keep their last values meanwhile.
 */
export function startTaskQueueMetrics(options: {
  client: Client;
  meter: MetricMeter;
  queues: readonly MonitoredTaskQueue[];
  pollerFreshMs: number;
  intervalMs: number;
  onError?: (err: unknown) => void;
}): { stop(): void; sampled: Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const sample = async () => {
    try {
      const states = await describeTaskQueues(options.client, options.queues, { pollerFreshMs: options.pollerFreshMs });
      if (!stopped) recordTaskQueueGauges(options.meter, states);
    } catch (err) {
      if (!stopped) options.onError?.(err);
    }
  };
  const loop = async () => {
    await sample();
    if (!stopped) timer = setTimeout(() => void loop(), options.intervalMs).unref();
  };
  const sampled = loop();
  return {
    sampled,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
