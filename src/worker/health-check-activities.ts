import type { Logger } from 'pino';
import type { JobClient } from '../client/client';
import type { QueueAlertSettings } from '../config';
import type { LibraryDatabase as Database, QueueIncidentsTable } from '../db/schema';
import { DEFAULT_ALERT_FAILURE_RATE } from '../sandbox/job-definition';
import { findJob, jobs as declaredJobs } from '../sandbox/jobs';
import { jobStats } from '../client/stats';
import { describeTaskQueues, monitoredTaskQueues, type TaskQueueState } from './task-queue-health';

export interface HealthCheckDeps {
  db: Database;
  /** Reads the failure rates from Temporal's visibility, scoped to this deployment's queues. */
  jobs?: JobClient;
  alertWebhookUrl?: string;
  alertLogger?: Logger;
  /**
   * The queue backlog and worker alerts (`settings.queueAlerts`, with `settings.rateLimits` for the rate-limited
   * queues' names); off when absent.
   */
  queueAlerts?: QueueAlertSettings & { rateLimits?: Readonly<Record<string, number>> };
}

export interface AlertMessage {
  kind: 'alert' | 'recovered';
  job: string;
  failureRate: number;
  threshold: number;
  completed: number;
  failed: number;
  windowMinutes: number;
  text: string;
}

/** A task queue alert or its recovery, as the webhook and the log receive it. */
export interface QueueAlertMessage {
  kind: 'alert' | 'recovered';
  /** `no_worker`: no worker polled the queue lately; `backlog_age`: its oldest waiting task is older than the threshold. */
  alert: QueueIncidentsTable['kind'];
  taskQueue: string;
  /** The declared jobs whose runs wait in the queue. */
  jobs: string[];
  backlog: number;
  backlogAgeSeconds: number;
  /** ISO time of the latest poll Temporal remembers, or null. */
  lastPollAt: string | null;
  thresholdSeconds: number;
  text: string;
}

