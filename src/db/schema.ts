import type { Generated, Kysely } from 'kysely';

/** The library's own tables, in the application's database: the health check's alert incidents. */
/** A job whose failure rate crossed its threshold: opened once, closed once, each notified once. */
export interface AlertIncidentsTable {
  id: Generated<number>;
  job: string;
  opened_at: string;
  failure_rate: number;
  notified_at: string | null;
  closed_at: string | null;
  recovery_notified_at: string | null;
}

/**
 * A task queue's alert (README "Queue backlog and worker alerts"): no worker polling it, or its oldest waiting task
 * older than the threshold. One open incident per kind and queue at most; opened once, closed once, each notified once.
 */
export interface QueueIncidentsTable {
  id: Generated<number>;
  kind: 'no_worker' | 'backlog_age';
  task_queue: string;
  opened_at: string;
  /** What crossed the threshold when it opened: seconds since the last poll (null: never polled), or backlog age. */
  value_seconds: number | null;
  threshold_seconds: number;
  notified_at: string | null;
  closed_at: string | null;
  recovery_notified_at: string | null;
}

export interface LibrarySchema {
  alert_incidents: AlertIncidentsTable;
  queue_incidents: QueueIncidentsTable;
}

/** The application database as the library sees it: its own tables only. */
export type LibraryDatabase = Kysely<LibrarySchema>;
