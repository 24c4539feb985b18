import type { Logger } from 'pino';
import type { JobClient } from '../src/client';
import type { Database } from '../src/db/schema';
import { DEFAULT_ALERT_FAILURE_RATE } from '../src/job-definition';
import { findJob } from '../src/jobs';
import { jobStats } from '../src/stats';

export interface HealthCheckDeps {
  db: Database;
  /** Reads the failure rates from Temporal's visibility, scoped to this deployment's queues. */
  jobs?: JobClient;
  alertWebhookUrl?: string;
  alertLogger?: Logger;
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

export function createHealthCheckActivities({ db, jobs, alertWebhookUrl, alertLogger }: HealthCheckDeps) {
  /** To the log, always; to the webhook when configured. A delivery failure fails the attempt: Temporal retries it. */
  async function deliver(message: AlertMessage): Promise<void> {
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
      return { fired, recovered };
    },
  };
}