/** `45 s`, `5 min`, `2.5 h`. */
function formatSeconds(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Number((seconds / 60).toFixed(1))} min`;
  return `${Number((seconds / 3600).toFixed(1))} h`;
}

export function createHealthCheckActivities({ db, jobs, alertWebhookUrl, alertLogger, queueAlerts }: HealthCheckDeps) {
  /** To the log, always; to the webhook when configured. A delivery failure fails the attempt: Temporal retries it. */
  async function deliver(message: AlertMessage | QueueAlertMessage): Promise<void> {
    alertLogger?.[message.kind === 'alert' ? 'error' : 'info']({
      event: message.kind === 'alert' ? 'alert_fired' : 'alert_recovered',
      ...message,
    });
    if (!alertWebhookUrl) return;
    const response = await fetch(alertWebhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`alert webhook answered HTTP ${response.status}`);
  }

  return {
    /**
     * Opens an incident for each job over its threshold and closes those back under it, notifying each change once.
     * Incident state is in the database, so a retried attempt resends only what was not yet delivered.
     */
    async evaluateAlerts(windowMinutes: number): Promise<{ fired: string[]; recovered: string[] }> {
      if (!jobs) throw new Error('evaluateAlerts needs a JobClient (ActivityDeps.jobs)');
      const now = new Date();
      const stats = await jobStats(jobs, { since: new Date(now.getTime() - windowMinutes * 60_000) });
      const open = await db.selectFrom('alert_incidents').selectAll().where('closed_at', 'is', null).execute();
      const fired: string[] = [];
      const recovered: string[] = [];

      for (const s of stats) {
        const threshold = findJob(s.job)?.alertFailureRate ?? DEFAULT_ALERT_FAILURE_RATE;
        const incident = open.find((i) => i.job === s.job);
        if (s.failureRate > threshold && !incident) {
          await db
            .insertInto('alert_incidents')
            .values({ job: s.job, opened_at: now.toISOString(), failure_rate: s.failureRate })
            .execute();
          fired.push(s.job);
        } else if (s.failureRate <= threshold && incident) {
          await db
            .updateTable('alert_incidents')
            .set({ closed_at: now.toISOString() })
            .where('id', '=', incident.id)
            .execute();
          recovered.push(s.job);
        }
      }
      // Jobs with an open incident and no runs at all in the window have no failures left: they recovered too.
      for (const incident of open) {
        if (!stats.some((s) => s.job === incident.job)) {
          await db
            .updateTable('alert_incidents')
            .set({ closed_at: now.toISOString() })
            .where('id', '=', incident.id)
            .execute();
          recovered.push(incident.job);
        }
      }

      const queues = await updateQueueIncidents(now);
      fired.push(...queues.fired);
      recovered.push(...queues.recovered);

      // Deliver everything not yet delivered (this attempt's changes, or an earlier attempt's that failed to send).
      const statsOf = (job: string) =>
        stats.find((s) => s.job === job) ?? { job, completed: 0, failed: 0, failureRate: 0 };
      const pending = await db
        .selectFrom('alert_incidents')
        .selectAll()
        .where((eb) =>
          eb.or([
            eb('notified_at', 'is', null),
            eb.and([eb('closed_at', 'is not', null), eb('recovery_notified_at', 'is', null)]),
          ]),
        )
        .execute();
      for (const incident of pending) {
        const s = statsOf(incident.job);
        const threshold = findJob(incident.job)?.alertFailureRate ?? DEFAULT_ALERT_FAILURE_RATE;
        const figures = {
          job: incident.job,
          failureRate: s.failureRate,
          threshold,
          completed: s.completed,
          failed: s.failed,
          windowMinutes,
        };
        const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
        if (!incident.notified_at) {
          await deliver({
            kind: 'alert',
            ...figures,
            failureRate: Number(incident.failure_rate),
            text:
              `${incident.job}: failure rate ${pct(Number(incident.failure_rate))} ` +
              `over the last ${windowMinutes} min is above ${pct(threshold)}`,
          });
          await db
            .updateTable('alert_incidents')
            .set({ notified_at: new Date().toISOString() })
            .where('id', '=', incident.id)
            .execute();
        }
        if (incident.closed_at && !incident.recovery_notified_at) {
          await deliver({
            kind: 'recovered',
            ...figures,
            text:
              `${incident.job} recovered: failure rate ${pct(s.failureRate)} ` +
              `over the last ${windowMinutes} min is back within ${pct(threshold)}`,
          });
          await db
            .updateTable('alert_incidents')
            .set({ recovery_notified_at: new Date().toISOString() })
            .where('id', '=', incident.id)
            .execute();
        }
      }
      await deliverQueueIncidents(queues.states);
      return { fired, recovered };
    },
  };

  /**
   * Opens and closes the task queue incidents: "no worker polling <queue>" and "backlog of <queue> older than
   * <threshold>", for the queues expected to have workers (`monitoredTaskQueues`). Returns the incidents' subjects
   * (the alert texts' first words) and the queues as described.
   */
  async function updateQueueIncidents(now: Date): Promise<{
    fired: string[];
    recovered: string[];
    states: TaskQueueState[];
  }> {
    if (!queueAlerts || !jobs) return { fired: [], recovered: [], states: [] };
    const prefix = jobs.taskQueuePrefix;
    const monitored = monitoredTaskQueues(prefix, declaredJobs, {
      only: queueAlerts.queues,
      rateLimits: queueAlerts.rateLimits,
    });
    const states = await describeTaskQueues(jobs.temporal, monitored, {
      pollerFreshMs: queueAlerts.noWorkerAfterMs,
      now,
    });
    const open = await db.selectFrom('queue_incidents').selectAll().where('closed_at', 'is', null).execute();
    const fired: string[] = [];
    const recovered: string[] = [];
    const backlogThreshold = queueAlerts.backlogAgeMs / 1000;
    const noWorkerThreshold = queueAlerts.noWorkerAfterMs / 1000;
    const close = async (incident: (typeof open)[number]) => {
      await db
        .updateTable('queue_incidents')
        .set({ closed_at: now.toISOString() })
        .where('id', '=', incident.id)
        .execute();
      recovered.push(queueIncidentSubject(incident.kind, incident.task_queue, incident.threshold_seconds));
    };
    for (const state of states) {
      const checks = [
        {
          kind: 'no_worker' as const,
          failing: !state.hasWorker,
          value: state.lastPollAt ? (now.getTime() - state.lastPollAt.getTime()) / 1000 : null,
          threshold: noWorkerThreshold,
        },
        {
          kind: 'backlog_age' as const,
          failing: state.backlogAgeSeconds > backlogThreshold,
          value: state.backlogAgeSeconds,
          threshold: backlogThreshold,
        },
      ];
      for (const check of checks) {
        const incident = open.find((i) => i.kind === check.kind && i.task_queue === state.taskQueue);
        if (check.failing && !incident) {
          const inserted = await db
            .insertInto('queue_incidents')
            .values({
              kind: check.kind,
              task_queue: state.taskQueue,
              opened_at: now.toISOString(),
              value_seconds: check.value,
              threshold_seconds: check.threshold,
            })
            .onConflict((oc) => oc.doNothing()) // another check opened it meanwhile
            .executeTakeFirst();
          if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0)
            fired.push(queueIncidentSubject(check.kind, state.taskQueue, check.threshold));
        } else if (!check.failing && incident) {
          await close(incident);
        }
      }
    }
    // A queue of this deployment no longer monitored (JOBS_ALERT_QUEUES changed, a job moved) has nothing to alert.
    for (const incident of open) {
      if (incident.task_queue.startsWith(`${prefix}-`) && !states.some((s) => s.taskQueue === incident.task_queue))
        await close(incident);
    }
    return { fired, recovered, states };
  }

  /** Delivers the queue incidents' alerts and recoveries not yet delivered, each once. */
  async function deliverQueueIncidents(states: TaskQueueState[]): Promise<void> {
    if (!queueAlerts || !jobs) return;
    const prefix = `${jobs.taskQueuePrefix}-`;
    const pending = await db
      .selectFrom('queue_incidents')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb('notified_at', 'is', null),
          eb.and([eb('closed_at', 'is not', null), eb('recovery_notified_at', 'is', null)]),
        ]),
      )
      .execute();
    // This deployment's queues only: deployments with other prefixes may share the database.
    for (const incident of pending.filter((i) => i.task_queue.startsWith(prefix))) {
      const state = states.find((s) => s.taskQueue === incident.task_queue);
      const figures = {
        alert: incident.kind,
        taskQueue: incident.task_queue,
        jobs: state?.jobs ?? [],
        backlog: state?.backlog ?? 0,
        backlogAgeSeconds: state?.backlogAgeSeconds ?? 0,
        lastPollAt: state?.lastPollAt?.toISOString() ?? null,
        thresholdSeconds: incident.threshold_seconds,
      };
      const subject = queueIncidentSubject(incident.kind, incident.task_queue, incident.threshold_seconds);
      const jobsPart = figures.jobs.length > 0 ? ` (${figures.jobs.join(', ')})` : '';
      if (!incident.notified_at) {
        const value = incident.value_seconds === null ? null : Number(incident.value_seconds);
        const detail =
          incident.kind === 'no_worker'
            ? value === null
              ? 'no poll seen'
              : `last poll ${formatSeconds(value)} ago`
            : `oldest task waiting ${formatSeconds(value ?? 0)}`;
        await deliver({
          kind: 'alert',
          ...figures,
          text: `${subject}${jobsPart}: ${detail}, ${figures.backlog} task(s) waiting`,
        });
        await db
          .updateTable('queue_incidents')
          .set({ notified_at: new Date().toISOString() })
          .where('id', '=', incident.id)
          .execute();
      }
      if (incident.closed_at && !incident.recovery_notified_at) {
        const text =
          incident.kind === 'no_worker'
            ? `${incident.task_queue} recovered: a worker polls it again`
            : `${incident.task_queue} recovered: oldest task waiting ${formatSeconds(figures.backlogAgeSeconds)}, ` +
              `within ${formatSeconds(incident.threshold_seconds)}`;
        await deliver({ kind: 'recovered', ...figures, text });
        await db
          .updateTable('queue_incidents')
          .set({ recovery_notified_at: new Date().toISOString() })
          .where('id', '=', incident.id)
          .execute();
      }
    }
  }
}

/** `no worker polling jobs-low`, `backlog of jobs-low older than 5 min`: what an incident is about. */
export function queueIncidentSubject(kind: QueueIncidentsTable['kind'], taskQueue: string, thresholdSeconds: number) {
  return kind === 'no_worker'
    ? `no worker polling ${taskQueue}`
    : `backlog of ${taskQueue} older than ${formatSeconds(thresholdSeconds)}`;
}
